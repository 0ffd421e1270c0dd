"""Governance module calls: thin handlers that check, mutate and emit.

The schedule rules live in schedule.py, the proposal lifecycle in proposals.py.
"""

from __future__ import annotations

from typing import Any

import coincurve

from dcrm.runtime.module import CallContext, CallDef
from dcrm.runtime.modules.governance import errors
from dcrm.runtime.modules.governance.proposals import (
    MIN_LEAD,
    close_proposal,
    counted_approvals,
    get_open,
    open_count,
    put_new_proposal,
)
from dcrm.runtime.modules.governance.schedule import (
    accounts_of,
    apply_change,
    quorum_size,
    schedule_change,
    validators_at,
)
from dcrm.runtime.modules.governance.storage import PARAMS, PROPOSAL_COUNT, PROPOSALS, u64
from dcrm.runtime.state.kv import KVReader
from dcrm.v1 import governance_pb2

PUBLIC_KEY_LENGTH = 33
HASH_LENGTH = 32
MAX_OPEN_PROPOSALS = 16  # per proposer: bounds the state and the expiry sweep that open proposals cost
KINDS = (governance_pb2.CHANGE_KIND_ADD, governance_pb2.CHANGE_KIND_REMOVE)

# --- stateless argument checks (run at admission) ------------------------------------------------------


def is_public_key(key: bytes) -> bool:
    """A 33-byte compressed secp256k1 key that is a point of the curve (a validator must be able to sign)."""
    if len(key) != PUBLIC_KEY_LENGTH or key[0] not in (2, 3):
        return False
    try:
        coincurve.PublicKey(key)
    except ValueError:
        return False
    return True


def check_kind(kind: int) -> None:
    if kind not in KINDS:
        raise errors.BAD_CHANGE_KIND(f"kind must be CHANGE_KIND_ADD (1) or CHANGE_KIND_REMOVE (2), got {kind}")


def check_public_key(key: bytes) -> None:
    if not is_public_key(key):
        raise errors.BAD_PUBLIC_KEY(
            f"public_key must be a {PUBLIC_KEY_LENGTH}-byte compressed secp256k1 key (0x02 or 0x03, then a curve "
            f"point's x), got {len(key)} bytes: {key.hex()[:80]}"
        )


def check_reason_hash(value: bytes) -> None:
    if len(value) != HASH_LENGTH:
        raise errors.BAD_REASON_HASH(f"reason_hash must be {HASH_LENGTH} bytes (a sha256), got {len(value)}")


def check_propose(args: governance_pb2.Propose) -> None:
    check_kind(args.kind)
    check_public_key(args.public_key)
    check_reason_hash(args.reason_hash)


def check_proposal_id(args: governance_pb2.Approve | governance_pb2.Withdraw | governance_pb2.ProposalQuery) -> None:
    if args.proposal_id == 0:
        raise errors.BAD_PROPOSAL_ID("proposal_id must be at least 1")


# --- checks that read state ------------------------------------------------------------------------------


def check_validator(state: KVReader, account: bytes, height: int, action: str) -> set[bytes]:
    """The account ids of the set in force at `height`; raises NotValidator unless `account` is one."""
    validators = accounts_of(validators_at(state, height))
    if account not in validators:
        raise errors.NOT_VALIDATOR(
            f"account {account.hex()} is not a validator at height {height}; {action} needs one "
            "(sign with the validator key)"
        )
    return validators


def check_effective_height(state: KVReader, effective_height: int, height: int) -> None:
    params = PARAMS.get(state)
    if params is None:
        raise RuntimeError("state has no governance params: genesis was not built")
    lowest, highest = height + MIN_LEAD, height + params.max_lead
    if not lowest <= effective_height <= highest:
        raise errors.BAD_EFFECTIVE_HEIGHT(
            f"effective_height {effective_height} must be from {lowest} to {highest} "
            f"(current height {height} + {MIN_LEAD} to + max_lead {params.max_lead})"
        )


# --- calls ----------------------------------------------------------------------------------------------


