"""The consent module's invariants as code, for tests and simulations (they read every key: never on chain).

`check_invariants(state, now_ms=None)` checks that:
- every record's revisions 0..n are stored, each revision's predecessor_hash is sha256 of the previous one's
  exact bytes, identity fields never change, and each state change is a DPV transition the module allows;
- consent/grant/... holds exactly the (pair, record) entries of records that are given or renewed;
- consent/history/... holds exactly the pairs of records that were ever given, keyed by their valid_from;
- consent/expiry/... holds exactly one entry per requested, given or renewed record, at its valid_until;
- every record is listed once under its subject and once under its controller;
- the access log holds entries 0..seq-1, each under its subject, naming an existing record;
- with `now_ms` (the time of a block whose expiry sweep was not capped), no record due at that time is still
  requested, given or renewed.
Raises AssertionError naming the first broken rule.
"""

from __future__ import annotations

from dcrm.runtime.crypto import sha256
from dcrm.runtime.modules.consent.records import EXPIRING_STATES, GIVEN, TRANSITIONS, Stored, covered_pairs, decode
from dcrm.runtime.modules.consent.rules import VALID_STATES
from dcrm.runtime.modules.consent.storage import (
    ACCESS,
    ACCESS_SEQ,
    BY_CONTROLLER,
    BY_SUBJECT,
    EXPIRY,
    GRANTS,
    HISTORY,
    RECORDS,
    REVISIONS,
    coverage_prefix,
    expiry_key,
    history_suffix,
    listing_key,
    revision_key,
)
from dcrm.runtime.state.kv import KVReader

__all__ = ["check_invariants"]

_IDENTITY = ("record_id", "subject", "subject_account", "controller", "controller_account", "created_ms")


def check_invariants(state: KVReader, now_ms: int | None = None) -> None:
    grants: set[bytes] = set()
    history: set[bytes] = set()
    expiry: set[bytes] = set()
    by_subject: set[bytes] = set()
    by_controller: set[bytes] = set()
    known: set[bytes] = set()
    for record_id, raw in RECORDS.items(state):
        current = decode(raw)
        record = current.record
        revisions = _check_chain(state, record_id, current)
        known.add(record_id)
        pairs = [coverage_prefix(record.subject, record.controller, p, c) for p, c in covered_pairs(record)]
        if record.state in VALID_STATES:
            grants.update(prefix + record_id for prefix in pairs)
        if any(revision.record.state == GIVEN for revision in revisions):
            history.update(prefix + history_suffix(record.valid_from_ms, record_id) for prefix in pairs)
        if record.state in EXPIRING_STATES:
            expiry.add(expiry_key(record.valid_until_ms, record_id))
            if now_ms is not None:
                _require(record.valid_until_ms > now_ms, f"record {record_id.hex()} is past due at {now_ms}")
        by_subject.add(listing_key(record.subject, record.created_ms, record_id))
        by_controller.add(listing_key(record.controller, record.created_ms, record_id))
    _same("consent/grant", {key for key, _ in GRANTS.items(state)}, grants)
    _same("consent/history", {key for key, _ in HISTORY.items(state)}, history)
    _same("consent/expiry", {key for key, _ in EXPIRY.items(state)}, expiry)
    _same("consent/by_subject", {key for key, _ in BY_SUBJECT.items(state)}, by_subject)
    _same("consent/by_controller", {key for key, _ in BY_CONTROLLER.items(state)}, by_controller)
    stored_revisions = {key[:16] for key, _ in REVISIONS.items(state)}
    _require(stored_revisions <= known, "a revision is stored for a record that does not exist")
    _check_access_log(state, known)


def _check_chain(state: KVReader, record_id: bytes, current: Stored) -> list[Stored]:
    revisions: list[Stored] = []
    for number in range(current.record.revision):
        raw = REVISIONS.get(state, revision_key(record_id, number))
        if raw is None:
            raise AssertionError(f"record {record_id.hex()} lacks revision {number}")
        revisions.append(decode(raw))
    revisions.append(current)
    for number, revision in enumerate(revisions):
        record = revision.record
        _require(record.revision == number, f"record {record_id.hex()}: revision {number} says {record.revision}")
        if number == 0:
            _require(not record.predecessor_hash, f"record {record_id.hex()}: revision 0 has a predecessor")
            continue
        before = revisions[number - 1]
        _require(record.predecessor_hash == sha256(before.raw), f"record {record_id.hex()}: chain broken at {number}")
        for name in _IDENTITY:
            _require(getattr(record, name) == getattr(before.record, name), f"record {record_id.hex()}: {name} changed")
        _require(record.state in TRANSITIONS[before.record.state], f"record {record_id.hex()}: bad transition {number}")
        _require(record.event_time_ms >= before.record.event_time_ms, f"record {record_id.hex()}: time went back")
    return revisions


def _check_access_log(state: KVReader, known: set[bytes]) -> None:
    count = ACCESS_SEQ.get(state) or 0
    seqs = []
    for key, entry in ACCESS.items(state):
        _require(key == entry.subject.encode() + b"/" + entry.seq.to_bytes(8, "big"), f"access {entry.seq} misfiled")
        _require(entry.record_id in known, f"access {entry.seq} names an unknown record")
        seqs.append(entry.seq)
    _require(sorted(seqs) == list(range(count)), f"access log seqs are not 0..{count - 1}")


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise AssertionError(message)


def _same(item: str, found: set[bytes], expected: set[bytes]) -> None:
    extra = sorted(found - expected)
    if extra:
        raise AssertionError(f"{item} has an entry no record explains: {extra[0]!r}")
    missing = sorted(expected - found)
    if missing:
        raise AssertionError(f"{item} lacks an entry: {missing[0]!r}")
