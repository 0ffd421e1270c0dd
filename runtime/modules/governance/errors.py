"""Governance module errors. Codes are the wire enum dcrm.v1.governance.Error; never renumber."""

from __future__ import annotations

from dcrm.runtime.errors import ErrorKind, ModuleErrors
from dcrm.v1 import governance_pb2

MODULE = "governance"
INDEX = 4


_define = ModuleErrors(MODULE, INDEX).define


NOT_VALIDATOR = _define(
    governance_pb2.NOT_VALIDATOR,
    "NotValidator",
    "the caller is not a validator of the set in force at the current height",
    ErrorKind.PERMISSION_DENIED,
)
BAD_CHANGE_KIND = _define(
    governance_pb2.BAD_CHANGE_KIND, "BadChangeKind", "the change is neither add nor remove", ErrorKind.INVALID_ARGUMENT
)
BAD_PUBLIC_KEY = _define(
    governance_pb2.BAD_PUBLIC_KEY,
    "BadPublicKey",
    "a public key is not a valid 33-byte compressed secp256k1 key",
    ErrorKind.INVALID_ARGUMENT,
)
BAD_REASON_HASH = _define(
    governance_pb2.BAD_REASON_HASH, "BadReasonHash", "a reason hash is not 32 bytes", ErrorKind.INVALID_ARGUMENT
)
BAD_EFFECTIVE_HEIGHT = _define(
    governance_pb2.BAD_EFFECTIVE_HEIGHT,
    "BadEffectiveHeight",
    "the effective height is not from current height + 2 to current height + max_lead",
)
ALREADY_MEMBER = _define(
    governance_pb2.ALREADY_MEMBER, "AlreadyMember", "the key to add is already a validator at the effective height"
)
NOT_MEMBER = _define(
    governance_pb2.NOT_MEMBER, "NotMember", "the key to remove is not a validator at the effective height"
)
LAST_VALIDATOR = _define(
    governance_pb2.LAST_VALIDATOR, "LastValidator", "the change would leave the chain without a validator"
)
SCHEDULE_CONFLICT = _define(
    governance_pb2.SCHEDULE_CONFLICT,
    "ScheduleConflict",
    "scheduling the change would invalidate a change already scheduled at a later height",
)
UNKNOWN_PROPOSAL = _define(
    governance_pb2.UNKNOWN_PROPOSAL, "UnknownProposal", "no open proposal has this id", ErrorKind.NOT_FOUND
)
ALREADY_APPROVED = _define(
    governance_pb2.ALREADY_APPROVED, "AlreadyApproved", "the caller has already approved the proposal"
)
NOT_PROPOSER = _define(
    governance_pb2.NOT_PROPOSER, "NotProposer", "only the proposer may withdraw a proposal", ErrorKind.PERMISSION_DENIED
)
TOO_MANY_PROPOSALS = _define(
    governance_pb2.TOO_MANY_PROPOSALS,
    "TooManyProposals",
    "the proposer already has the maximum number of open proposals",
)
BAD_PROPOSAL_ID = _define(
    governance_pb2.BAD_PROPOSAL_ID, "BadProposalId", "a proposal id is zero", ErrorKind.INVALID_ARGUMENT
)

ALL = (
    NOT_VALIDATOR,
    BAD_CHANGE_KIND,
    BAD_PUBLIC_KEY,
    BAD_REASON_HASH,
    BAD_EFFECTIVE_HEIGHT,
    ALREADY_MEMBER,
    NOT_MEMBER,
    LAST_VALIDATOR,
    SCHEDULE_CONFLICT,
    UNKNOWN_PROPOSAL,
    ALREADY_APPROVED,
    NOT_PROPOSER,
    TOO_MANY_PROPOSALS,
    BAD_PROPOSAL_ID,
)
