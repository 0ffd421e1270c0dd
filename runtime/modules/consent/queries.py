"""Consent module queries: the check a CRM makes before each use of personal data, records, lists, access log.

`check` without a time is one index seek and one record read: consent/grant/<subject>/<controller>/<purpose>/
<category>/ holds exactly the records valid for processing. With `at_ms` it walks consent/history/... (records
given at or before that moment, newest first, at most MAX_HISTORY_SCAN of them) and finds each one's revision
in force at that moment by binary search over its revisions. `check_many` answers up to MAX_CHECKS of them from
the one state it is given (the node's Query RPC passes a snapshot), each exactly as `check` would.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, TypeVar

from dcrm.runtime.errors import DispatchError
from dcrm.runtime.module import QueryDef
from dcrm.runtime.modules.consent import errors, records, rules
from dcrm.runtime.modules.consent.records import INVALIDATED, Stored
from dcrm.runtime.modules.consent.storage import (
    ACCESS,
    BY_CONTROLLER,
    BY_SUBJECT,
    GRANTS,
    HISTORY,
    RECORD_ID_LENGTH,
    RECORDS,
    REVISIONS,
    TIME_BYTES,
    U64_MAX,
    be32,
    be64,
    coverage_prefix,
    revision_key,
)
from dcrm.runtime.modules.identity import lookup
from dcrm.runtime.modules.system import roles
from dcrm.runtime.state.kv import KVReader
from dcrm.runtime.storage import StorageMap
from dcrm.v1 import consent_pb2

V = TypeVar("V")

DEFAULT_PAGE = 50
MAX_PAGE = 100
MAX_HISTORY_SCAN = 32  # records examined by a check at a past moment (the most recent ones given before it)
MAX_CHECKS = 1_000  # checks in one check_many


def _page_limit(limit: int) -> int:
    if limit > MAX_PAGE:
        raise errors.BAD_PAGE(f"limit {limit} is over {MAX_PAGE}")
    return limit or DEFAULT_PAGE


# --- check ----------------------------------------------------------------------------------------


def check(state: KVReader, query: consent_pb2.CheckQuery) -> consent_pb2.CheckResult:
    rules.check_did(query.subject, "subject")
    rules.check_did(query.controller, "controller")
    rules.check_token(query.purpose, "purpose")
    rules.check_token(query.data_category, "data_category")
    prefix = coverage_prefix(query.subject, query.controller, query.purpose, query.data_category)
    if query.at_ms == 0:
        return _check_now(state, prefix)
    return _check_at(state, prefix, query.at_ms)


def check_many(state: KVReader, query: consent_pb2.CheckManyQuery) -> consent_pb2.CheckManyResult:
    """`check` of each query in order, all against `state`. A malformed check fails the whole batch with the
    error `check` raises, its message prefixed with the check's position (`checks[3]: subject ...`)."""
    if len(query.checks) > MAX_CHECKS:
        raise errors.BAD_LIST(
            f"checks holds {len(query.checks):,} checks, at most {MAX_CHECKS:,} allowed per check_many"
        )
    answers: list[consent_pb2.CheckResult] = []
    for position, item in enumerate(query.checks):
        try:
            answers.append(check(state, item))
        except DispatchError as error:
            raise error.error(f"checks[{position}]: {error.message}") from None
    return consent_pb2.CheckManyResult(results=answers)


def _check_now(state: KVReader, prefix: bytes) -> consent_pb2.CheckResult:
    for key, _ in GRANTS.items(state, prefix):
        record_id = key[len(prefix) :]
        stored = records.require(state, record_id)
        result = _result(stored.record, allowed=True)
        result.state_keys.extend([RECORDS.key(record_id), GRANTS.key(key)])
        return result
    return consent_pb2.CheckResult(
        allowed=False, reason="no given or renewed consent covers this purpose and data category"
    )


