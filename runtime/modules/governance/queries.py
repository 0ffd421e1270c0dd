"""Governance module queries, answered from committed state (after the last block's hooks)."""

from __future__ import annotations

from typing import Any

from dcrm.runtime.module import QueryDef
from dcrm.runtime.modules.governance.calls import check_proposal_id
from dcrm.runtime.modules.governance.proposals import counted_approvals, get_open
from dcrm.runtime.modules.governance.schedule import accounts_of, current_set, max_faulty, quorum_size, set_at
from dcrm.runtime.modules.governance.storage import CHANGES, IN_FORCE_SINCE, PROPOSALS, U64_LENGTH, change_key, u64
from dcrm.runtime.state.kv import KVReader
from dcrm.v1 import governance_pb2

DEFAULT_LIMIT = 100
MAX_LIMIT = 1_000


def _limit(requested: int) -> int:
    return min(requested or DEFAULT_LIMIT, MAX_LIMIT)


def schedule(state: KVReader, request: governance_pb2.ScheduleQuery) -> governance_pb2.ScheduleResult:
    """Scheduled changes from (from_height, from_proposal_id) on: applied ones and those still ahead."""
    in_force = IN_FORCE_SINCE.get(state) or 0
    limit = _limit(request.limit)
    result = governance_pb2.ScheduleResult(in_force_since=in_force)
    for key, change in CHANGES.items(state, start=change_key(request.from_height, request.from_proposal_id)):
        if len(result.entries) == limit:
            result.more = True
            break
        applied = int.from_bytes(key[:U64_LENGTH], "big") <= in_force
        result.entries.append(governance_pb2.ScheduleEntry(change=change, applied=applied))
    return result


def proposal(state: KVReader, request: governance_pb2.ProposalQuery) -> governance_pb2.ProposalResult:
    check_proposal_id(request)
    found = get_open(state, request.proposal_id)
    _since, members = current_set(state)
    return governance_pb2.ProposalResult(
        proposal=found,
        approvals=len(counted_approvals(found, accounts_of(members))),
        quorum=quorum_size(len(members)),
    )


def proposals(state: KVReader, request: governance_pb2.ProposalsQuery) -> governance_pb2.ProposalsResult:
    limit = _limit(request.limit)
    result = governance_pb2.ProposalsResult()
    for _key, found in PROPOSALS.items(state, start=u64(request.from_proposal_id)):
        if len(result.proposals) == limit:
            result.more = True
            break
        result.proposals.append(found)
    return result


def validators_at(state: KVReader, request: governance_pb2.ValidatorsAtQuery) -> governance_pb2.ValidatorsAtResult:
    """The set in force at the height as scheduled now: final for heights up to the last block + 2."""
    since, members = set_at(state, request.height)
    return governance_pb2.ValidatorsAtResult(
        public_keys=members, since_height=since, quorum=quorum_size(len(members)), max_faulty=max_faulty(len(members))
    )


QUERIES: tuple[QueryDef[Any, Any], ...] = (
    QueryDef("schedule", governance_pb2.ScheduleQuery, governance_pb2.ScheduleResult, schedule),
    QueryDef("proposal", governance_pb2.ProposalQuery, governance_pb2.ProposalResult, proposal),
    QueryDef("proposals", governance_pb2.ProposalsQuery, governance_pb2.ProposalsResult, proposals),
    QueryDef("validators_at", governance_pb2.ValidatorsAtQuery, governance_pb2.ValidatorsAtResult, validators_at),
)
