"""Consent module genesis: normally empty; a migrated chain brings its records and access log.

Records travel as the exact bytes of every revision (hex, oldest first), so their hash chains survive export and
import unchanged: `export(build(config)) == config`. Indexes are not part of the document; they are rebuilt.
Their subject and controller DIDs must be DIDs of the identity genesis (built before this module's).

    {"records": [{"revisions": ["<ConsentRecord hex>", ...]}],   # ascending record id
     "access_log": ["<AccessEntry hex>", ...]}                     # entry i has seq i
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

from google.protobuf.message import DecodeError, Message

from dcrm.runtime.errors import DispatchError
from dcrm.runtime.genesis import GenesisError, require_keys, require_list
from dcrm.runtime.modules.consent import records, rules
from dcrm.runtime.modules.consent.records import TRANSITIONS, Stored
from dcrm.runtime.modules.consent.storage import ACCESS, ACCESS_SEQ, RECORDS, REVISIONS, access_key
from dcrm.runtime.modules.identity import lookup
from dcrm.runtime.modules.identity.lookup import DidStatus
from dcrm.runtime.state.kv import KVReader
from dcrm.runtime.state.overlay import Overlay
from dcrm.v1 import consent_pb2

FIELD = "modules.consent"
SECTIONS = frozenset({"records", "access_log"})


def build(state: Overlay, config: Mapping[str, Any]) -> None:
    require_keys(config, FIELD, required=set(), optional=SECTIONS)
    stored: dict[bytes, consent_pb2.ConsentRecord] = {}
    previous = b""
    for position, item in enumerate(require_list(config.get("records", []), f"{FIELD}.records")):
        field = f"{FIELD}.records[{position}]"
        revisions = _parse_record(state, item, field)
        record_id = revisions[-1].record.record_id
        if record_id <= previous:
            raise GenesisError(field, "records must be in ascending record id order, each once")
        previous = record_id
        records.restore(state, revisions)
        stored[record_id] = revisions[-1].record
    log = require_list(config.get("access_log", []), f"{FIELD}.access_log")
    for seq, value in enumerate(log):
        field = f"{FIELD}.access_log[{seq}]"
        raw = _hex(value, field)
        entry = _decode(consent_pb2.AccessEntry, raw, field)
        _check_entry(entry, seq, stored, field)
        state.put(ACCESS.key(access_key(entry.subject, seq)), raw)  # the exact bytes, as exported
    if log:
        ACCESS_SEQ.put(state, len(log))


def export(state: KVReader) -> dict[str, Any]:
    config: dict[str, Any] = {}
    exported = []
    for record_id, current in RECORDS.items(state):
        revisions = [raw.hex() for _key, raw in REVISIONS.items(state, record_id)]
        exported.append({"revisions": [*revisions, current.hex()]})
    if exported:
        config["records"] = exported
    entries = sorted((consent_pb2.AccessEntry.FromString(raw).seq, raw) for _key, raw in state.iterate(ACCESS.prefix))
    if entries:
        config["access_log"] = [raw.hex() for _seq, raw in entries]
    return config


def _rule(field: str, check: Callable[[], None]) -> None:
    """Run a call's rule on imported data, reporting its message against the genesis field."""
    try:
        check()
    except DispatchError as error:
        raise GenesisError(field, error.message) from None


def _hex(value: Any, field: str) -> bytes:
    if isinstance(value, str) and len(value) % 2 == 0:
        try:
            return bytes.fromhex(value)
        except ValueError:
            pass
    raise GenesisError(field, "expected hex digits")


def _decode(message_type: type[Any], raw: bytes, field: str) -> Any:
    try:
        message: Message = message_type.FromString(raw)
    except DecodeError as error:
        raise GenesisError(field, f"not a {message_type.DESCRIPTOR.full_name}: {error}") from None
    return message


def _parse_record(state: KVReader, item: Any, field: str) -> list[Stored]:
    require_keys(item, field, required={"revisions"})
    values = require_list(item["revisions"], f"{field}.revisions")
    if not values:
        raise GenesisError(f"{field}.revisions", "at least one revision is required")
    revisions: list[Stored] = []
    for number, value in enumerate(values):
        revision_field = f"{field}.revisions[{number}]"
        raw = _hex(value, revision_field)
        revision = Stored(raw, _decode(consent_pb2.ConsentRecord, raw, revision_field))
        _check_revision(revision, revisions[-1] if revisions else None, number, revision_field)
        revisions.append(revision)
    current = revisions[-1].record
    for name in ("subject", "controller"):
        did = getattr(current, name)
        if lookup.did_status(state, did) is DidStatus.UNKNOWN:
            raise GenesisError(f"{field}.{name}", f"{did} is not a DID of the identity genesis")
    return revisions


def _check_revision(revision: Stored, previous: Stored | None, number: int, field: str) -> None:
    record = revision.record
    _rule(f"{field}.record_id", partial(rules.check_record_id, record.record_id, "record_id"))
    _rule(f"{field}.subject", partial(rules.check_dcrm_did, record.subject, "subject"))
    _rule(f"{field}.subject_account", partial(rules.check_account, record.subject_account, "subject_account"))
    _rule(f"{field}.controller", partial(rules.check_dcrm_did, record.controller, "controller"))
    _rule(f"{field}.controller_account", partial(rules.check_account, record.controller_account, "controller_account"))
    _rule(f"{field}.terms", partial(rules.check_terms, record.terms, "terms"))
    if record.state not in TRANSITIONS:
        raise GenesisError(f"{field}.state", "is not a consent state")
    if record.revision != number:
        raise GenesisError(f"{field}.revision", f"is {record.revision}, expected {number}")
    if previous is None:
        if record.predecessor_hash:
            raise GenesisError(f"{field}.predecessor_hash", "must be empty for revision 0")
        return
    before = previous.record
    if record.predecessor_hash != previous.hash:
        raise GenesisError(f"{field}.predecessor_hash", "is not sha256 of the previous revision's bytes")
    same = ("record_id", "subject", "subject_account", "controller", "controller_account", "created_ms")
    for name in same:
        if getattr(record, name) != getattr(before, name):
            raise GenesisError(f"{field}.{name}", "differs from the previous revision")
    if record.state not in TRANSITIONS[before.state]:
        change = f"{rules.state_name(before.state)} cannot become {rules.state_name(record.state)}"
        raise GenesisError(f"{field}.state", change)


def _check_entry(
    entry: consent_pb2.AccessEntry, seq: int, stored: Mapping[bytes, consent_pb2.ConsentRecord], field: str
) -> None:
    if entry.seq != seq:
        raise GenesisError(f"{field}.seq", f"is {entry.seq}, expected {seq}")
    record = stored.get(entry.record_id)
    if record is None:
        raise GenesisError(f"{field}.record_id", "names no record of this genesis")
    if (entry.subject, entry.controller) != (record.subject, record.controller):
        raise GenesisError(field, "subject and controller must be those of its record")
    _rule(f"{field}.purpose", partial(rules.check_token, entry.purpose, "purpose"))
    _rule(
        f"{field}.data_categories",
        partial(
            rules.check_codes, entry.data_categories, "data_categories", minimum=1, maximum=rules.MAX_DATA_CATEGORIES
        ),
    )
    _rule(f"{field}.accessor", partial(rules.check_accessor, entry.accessor))