def _check_at(state: KVReader, prefix: bytes, at_ms: int) -> consent_pb2.CheckResult:
    denied: consent_pb2.CheckResult | None = None
    start = be64(U64_MAX - at_ms)
    for examined, (key, _) in enumerate(HISTORY.items(state, prefix, start)):
        if examined == MAX_HISTORY_SCAN:
            break
        record_id = key[len(prefix) + TIME_BYTES :]
        stored = records.require(state, record_id)
        if stored.record.state == INVALIDATED:
            denied = denied or _denied(stored.record, "the controller invalidated this consent", RECORDS.key(record_id))
            continue
        in_force, state_key = _revision_at(state, stored, at_ms)
        record = in_force.record
        if record.state in rules.VALID_STATES and record.valid_from_ms <= at_ms < record.valid_until_ms:
            result = _result(record, allowed=True)
            result.state_keys.extend(dict.fromkeys([RECORDS.key(record_id), state_key]))
            return result
        reason = (
            f"the consent was {rules.state_name(record.state)}"
            if record.state not in rules.VALID_STATES
            else f"the consent was valid until {record.valid_until_ms}"
        )
        denied = denied or _denied(record, reason, RECORDS.key(record_id), state_key)
    return denied or consent_pb2.CheckResult(
        allowed=False, reason=f"no consent given at or before {at_ms} covers this purpose and data category"
    )


def _revision_at(state: KVReader, stored: Stored, at_ms: int) -> tuple[Stored, bytes]:
    """The revision in force at `at_ms` (the last one made at or before it) and its state key."""
    current = stored.record
    record_id = current.record_id
    if current.event_time_ms <= at_ms:
        return stored, RECORDS.key(record_id)
    found: tuple[Stored, bytes] | None = None
    low, high = 0, current.revision - 1
    while low <= high:
        middle = (low + high) // 2
        revision = records.load_revision(state, record_id, middle)
        if revision is None:
            raise RuntimeError(f"record {record_id.hex()} lacks revision {middle}")
        if revision.record.event_time_ms <= at_ms:
            found = revision, REVISIONS.key(revision_key(record_id, middle))
            low = middle + 1
        else:
            high = middle - 1
    if found is None:  # the history index lists a record only from when it was given, so this cannot happen
        raise RuntimeError(f"record {record_id.hex()} has no revision at or before {at_ms}")
    return found


def _result(record: consent_pb2.ConsentRecord, *, allowed: bool) -> consent_pb2.CheckResult:
    return consent_pb2.CheckResult(
        allowed=allowed,
        record_id=record.record_id,
        state=record.state,
        revision=record.revision,
        valid_from_ms=record.valid_from_ms,
        valid_until_ms=record.valid_until_ms,
        ccpa_opt_out=record.terms.ccpa_opt_out,
        gpc=record.terms.gpc,
    )


def _denied(record: consent_pb2.ConsentRecord, reason: str, *keys: bytes) -> consent_pb2.CheckResult:
    result = _result(record, allowed=False)
    result.reason = reason
    result.state_keys.extend(dict.fromkeys(keys))
    return result


# --- records --------------------------------------------------------------------------------------


def record(state: KVReader, query: consent_pb2.RecordQuery) -> consent_pb2.RecordResult:
    rules.check_record_id(query.record_id)
    stored = records.require(state, query.record_id)
    return consent_pb2.RecordResult(revision_bytes=stored.raw, state_key=RECORDS.key(query.record_id))


def history(state: KVReader, query: consent_pb2.HistoryQuery) -> consent_pb2.HistoryResult:
    rules.check_record_id(query.record_id)
    limit = _page_limit(query.limit)
    current = records.require(state, query.record_id)
    last = current.record.revision
    result = consent_pb2.HistoryResult()
    for _key, raw in REVISIONS.items(state, query.record_id, be32(query.start_revision)):
        if len(result.revisions) == limit:
            break
        result.revisions.append(raw)
    if len(result.revisions) < limit and query.start_revision <= last:
        result.revisions.append(current.raw)
    result.next_revision = min(query.start_revision, last + 1) + len(result.revisions)
    result.more = result.next_revision <= last
    return result


