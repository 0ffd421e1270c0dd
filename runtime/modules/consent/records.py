"""Consent records: revisions chained by hash, the DPV state machine, and the indexes kept in step with them.

Every change makes a new revision: the current bytes move to consent/revision/<id><n>, and the new revision,
whose predecessor_hash is sha256 of those exact bytes, is stored under consent/record/<id>. The indexes follow
the state: consent/grant/... while the record is valid for processing, consent/expiry/... while it can still
expire, consent/history/... from the moment it is first given, forever.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from dcrm.runtime.crypto import sha256
from dcrm.runtime.module import HookContext
from dcrm.runtime.modules.consent import errors
from dcrm.runtime.modules.consent.rules import VALID_STATES, state_name
from dcrm.runtime.modules.consent.storage import (
    BY_CONTROLLER,
    BY_SUBJECT,
    EXPIRY,
    GRANTS,
    HISTORY,
    RECORD_ID_LENGTH,
    RECORDS,
    REVISIONS,
    coverage_prefix,
    expiry_key,
    history_suffix,
    listing_key,
    revision_key,
)
from dcrm.runtime.state.kv import KVReader
from dcrm.runtime.state.overlay import Overlay
from dcrm.v1 import consent_pb2

SCHEMA_VERSION = 1
DEFAULT_MAX_EXPIRIES_PER_BLOCK = 1_000  # bounds a block's hook work; the rest stay due and expire in the next blocks
_RECORD_ID_DOMAIN = b"dcrm/consent/record"

REQUESTED = consent_pb2.STATE_REQUESTED
GIVEN = consent_pb2.STATE_GIVEN
REFUSED = consent_pb2.STATE_REFUSED
RENEWED = consent_pb2.STATE_RENEWED
WITHDRAWN = consent_pb2.STATE_WITHDRAWN
EXPIRED = consent_pb2.STATE_EXPIRED
TERMINATED = consent_pb2.STATE_TERMINATED
INVALIDATED = consent_pb2.STATE_INVALIDATED

# The states a record can still leave by expiring: they carry an entry in the expiry index.
EXPIRING_STATES = frozenset({REQUESTED, GIVEN, RENEWED})

# state -> the states one change can take it to
TRANSITIONS: Mapping[int, frozenset[int]] = {
    REQUESTED: frozenset({GIVEN, REFUSED, EXPIRED, TERMINATED}),
    GIVEN: frozenset({RENEWED, WITHDRAWN, EXPIRED, TERMINATED, INVALIDATED}),
    RENEWED: frozenset({RENEWED, WITHDRAWN, EXPIRED, TERMINATED, INVALIDATED}),
    REFUSED: frozenset(),
    WITHDRAWN: frozenset({INVALIDATED}),
    EXPIRED: frozenset({INVALIDATED}),
    TERMINATED: frozenset({INVALIDATED}),
    INVALIDATED: frozenset(),
}


@dataclass(frozen=True, slots=True)
class Stored:
    """A revision as stored: its exact bytes and their decoding."""

    raw: bytes
    record: consent_pb2.ConsentRecord

    @property
    def hash(self) -> bytes:
        return sha256(self.raw)


@dataclass(frozen=True, slots=True)
class Moment:
    """When and by whom a revision is made: block time and height, and the signing account (empty: the chain)."""

    time_ms: int
    height: int
    actor: bytes


def record_id_for(creator: bytes, client_ref: bytes) -> bytes:
    """The id of the record `creator` (20-byte account) makes with `client_ref`: known before the transaction."""
    return sha256(_RECORD_ID_DOMAIN + creator + client_ref)[:RECORD_ID_LENGTH]


def encode(record: consent_pb2.ConsentRecord) -> bytes:
    return record.SerializeToString(deterministic=True)


def decode(raw: bytes) -> Stored:
    return Stored(raw, consent_pb2.ConsentRecord.FromString(raw))


def load(state: KVReader, record_id: bytes) -> Stored | None:
    raw = RECORDS.get(state, record_id)
    return None if raw is None else decode(raw)


def require(state: KVReader, record_id: bytes) -> Stored:
    stored = load(state, record_id)
    if stored is None:
        raise errors.RECORD_NOT_FOUND(f"no consent record has id {record_id.hex()}")
    return stored


def load_revision(state: KVReader, record_id: bytes, revision: int) -> Stored | None:
    raw = REVISIONS.get(state, revision_key(record_id, revision))
    return None if raw is None else decode(raw)


def covered_pairs(record: consent_pb2.ConsentRecord) -> list[tuple[str, str]]:
    """Every (purpose, data category) the record covers, in terms order."""
    return [(purpose.id, category.id) for purpose in record.terms.purposes for category in record.terms.data_categories]


def ensure_transition(record: consent_pb2.ConsentRecord, target: int, action: str) -> None:
    if target in TRANSITIONS[record.state]:
        return
    sources = [state_name(source) for source in sorted(TRANSITIONS) if target in TRANSITIONS[source]]
    raise errors.INVALID_TRANSITION(
        f"{action}: record {record.record_id.hex()} is {state_name(record.state)}; "
        f"only a record that is {' or '.join(sources)} can become {state_name(target)}"
    )


def create(state: Overlay, record: consent_pb2.ConsentRecord) -> Stored:
    """Store revision 0 of a new record and index it."""
    stored = Stored(encode(record), record)
    restore(state, [stored])
    return stored


def restore(state: Overlay, revisions: list[Stored]) -> None:
    """Store a record's revisions (oldest first, already checked) and index its current one, as calls would have."""
    current = revisions[-1].record
    record_id = current.record_id
    for previous in revisions[:-1]:
        REVISIONS.put(state, revision_key(record_id, previous.record.revision), previous.raw)
    RECORDS.put(state, record_id, revisions[-1].raw)
    BY_SUBJECT.put(state, listing_key(current.subject, current.created_ms, record_id), True)
    BY_CONTROLLER.put(state, listing_key(current.controller, current.created_ms, record_id), True)
    if current.state in EXPIRING_STATES:
        EXPIRY.put(state, expiry_key(current.valid_until_ms, record_id), True)
    if current.state in VALID_STATES:
        _index_given(state, current)
    elif any(revision.record.state == GIVEN for revision in revisions):
        _index_history(state, current)


