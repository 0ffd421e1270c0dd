"""Governance module storage items and their key layouts.

Heights and proposal ids are u64 big-endian, so keys sort numerically and every key parses back.
"""

from __future__ import annotations

from dcrm.runtime.modules.governance.errors import MODULE
from dcrm.runtime.storage import FLAG, U64, StorageMap, StorageValue, proto_codec
from dcrm.v1 import governance_pb2, system_pb2

U64_LENGTH = 8

PARAMS: StorageValue[governance_pb2.Params] = StorageValue(MODULE, "params", proto_codec(governance_pb2.Params))
# how many proposals were ever made: the next proposal id is this + 1
PROPOSAL_COUNT: StorageValue[int] = StorageValue(MODULE, "proposal_count", U64)
# proposal id -> the open proposal (deleted when it is scheduled, withdrawn or expires)
PROPOSALS: StorageMap[governance_pb2.Proposal] = StorageMap(MODULE, "proposal", proto_codec(governance_pb2.Proposal))
# last height at which the proposal can still pass (effective height - 2) + proposal id -> present while open.
# Sorted by height first, so the end-of-block hook reads only the proposals that expire.
EXPIRY_INDEX: StorageMap[bool] = StorageMap(MODULE, "expiry", FLAG)
# proposer account id -> number of its open proposals (absent: 0)
OPEN_COUNT: StorageMap[int] = StorageMap(MODULE, "open", U64)
# effective height + proposal id -> a change that reached its quorum (kept: the history of the set)
CHANGES: StorageMap[governance_pb2.ScheduledChange] = StorageMap(
    MODULE, "change", proto_codec(governance_pb2.ScheduledChange)
)
# effective height -> the whole validator set from that height on, every change at that height applied
SCHEDULE: StorageMap[system_pb2.ValidatorSet] = StorageMap(MODULE, "schedule", proto_codec(system_pb2.ValidatorSet))
# effective height of the SCHEDULE entry in force at the last executed block (absent: the genesis set)
IN_FORCE_SINCE: StorageValue[int] = StorageValue(MODULE, "in_force_since", U64)


def u64(value: int) -> bytes:
    return value.to_bytes(U64_LENGTH, "big")


def parse_u64(raw: bytes) -> int:
    return int.from_bytes(raw, "big")


def change_key(effective_height: int, proposal_id: int) -> bytes:
    return u64(effective_height) + u64(proposal_id)


def expiry_key(last_height: int, proposal_id: int) -> bytes:
    return u64(last_height) + u64(proposal_id)