def records_by_subject(state: KVReader, query: consent_pb2.ListQuery) -> consent_pb2.ListResult:
    return _listing(state, BY_SUBJECT, query)


def records_by_controller(state: KVReader, query: consent_pb2.ListQuery) -> consent_pb2.ListResult:
    return _listing(state, BY_CONTROLLER, query)


def _listing(state: KVReader, index: StorageMap[bool], query: consent_pb2.ListQuery) -> consent_pb2.ListResult:
    rules.check_did(query.did, "did")
    cursor_length = TIME_BYTES + RECORD_ID_LENGTH
    if query.start and len(query.start) != cursor_length:
        raise errors.BAD_PAGE(f"start must be empty or a {cursor_length}-byte `next` of a previous page")
    prefix = query.did.encode() + b"/"
    result = consent_pb2.ListResult()
    for cursor, _ in _page(index.items(state, prefix, query.start), prefix, _page_limit(query.limit), result):
        found = records.require(state, cursor[TIME_BYTES:]).record
        result.records.append(
            consent_pb2.RecordSummary(
                record_id=found.record_id,
                subject=found.subject,
                controller=found.controller,
                state=found.state,
                revision=found.revision,
                created_ms=found.created_ms,
                valid_until_ms=found.valid_until_ms,
            )
        )
    return result


def _page(
    items: Iterator[tuple[bytes, V]],
    prefix: bytes,
    limit: int,
    result: consent_pb2.ListResult | consent_pb2.AccessLogResult,
) -> Iterator[tuple[bytes, V]]:
    """(cursor, value) of one page, a cursor being the key without `prefix`; sets result.next past the page."""
    for count, (key, value) in enumerate(items):
        cursor = key[len(prefix) :]
        if count == limit:
            result.next = cursor
            return
        yield cursor, value


# --- access log -----------------------------------------------------------------------------------


def access_log(state: KVReader, query: consent_pb2.AccessLogQuery) -> consent_pb2.AccessLogResult:
    rules.check_did(query.subject, "subject")
    if query.start and len(query.start) != TIME_BYTES:
        raise errors.BAD_PAGE(f"start must be empty or the {TIME_BYTES}-byte `next` of a previous page")
    prefix = query.subject.encode() + b"/"
    result = consent_pb2.AccessLogResult()
    for _cursor, entry in _page(ACCESS.items(state, prefix, query.start), prefix, _page_limit(query.limit), result):
        result.entries.append(entry)
    return result


def did(state: KVReader, query: consent_pb2.DidQuery) -> consent_pb2.DidResult:
    """The DID's controlling account and whether it holds the role "controller" (a grant may name the DID)."""
    rules.check_dcrm_did(query.did, "did")
    account = lookup.controlling_account(state, query.did)
    if account is None:
        return consent_pb2.DidResult()
    return consent_pb2.DidResult(account=account, controller=roles.has_role(state, account, roles.CONTROLLER))


QUERIES: tuple[QueryDef[Any, Any], ...] = (
    QueryDef("check", consent_pb2.CheckQuery, consent_pb2.CheckResult, check),
    QueryDef("check_many", consent_pb2.CheckManyQuery, consent_pb2.CheckManyResult, check_many),
    QueryDef("record", consent_pb2.RecordQuery, consent_pb2.RecordResult, record),
    QueryDef("history", consent_pb2.HistoryQuery, consent_pb2.HistoryResult, history),
    QueryDef("records_by_subject", consent_pb2.ListQuery, consent_pb2.ListResult, records_by_subject),
    QueryDef("records_by_controller", consent_pb2.ListQuery, consent_pb2.ListResult, records_by_controller),
    QueryDef("access_log", consent_pb2.AccessLogQuery, consent_pb2.AccessLogResult, access_log),
    QueryDef("did", consent_pb2.DidQuery, consent_pb2.DidResult, did),
)
