"""Open proposals: storing, counting approvals, closing, and the end-of-block expiry sweep.

A proposal can pass only while its effective height is at least 2 above the block's, that is up to block
`effective_height - 2`; the sweep at the end of that block drops it. It walks an index sorted by that last
height and stops at the first entry that is not due, so its work is the number of proposals that expire.
"""

from __future__ import annotations

from collections.abc import Set

from dcrm.runtime.modules.governance import errors
from dcrm.runtime.modules.governance.storage import (
    EXPIRY_INDEX,
    OPEN_COUNT,
    PROPOSALS,
    U64_LENGTH,
    expiry_key,
    parse_u64,
    u64,
)
from dcrm.runtime.state.kv import KVReader
from dcrm.runtime.state.overlay import Overlay
from dcrm.v1 import governance_pb2

__all__ = [
    "MIN_LEAD",
    "close_proposal",
    "counted_approvals",
    "expire_due",
    "get_open",
    "last_height",
    "open_count",
    "put_new_proposal",
]

MIN_LEAD = 2  # a change takes effect at least this many blocks after the block that schedules it


def last_height(proposal: governance_pb2.Proposal) -> int:
    """The last block in which the proposal can still reach its quorum in time."""
    return proposal.effective_height - MIN_LEAD


def get_open(state: KVReader, proposal_id: int) -> governance_pb2.Proposal:
    """Raises UnknownProposal unless the proposal is open."""
    proposal = PROPOSALS.get(state, u64(proposal_id))
    if proposal is None:
        raise errors.UNKNOWN_PROPOSAL(
            f"proposal {proposal_id} is not open (never made, or already scheduled, withdrawn or expired)"
        )
    return proposal


def open_count(state: KVReader, proposer: bytes) -> int:
    return OPEN_COUNT.get(state, proposer) or 0


def counted_approvals(proposal: governance_pb2.Proposal, validators: Set[bytes]) -> list[bytes]:
    """The approvals that count: those of accounts in `validators`, in approval order."""
    return [account for account in proposal.approvals if account in validators]


def put_new_proposal(state: Overlay, proposal: governance_pb2.Proposal) -> None:
    PROPOSALS.put(state, u64(proposal.proposal_id), proposal)
    EXPIRY_INDEX.put(state, expiry_key(last_height(proposal), proposal.proposal_id), True)
    OPEN_COUNT.put(state, proposal.proposer, open_count(state, proposal.proposer) + 1)


def close_proposal(state: Overlay, proposal: governance_pb2.Proposal) -> None:
    """Remove an open proposal with its index entry, and free its place in the proposer's count."""
    PROPOSALS.delete(state, u64(proposal.proposal_id))
    EXPIRY_INDEX.delete(state, expiry_key(last_height(proposal), proposal.proposal_id))
    remaining = open_count(state, proposal.proposer) - 1
    if remaining:
        OPEN_COUNT.put(state, proposal.proposer, remaining)
    else:
        OPEN_COUNT.delete(state, proposal.proposer)


def expire_due(state: Overlay, height: int) -> list[governance_pb2.ProposalExpired]:
    """Drop the proposals whose last chance was block `height` or earlier, in (last height, id) order."""
    due: list[int] = []
    for key, _present in EXPIRY_INDEX.items(state):
        if parse_u64(key[:U64_LENGTH]) > height:
            break
        due.append(parse_u64(key[U64_LENGTH:]))
    events = []
    for proposal_id in due:
        proposal = PROPOSALS.get(state, u64(proposal_id))
        if proposal is None:
            raise AssertionError(f"expiry index names proposal {proposal_id}, which is not open")
        close_proposal(state, proposal)
        events.append(
            governance_pb2.ProposalExpired(
                proposal_id=proposal_id,
                effective_height=proposal.effective_height,
                approvals=len(proposal.approvals),
            )
        )
    return events