def revise(
    state: Overlay,
    stored: Stored,
    target: int,
    moment: Moment,
    *,
    action: str,
    valid_until_ms: int | None = None,
    terms: consent_pb2.Terms | None = None,
) -> Stored:
    """Make the next revision in state `target`; keep the indexes in step. Raises InvalidTransition."""
    old = stored.record
    ensure_transition(old, target, action)
    new = consent_pb2.ConsentRecord()
    new.CopyFrom(old)
    new.state = target  # type: ignore[assignment]
    new.revision = old.revision + 1
    new.event_time_ms = moment.time_ms
    new.event_height = moment.height
    new.changed_by = moment.actor
    new.predecessor_hash = stored.hash
    if terms is not None:
        new.terms.CopyFrom(terms)
    if valid_until_ms is not None:
        new.valid_until_ms = valid_until_ms
    if target == GIVEN:
        new.valid_from_ms = moment.time_ms
    record_id = old.record_id
    REVISIONS.put(state, revision_key(record_id, old.revision), stored.raw)
    raw = encode(new)
    RECORDS.put(state, record_id, raw)
    _reindex(state, old, new)
    return Stored(raw, new)


def _reindex(state: Overlay, old: consent_pb2.ConsentRecord, new: consent_pb2.ConsentRecord) -> None:
    record_id = new.record_id
    was_expiring = old.state in EXPIRING_STATES
    is_expiring = new.state in EXPIRING_STATES
    moved = old.valid_until_ms != new.valid_until_ms
    if was_expiring and (not is_expiring or moved):
        EXPIRY.delete(state, expiry_key(old.valid_until_ms, record_id))
    if is_expiring and (not was_expiring or moved):
        EXPIRY.put(state, expiry_key(new.valid_until_ms, record_id), True)
    was_valid = old.state in VALID_STATES
    is_valid = new.state in VALID_STATES
    if was_valid and not is_valid:
        for purpose, category in covered_pairs(old):
            GRANTS.delete(state, coverage_prefix(old.subject, old.controller, purpose, category) + record_id)
    elif is_valid and not was_valid:
        _index_given(state, new)


def _index_given(state: Overlay, record: consent_pb2.ConsentRecord) -> None:
    """A record just became given: it covers its pairs now, and for every later moment it was valid at."""
    for purpose, category in covered_pairs(record):
        GRANTS.put(
            state, coverage_prefix(record.subject, record.controller, purpose, category) + record.record_id, True
        )
    _index_history(state, record)


def _index_history(state: Overlay, record: consent_pb2.ConsentRecord) -> None:
    suffix = history_suffix(record.valid_from_ms, record.record_id)
    for purpose, category in covered_pairs(record):
        HISTORY.put(state, coverage_prefix(record.subject, record.controller, purpose, category) + suffix, True)


def expire_due(ctx: HookContext, limit: int = DEFAULT_MAX_EXPIRIES_PER_BLOCK) -> None:
    """Expire up to `limit` records whose valid_until is at or before the block time, oldest due first; reads only
    the due prefix of the expiry index (and one entry past it)."""
    now = ctx.block.timestamp_ms
    due: list[bytes] = []
    for key, _ in EXPIRY.items(ctx.state):
        if int.from_bytes(key[:8], "big") > now or len(due) == limit:
            break
        due.append(key[8:])
    moment = Moment(now, ctx.block.height, b"")
    for record_id in due:
        stored = require(ctx.state, record_id)
        previous = stored.record.state
        expired = revise(ctx.state, stored, EXPIRED, moment, action="expire")
        record = expired.record
        ctx.emit(
            consent_pb2.ConsentExpired(
                record_id=record_id,
                subject=record.subject,
                controller=record.controller,
                revision=record.revision,
                revision_hash=expired.hash,
                previous_state=previous,
            )
        )
