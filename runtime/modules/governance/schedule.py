"""The validator schedule: which set of public keys is in force at each height, and how changes compose.

Every change that reached its quorum is kept under its (effective height, proposal id); for each height with
changes, SCHEDULE holds the whole set from that height on. The set at height h is the SCHEDULE entry with
the greatest effective height <= h, else the genesis set of the system module. Changes at one height apply
in proposal-id order: an added key goes after the last member, a removed key leaves the others in order, so
leader rotation (which follows this order) is the same on every node.

A change is scheduled at least 2 blocks ahead (see calls.check_effective_height), so once block h - 2 is
committed nothing can change the answer for heights up to h: the consensus core may ask for the set of the
next height as soon as its parent is committed, and the set after it is known one block early.
"""

from __future__ import annotations

from collections.abc import Sequence

from dcrm.runtime.crypto import account_id
from dcrm.runtime.errors import DispatchError
from dcrm.runtime.modules.governance import errors
from dcrm.runtime.modules.governance.storage import (
    CHANGES,
    IN_FORCE_SINCE,
    SCHEDULE,
    U64_LENGTH,
    change_key,
    parse_u64,
    u64,
)
from dcrm.runtime.modules.system.storage import VALIDATORS
from dcrm.runtime.state.kv import KVReader
from dcrm.runtime.state.overlay import Overlay
from dcrm.v1 import governance_pb2, system_pb2

__all__ = [
    "accounts_of",
    "apply_change",
    "current_set",
    "enter_height",
    "max_faulty",
    "quorum_size",
    "rebuild_from",
    "schedule_change",
    "set_at",
    "validators_at",
]

ADD = governance_pb2.CHANGE_KIND_ADD
REMOVE = governance_pb2.CHANGE_KIND_REMOVE


def max_faulty(size: int) -> int:
    """Faulty validators a set of `size` tolerates: f = (size - 1) // 3 (0 below 4: no fault tolerance)."""
    return (size - 1) // 3


def quorum_size(size: int) -> int:
    """Approvals (or votes) a quorum needs among `size` validators: q = (size + f) // 2 + 1.

    The same rule as the consensus core's (dcrm.node.consensus.pbft.validators.quorum_size), which the
    runtime may not import: any two quorums share f + 1 validators, hence an honest one; 2f + 1 when
    size = 3f + 1.
    """
    if size < 1:
        raise ValueError(f"a validator set has at least one member, got {size}")
    return (size + max_faulty(size)) // 2 + 1


def _genesis_set(state: KVReader) -> list[bytes]:
    found = VALIDATORS.get(state)
    return list(found.public_keys) if found is not None else []


def set_at(state: KVReader, height: int) -> tuple[int, list[bytes]]:
    """(effective height, public keys) of the set in force at `height`; effective height 0 is genesis.

    Reads from the entry in force at the last executed block when `height` is not before it, so the cost
    is the number of changes scheduled ahead, not the length of the history.
    """
    in_force = IN_FORCE_SINCE.get(state) or 0
    start = in_force if height >= in_force else 0
    found_height, found_raw = 0, None
    for key, raw in state.iterate(SCHEDULE.prefix, u64(start)):
        effective = parse_u64(key[len(SCHEDULE.prefix) :])
        if effective > height:
            break
        found_height, found_raw = effective, raw
    if found_raw is None:
        return 0, _genesis_set(state)
    return found_height, list(SCHEDULE.codec.decode(found_raw).public_keys)


def validators_at(state: KVReader, height: int) -> list[bytes]:
    """The validator public keys in force at `height`, in leader-rotation order (see set_at)."""
    return set_at(state, height)[1]


def current_set(state: KVReader) -> tuple[int, list[bytes]]:
    """(effective height, public keys) of the set in force at the last executed block."""
    in_force = IN_FORCE_SINCE.get(state)
    if in_force is None:
        return 0, _genesis_set(state)
    entry = SCHEDULE.get(state, u64(in_force))
    if entry is None:
        raise AssertionError(f"governance/in_force_since names height {in_force}, which has no schedule entry")
    return in_force, list(entry.public_keys)


def accounts_of(public_keys: Sequence[bytes]) -> set[bytes]:
    """The account ids (sha256(public key)[:20]) that sign for these validator keys."""
    return {account_id(key) for key in public_keys}


def apply_change(members: Sequence[bytes], kind: int, public_key: bytes, height: int) -> list[bytes]:
    """The set after one change at `height`. Raises AlreadyMember, NotMember or LastValidator."""
    if kind == ADD:
        if public_key in members:
            raise errors.ALREADY_MEMBER(f"public key {public_key.hex()} is already a validator at height {height}")
        return [*members, public_key]
    if public_key not in members:
        raise errors.NOT_MEMBER(f"public key {public_key.hex()} is not a validator at height {height}")
    if len(members) == 1:
        raise errors.LAST_VALIDATOR(f"removing {public_key.hex()} would leave no validator at height {height}")
    return [member for member in members if member != public_key]


def rebuild_from(state: Overlay, height: int, new_change: tuple[int, int] | None = None) -> None:
    """Recompute every SCHEDULE entry from `height` on from the stored changes, in (height, id) order.

    Raises the error of the first change that no longer applies: as is when it is `new_change`
    ((effective height, proposal id)) or when none is given, else ScheduleConflict naming both.
    """
    members = validators_at(state, height - 1)
    last_height: int | None = None
    for key, change in CHANGES.items(state, start=u64(height)):
        effective = parse_u64(key[:U64_LENGTH])
        if last_height is not None and effective != last_height:
            SCHEDULE.put(state, u64(last_height), system_pb2.ValidatorSet(public_keys=members))
        last_height = effective
        try:
            members = apply_change(members, change.kind, change.public_key, effective)
        except DispatchError as error:
            if new_change is None or new_change == (effective, change.proposal_id):
                raise
            new_height, new_id = new_change
            raise errors.SCHEDULE_CONFLICT(
                f"proposal {new_id} at height {new_height} conflicts with proposal {change.proposal_id} "
                f"scheduled at height {effective}: {error.message}"
            ) from None
    if last_height is not None:
        SCHEDULE.put(state, u64(last_height), system_pb2.ValidatorSet(public_keys=members))


def schedule_change(state: Overlay, change: governance_pb2.ScheduledChange) -> list[bytes]:
    """Store a change that reached its quorum and recompute the schedule; returns the set at its height.

    Its effective height is at least 2 above the current block's, so only future entries are rewritten.
    Raises AlreadyMember, NotMember, LastValidator or ScheduleConflict (the caller's writes are discarded).
    """
    effective = change.effective_height
    CHANGES.put(state, change_key(effective, change.proposal_id), change)
    rebuild_from(state, effective, (effective, change.proposal_id))
    return validators_at(state, effective)


def enter_height(state: Overlay, height: int) -> governance_pb2.ValidatorSetChanged | None:
    """At the start of block `height`: if a new set takes effect, record it as in force and describe it."""
    entry = SCHEDULE.get(state, u64(height))
    if entry is None:
        return None
    IN_FORCE_SINCE.put(state, height)
    size = len(entry.public_keys)
    return governance_pb2.ValidatorSetChanged(
        height=height,
        public_keys=entry.public_keys,
        proposal_ids=[change.proposal_id for _key, change in CHANGES.items(state, u64(height))],
        quorum=quorum_size(size),
        max_faulty=max_faulty(size),
    )