def propose(ctx: CallContext, args: governance_pb2.Propose) -> None:
    height = ctx.block.height
    validators = check_validator(ctx.state, ctx.origin, height, "governance.propose")
    check_effective_height(ctx.state, args.effective_height, height)
    if open_count(ctx.state, ctx.origin) >= MAX_OPEN_PROPOSALS:
        raise errors.TOO_MANY_PROPOSALS(
            f"account {ctx.origin.hex()} already has {MAX_OPEN_PROPOSALS} open proposals; withdraw one first"
        )
    # Refuse early what cannot apply to the set scheduled at that height now; scheduling checks again.
    apply_change(validators_at(ctx.state, args.effective_height), args.kind, args.public_key, args.effective_height)
    proposal_id = (PROPOSAL_COUNT.get(ctx.state) or 0) + 1
    PROPOSAL_COUNT.put(ctx.state, proposal_id)
    proposal = governance_pb2.Proposal(
        proposal_id=proposal_id,
        kind=args.kind,
        public_key=args.public_key,
        effective_height=args.effective_height,
        reason_hash=args.reason_hash,
        proposer=ctx.origin,
        proposed_at=height,
        approvals=[ctx.origin],
    )
    ctx.emit(
        governance_pb2.ValidatorChangeProposed(
            proposal_id=proposal_id,
            kind=args.kind,
            public_key=args.public_key,
            effective_height=args.effective_height,
            reason_hash=args.reason_hash,
            proposer=ctx.origin,
            quorum=quorum_size(len(validators)),
        )
    )
    put_new_proposal(ctx.state, proposal)
    _schedule_if_quorum(ctx, proposal, validators)


def approve(ctx: CallContext, args: governance_pb2.Approve) -> None:
    validators = check_validator(ctx.state, ctx.origin, ctx.block.height, "governance.approve")
    proposal = get_open(ctx.state, args.proposal_id)
    if ctx.origin in proposal.approvals:
        raise errors.ALREADY_APPROVED(f"account {ctx.origin.hex()} has already approved proposal {args.proposal_id}")
    proposal.approvals.append(ctx.origin)
    PROPOSALS.put(ctx.state, u64(proposal.proposal_id), proposal)
    ctx.emit(
        governance_pb2.ValidatorChangeApproved(
            proposal_id=proposal.proposal_id,
            approver=ctx.origin,
            approvals=len(counted_approvals(proposal, validators)),
            quorum=quorum_size(len(validators)),
        )
    )
    _schedule_if_quorum(ctx, proposal, validators)


def withdraw(ctx: CallContext, args: governance_pb2.Withdraw) -> None:
    proposal = get_open(ctx.state, args.proposal_id)
    if proposal.proposer != ctx.origin:
        raise errors.NOT_PROPOSER(
            f"proposal {args.proposal_id} was made by {proposal.proposer.hex()}, not {ctx.origin.hex()}"
        )
    close_proposal(ctx.state, proposal)
    ctx.emit(governance_pb2.ProposalWithdrawn(proposal_id=proposal.proposal_id, proposer=ctx.origin))


def _schedule_if_quorum(ctx: CallContext, proposal: governance_pb2.Proposal, validators: set[bytes]) -> None:
    """Schedule the change once the approvals of current validators reach the current set's quorum."""
    approvals = counted_approvals(proposal, validators)
    if len(approvals) < quorum_size(len(validators)):
        return
    close_proposal(ctx.state, proposal)
    scheduled = schedule_change(
        ctx.state,
        governance_pb2.ScheduledChange(
            proposal_id=proposal.proposal_id,
            kind=proposal.kind,
            public_key=proposal.public_key,
            effective_height=proposal.effective_height,
            reason_hash=proposal.reason_hash,
            proposer=proposal.proposer,
            proposed_at=proposal.proposed_at,
            scheduled_at=ctx.block.height,
            approvals=approvals,
        ),
    )
    ctx.emit(
        governance_pb2.ValidatorChangeScheduled(
            proposal_id=proposal.proposal_id,
            kind=proposal.kind,
            public_key=proposal.public_key,
            effective_height=proposal.effective_height,
            approvals=len(approvals),
            validator_count=len(scheduled),
        )
    )


CALLS: tuple[CallDef[Any], ...] = (
    CallDef(0, "propose", governance_pb2.Propose, propose, None, check_propose),
    CallDef(1, "approve", governance_pb2.Approve, approve, None, check_proposal_id),
    CallDef(2, "withdraw", governance_pb2.Withdraw, withdraw, None, check_proposal_id),
)
