"""The governance module (index 4): validator-set changes approved on chain, effective at a declared height.

Calls (dcrm.v1.governance messages), each signed by a validator with its validator key: 0 Propose (add or
remove a validator at a future height; it counts as the proposer's approval), 1 Approve, 2 Withdraw (the
proposer, before it passes). A change is scheduled when the approvals of validators of the set in force
reach that set's quorum q = (n + f) // 2 + 1, f = (n - 1) // 3. Queries ("governance" module): schedule,
proposal, proposals, validators_at. Use it as `client.governance`:

```python
receipt = client.governance.propose(validator, "add", new_key.public_key, head + 100, sha256(minutes))
proposal_id = proposal_id_of(receipt)
client.governance.approve(other_validator, proposal_id)
print([key.hex() for key in client.governance.validators_at(head + 100).public_keys])
```

State keys (for proofs, see `scheduled_set`): b"governance/schedule/" + effective height (8-byte
big-endian) holds the whole set (a dcrm.v1.system.ValidatorSet) from that height on;
b"governance/change/" + effective height + proposal id (8 bytes each) a ScheduledChange;
b"governance/proposal/" + proposal id an open Proposal.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Literal

import coincurve
from google.protobuf.message import DecodeError, Message

from dcrm.client.certificates import ValidatorKey
from dcrm.client.errors import ModuleError, ProtocolError
from dcrm.v1 import governance_pb2, system_pb2, types_pb2

if TYPE_CHECKING:
    from dcrm.client.client import Account, Client

__all__ = [
    "APPROVE",
    "CHANGE_KINDS",
    "EVENTS",
    "MODULE_INDEX",
    "MODULE_NAME",
    "PROPOSE",
    "WITHDRAW",
    "AlreadyApproved",
    "AlreadyMember",
    "BadChangeKind",
    "BadEffectiveHeight",
    "BadProposalId",
    "BadPublicKey",
    "BadReasonHash",
    "Change",
    "GovernanceApi",
    "GovernanceModuleError",
    "LastValidator",
    "NotMember",
    "NotProposer",
    "NotValidator",
    "ScheduleConflict",
    "TooManyProposals",
    "UnknownProposal",
    "change_key",
    "proposal_id_of",
    "proposal_key",
    "schedule_key",
]

MODULE_INDEX = 4
MODULE_NAME = "governance"

# Call indices.
PROPOSE = 0
APPROVE = 1
WITHDRAW = 2

Change = Literal["add", "remove"]
CHANGE_KINDS: dict[str, governance_pb2.ChangeKind.ValueType] = {
    "add": governance_pb2.CHANGE_KIND_ADD,
    "remove": governance_pb2.CHANGE_KIND_REMOVE,
}

# The module's events, for decoding receipts (dcrm.client.transactions.EVENT_TYPES).
EVENTS: tuple[type[Message], ...] = (
    governance_pb2.ValidatorChangeProposed,
    governance_pb2.ValidatorChangeApproved,
    governance_pb2.ValidatorChangeScheduled,
    governance_pb2.ValidatorSetChanged,
    governance_pb2.ProposalWithdrawn,
    governance_pb2.ProposalExpired,
)

PUBLIC_KEY_LENGTH = 33
HASH_LENGTH = 32
MAX_U64 = 2**64 - 1
_U64_BYTES = 8


# -- errors of the governance module (index 4) --------------------------------------------------------------


class GovernanceModuleError(ModuleError, module=MODULE_INDEX):
    """A call failed with an error of the governance module."""


class NotValidator(GovernanceModuleError, code=governance_pb2.NOT_VALIDATOR):
    """The caller is not a validator of the set in force at the current height."""


class BadChangeKind(GovernanceModuleError, code=governance_pb2.BAD_CHANGE_KIND):
    """The change is neither add nor remove."""


class BadPublicKey(GovernanceModuleError, code=governance_pb2.BAD_PUBLIC_KEY):
    """A public key is not a valid 33-byte compressed secp256k1 key."""


class BadReasonHash(GovernanceModuleError, code=governance_pb2.BAD_REASON_HASH):
    """A reason hash is not 32 bytes."""


class BadEffectiveHeight(GovernanceModuleError, code=governance_pb2.BAD_EFFECTIVE_HEIGHT):
    """The effective height is not from current height + 2 to current height + max_lead."""


class AlreadyMember(GovernanceModuleError, code=governance_pb2.ALREADY_MEMBER):
    """The key to add is already a validator at the effective height."""


class NotMember(GovernanceModuleError, code=governance_pb2.NOT_MEMBER):
    """The key to remove is not a validator at the effective height."""


class LastValidator(GovernanceModuleError, code=governance_pb2.LAST_VALIDATOR):
    """The change would leave the chain without a validator."""


class ScheduleConflict(GovernanceModuleError, code=governance_pb2.SCHEDULE_CONFLICT):
    """Scheduling the change would invalidate a change already scheduled at a later height."""


class UnknownProposal(GovernanceModuleError, code=governance_pb2.UNKNOWN_PROPOSAL):
    """No open proposal has this id (never made, or already scheduled, withdrawn or expired)."""


class AlreadyApproved(GovernanceModuleError, code=governance_pb2.ALREADY_APPROVED):
    """The caller has already approved the proposal (a proposal counts as its proposer's approval)."""


class NotProposer(GovernanceModuleError, code=governance_pb2.NOT_PROPOSER):
    """Only the proposer may withdraw a proposal."""


class TooManyProposals(GovernanceModuleError, code=governance_pb2.TOO_MANY_PROPOSALS):
    """The proposer already has the maximum number (16) of open proposals."""


class BadProposalId(GovernanceModuleError, code=governance_pb2.BAD_PROPOSAL_ID):
    """A proposal id is zero."""


# -- argument checks and state keys ----------------------------------------------------------------------------


def _check_u64(value: int, what: str, *, minimum: int = 0) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= MAX_U64:
        raise ValueError(f"{what} must be an integer from {minimum} to 2^64 - 1, got {value!r}")


def _check_public_key(public_key: bytes) -> None:
    if len(public_key) != PUBLIC_KEY_LENGTH or public_key[0] not in (2, 3):
        raise ValueError(
            f"public_key must be a {PUBLIC_KEY_LENGTH}-byte compressed secp256k1 key, got {len(public_key)} bytes"
        )
    try:
        coincurve.PublicKey(public_key)
    except ValueError:
        raise ValueError(f"public_key {public_key.hex()} is not a point of secp256k1") from None


def schedule_key(effective_height: int) -> bytes:
    """The state key of the whole validator set from `effective_height` on (a dcrm.v1.system.ValidatorSet)."""
    _check_u64(effective_height, "effective_height")
    return b"governance/schedule/" + effective_height.to_bytes(_U64_BYTES, "big")


def change_key(effective_height: int, proposal_id: int) -> bytes:
    """The state key of a scheduled change (a dcrm.v1.governance.ScheduledChange)."""
    _check_u64(effective_height, "effective_height")
    _check_u64(proposal_id, "proposal_id", minimum=1)
    return (
        b"governance/change/" + effective_height.to_bytes(_U64_BYTES, "big") + proposal_id.to_bytes(_U64_BYTES, "big")
    )


def proposal_key(proposal_id: int) -> bytes:
    """The state key of an open proposal (a dcrm.v1.governance.Proposal; absent once it is closed)."""
    _check_u64(proposal_id, "proposal_id", minimum=1)
    return b"governance/proposal/" + proposal_id.to_bytes(_U64_BYTES, "big")


def proposal_id_of(receipt: types_pb2.Receipt) -> int:
    """The id of the proposal a successful `propose` receipt made. Raises ProtocolError when it has none."""
    for event in receipt.events:
        if event.module == MODULE_NAME and event.name == "ValidatorChangeProposed":
            try:
                return governance_pb2.ValidatorChangeProposed.FromString(event.data).proposal_id
            except DecodeError as error:
                raise ProtocolError(f"the ValidatorChangeProposed event does not decode: {error}") from None
    raise ProtocolError("the receipt holds no ValidatorChangeProposed event")


class GovernanceApi:
    """Typed calls and queries of the governance module through one Client (available as `client.governance`).

    Every call method signs with `account` (a validator's key: its account id is sha256(public key)[:20]),
    waits for the commit and returns the receipt. It raises ValueError for arguments the chain would refuse
    before anything is sent, the RpcError subclass of a rejection, and with `check` (the default) the
    GovernanceModuleError subclass of a failed call.
    """

    def __init__(self, client: Client) -> None:
        self._client = client

    def _submit(
        self, account: Account, method: int, args: Message, timeout: float | None, check: bool
    ) -> types_pb2.Receipt:
        return account.submit_and_wait(MODULE_INDEX, method, args, timeout=timeout, check=check)

    # -- calls ----------------------------------------------------------------------------------------------

    def propose(
        self,
        account: Account,
        change: Change,
        public_key: bytes,
        effective_height: int,
        reason_hash: bytes,
        *,
        timeout: float | None = None,
        check: bool = True,
    ) -> types_pb2.Receipt:
        """`account` (a validator) proposes to "add" or "remove" the validator `public_key` from
        `effective_height` on, for the reason whose 32-byte hash is `reason_hash`; its proposal counts as
        its approval. `proposal_id_of(receipt)` is the new proposal's id. The effective height must be from
        the including block + 2 to + max_lead. Raises NotValidator, BadEffectiveHeight, AlreadyMember,
        NotMember, LastValidator, TooManyProposals among others.
        """
        kind = CHANGE_KINDS.get(change)
        if kind is None:
            raise ValueError(f'change must be "add" or "remove", got {change!r}')
        _check_public_key(public_key)
        _check_u64(effective_height, "effective_height", minimum=1)
        if len(reason_hash) != HASH_LENGTH:
            raise ValueError(f"reason_hash must be a {HASH_LENGTH}-byte hash, got {len(reason_hash)} bytes")
        args = governance_pb2.Propose(
            kind=kind, public_key=public_key, effective_height=effective_height, reason_hash=reason_hash
        )
        return self._submit(account, PROPOSE, args, timeout, check)

    def approve(
        self, account: Account, proposal_id: int, *, timeout: float | None = None, check: bool = True
    ) -> types_pb2.Receipt:
        """`account` (a validator) approves the open proposal; the approval that reaches the quorum schedules
        the change (a ValidatorChangeScheduled event). Raises NotValidator, UnknownProposal, AlreadyApproved,
        and the change's own errors (AlreadyMember, NotMember, LastValidator, ScheduleConflict)."""
        _check_u64(proposal_id, "proposal_id", minimum=1)
        return self._submit(account, APPROVE, governance_pb2.Approve(proposal_id=proposal_id), timeout, check)

    def withdraw(
        self, account: Account, proposal_id: int, *, timeout: float | None = None, check: bool = True
    ) -> types_pb2.Receipt:
        """`account` (the proposer) withdraws its open proposal. Raises UnknownProposal, NotProposer."""
        _check_u64(proposal_id, "proposal_id", minimum=1)
        return self._submit(account, WITHDRAW, governance_pb2.Withdraw(proposal_id=proposal_id), timeout, check)

    # -- queries (unverified) -------------------------------------------------------------------------------

    def schedule(
        self, *, from_height: int = 0, from_proposal_id: int = 0, limit: int = 0
    ) -> governance_pb2.ScheduleResult:
        """One page of scheduled changes, applied ones and those still ahead, by effective height then
        proposal id, from (from_height, from_proposal_id) on (limit 0: 100, at most 1000). Raises RpcError.
        """
        _check_u64(from_height, "from_height")
        _check_u64(from_proposal_id, "from_proposal_id")
        request = governance_pb2.ScheduleQuery(from_height=from_height, from_proposal_id=from_proposal_id, limit=limit)
        return self._client.query(MODULE_NAME, "schedule", request, governance_pb2.ScheduleResult)

    def iter_schedule(self, *, from_height: int = 0, page_size: int = 0) -> Iterator[governance_pb2.ScheduleEntry]:
        """Every scheduled change from `from_height` on, fetched page by page. Raises like `schedule`."""
        height, proposal_id = from_height, 0
        while True:
            page = self.schedule(from_height=height, from_proposal_id=proposal_id, limit=page_size)
            yield from page.entries
            if not page.more or not page.entries:
                return
            last = page.entries[-1].change
            height, proposal_id = last.effective_height, last.proposal_id + 1

    def proposal(self, proposal_id: int) -> governance_pb2.ProposalResult:
        """An open proposal with the approvals that count now and the quorum they must reach.

        Raises NotFound when it is not open (never made, scheduled, withdrawn or expired), RpcError subclasses.
        """
        _check_u64(proposal_id, "proposal_id", minimum=1)
        request = governance_pb2.ProposalQuery(proposal_id=proposal_id)
        return self._client.query(MODULE_NAME, "proposal", request, governance_pb2.ProposalResult)

    def proposals(self, *, from_proposal_id: int = 0, limit: int = 0) -> governance_pb2.ProposalsResult:
        """One page of open proposals by id (limit 0: 100, at most 1000). Raises RpcError subclasses."""
        _check_u64(from_proposal_id, "from_proposal_id")
        request = governance_pb2.ProposalsQuery(from_proposal_id=from_proposal_id, limit=limit)
        return self._client.query(MODULE_NAME, "proposals", request, governance_pb2.ProposalsResult)

    def validators_at(self, height: int) -> governance_pb2.ValidatorsAtResult:
        """The validator public keys in force at `height` (leader-rotation order), the height that set took
        effect (0: genesis), its quorum and fault tolerance, as the node's committed state schedules them:
        final for heights up to its head + 2. Raises RpcError subclasses.
        """
        _check_u64(height, "height")
        request = governance_pb2.ValidatorsAtQuery(height=height)
        return self._client.query(MODULE_NAME, "validators_at", request, governance_pb2.ValidatorsAtResult)

    # -- verified reads -------------------------------------------------------------------------------------

    def scheduled_set(
        self, effective_height: int, *, verify: bool = True, validators: Sequence[ValidatorKey] | None = None
    ) -> list[bytes] | None:
        """The set that takes effect at exactly `effective_height`, read with a state proof (see
        Client.query_state); None when no change takes effect there. Raises ProofError or CertificateError
        when verification fails, ProtocolError when the value does not decode, RpcError subclasses.
        """
        value = self._client.query_state(schedule_key(effective_height), verify=verify, validators=validators)
        if value is None:
            return None
        try:
            return list(system_pb2.ValidatorSet.FromString(value).public_keys)
        except DecodeError as error:
            raise ProtocolError(f"the validator set at height {effective_height} does not decode: {error}") from None
