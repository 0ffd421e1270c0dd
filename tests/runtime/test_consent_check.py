"""The consent module's reads: check now and at a past moment, the expiry hook, listings, history, access log."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from dcrm.runtime import STATE_PREFIX, QueryError
from dcrm.runtime.errors import ErrorKind
from dcrm.runtime.module import BlockContext, HookContext
from dcrm.runtime.modules.consent import queries, records
from dcrm.runtime.modules.consent.records import record_id_for
from dcrm.runtime.modules.identity.did import derive_did
from dcrm.runtime.state.kv import KVReader, KVStore
from dcrm.runtime.state.overlay import Overlay
from dcrm.runtime.state.prefixed import PrefixedReader
from dcrm.v1 import consent_pb2, identity_pb2
from tests.support.consent_chain import (
    ACCESSOR,
    ACME,
    ALICE,
    ALICE_DID,
    BOB,
    BOB_DID,
    CONTROLLER,
    DAY_MS,
    GLOBEX,
    RIVAL,
    ConsentChain,
    make_terms,
)
from tests.support.identity import DEACTIVATE_DID
from tests.support.identity import call as identity_call

GIVEN = consent_pb2.STATE_GIVEN


def withdraw(chain: ConsentChain, record_id: bytes) -> None:
    chain.ok(ALICE, consent_pb2.WithdrawConsent(record_id=record_id))


# --- check now ------------------------------------------------------------------------------------


def test_check_answers_with_the_covering_record_and_its_state_keys(store: KVStore) -> None:
    chain = ConsentChain(store)
    record_id = chain.grant(terms=make_terms(["newsletter", "offers"], ["email", "name"]))
    record = chain.record(record_id)
    for purpose in ("newsletter", "offers"):
        for category in ("email", "name"):
            result = chain.check(purpose, category)
            assert result.allowed
            assert not result.reason
            assert (result.record_id, result.state, result.revision) == (record_id, GIVEN, 0)
            assert (result.valid_from_ms, result.valid_until_ms) == (record.valid_from_ms, record.valid_until_ms)
            record_key, grant_key = result.state_keys
            assert record_key == b"consent/record/" + record_id
            assert grant_key == f"consent/grant/{ALICE_DID}/{ACME}/{purpose}/{category}/".encode() + record_id
            assert store.get(STATE_PREFIX + grant_key) is not None


def test_purpose_limitation(store: KVStore) -> None:
    chain = ConsentChain(store)
    chain.grant(terms=make_terms(["newsletter"], ["email"]))
    assert chain.check("newsletter", "email").allowed
    assert not chain.check("profiling", "email").allowed
    assert not chain.check("newsletter", "phone").allowed
    assert not chain.check(controller=GLOBEX).allowed
    assert not chain.check(subject=BOB_DID).allowed
    denied = chain.check("profiling", "email")
    assert (denied.record_id, list(denied.state_keys), denied.state) == (b"", [], consent_pb2.STATE_UNSPECIFIED)
    assert "no given or renewed consent" in denied.reason


def test_overlapping_records_are_independent(store: KVStore) -> None:
    chain = ConsentChain(store)
    first = chain.grant(ref=b"a")
    second = chain.grant(ref=b"b")
    assert chain.check().record_id == min(first, second)  # the index orders by record id
    withdraw(chain, min(first, second))
    assert chain.check().record_id == max(first, second)
    withdraw(chain, max(first, second))
    assert not chain.check().allowed


def test_check_reports_opt_out_flags(store: KVStore) -> None:
    chain = ConsentChain(store)
    terms = make_terms()
    terms.ccpa_opt_out = True
    terms.gpc = True
    chain.grant(terms=terms)
    result = chain.check()
    assert (result.allowed, result.ccpa_opt_out, result.gpc) == (True, True, True)


def test_check_rejects_malformed_queries(store: KVStore) -> None:
    chain = ConsentChain(store)
    for request in (
        consent_pb2.CheckQuery(subject="alice@example.com", controller=ACME, purpose="p", data_category="c"),
        consent_pb2.CheckQuery(subject=ALICE_DID, controller="acme", purpose="p", data_category="c"),
        consent_pb2.CheckQuery(subject=ALICE_DID, controller=ACME, purpose="a/b", data_category="c"),
    ):
        with pytest.raises(QueryError) as caught:
            chain.query("check", request, consent_pb2.CheckResult)
        assert caught.value.kind is ErrorKind.INVALID_ARGUMENT


# --- check at a past moment ----------------------------------------------------------------------------


def test_check_at_follows_the_record_history(store: KVStore) -> None:
    chain = ConsentChain(store)
    before = chain.now_ms
    record_id = chain.grant(valid_for_ms=5_000)
    given_at = chain.now_ms
    chain.advance(1)
    renew = consent_pb2.RenewConsent(record_id=record_id, valid_until_ms=chain.next_block_ms + 10_000)
    chain.ok(ALICE, renew)
    renewed_at = chain.now_ms
    chain.advance(1)
    withdraw(chain, record_id)
    withdrawn_at = chain.now_ms
    assert not chain.check(at_ms=before).allowed
    at_given = chain.check(at_ms=given_at)
    assert (at_given.allowed, at_given.state, at_given.revision) == (True, GIVEN, 0)
    assert at_given.state_keys == [b"consent/record/" + record_id, b"consent/revision/" + record_id + bytes(4)]
    at_renewed = chain.check(at_ms=renewed_at + 500)
    assert (at_renewed.allowed, at_renewed.state, at_renewed.revision) == (True, consent_pb2.STATE_RENEWED, 1)
    at_withdrawn = chain.check(at_ms=withdrawn_at)
    assert (at_withdrawn.allowed, at_withdrawn.state, at_withdrawn.record_id) == (
        False,
        consent_pb2.STATE_WITHDRAWN,
        record_id,
    )
    assert at_withdrawn.reason == "the consent was withdrawn"
    assert at_withdrawn.state_keys == [b"consent/record/" + record_id]  # the current revision is the one in force
    assert not chain.check(at_ms=withdrawn_at + DAY_MS).allowed


def test_check_at_sees_the_validity_window_before_the_chain_expires_it(store: KVStore) -> None:
    chain = ConsentChain(store)
    record_id = chain.grant(valid_for_ms=2_500)
    until = chain.record(record_id).valid_until_ms
    events = chain.advance(3)
    assert [event.name for event in events] == ["ConsentExpired"]
    assert chain.check(at_ms=until - 1).allowed
    late = chain.check(at_ms=until)  # the given revision was still in force, but its window had closed
    assert (late.allowed, late.state, late.reason) == (False, GIVEN, f"the consent was valid until {until}")


def test_check_at_for_a_granted_request_starts_when_it_was_given(store: KVStore) -> None:
    chain = ConsentChain(store)
    record_id = chain.request()
    requested_at = chain.now_ms
    chain.advance(2)
    chain.ok(ALICE, consent_pb2.GrantRequest(record_id=record_id))
    assert not chain.check(at_ms=requested_at + 1_000).allowed
    assert chain.check(at_ms=chain.now_ms).record_id == record_id


def test_invalidated_consent_is_denied_at_every_moment(store: KVStore) -> None:
    chain = ConsentChain(store)
    record_id = chain.grant()
    given_at = chain.now_ms
    assert chain.check(at_ms=given_at).allowed
    chain.ok(CONTROLLER, consent_pb2.InvalidateConsent(record_id=record_id))
    denied = chain.check(at_ms=given_at)
    assert (denied.allowed, denied.state, denied.reason) == (
        False,
        consent_pb2.STATE_INVALIDATED,
        "the controller invalidated this consent",
    )


def test_check_at_falls_back_to_an_older_record(store: KVStore) -> None:
    chain = ConsentChain(store)
    older = chain.grant(ref=b"old")
    newer = chain.grant(ref=b"new")
    withdraw(chain, newer)
    result = chain.check(at_ms=chain.now_ms)
    assert (result.allowed, result.record_id) == (True, older)


def test_check_at_examines_a_bounded_number_of_records(store: KVStore) -> None:
    chain = ConsentChain(store)
    oldest = chain.grant(ref=b"keep")
    refs = [b"w%d" % n for n in range(queries.MAX_HISTORY_SCAN)]
    until = chain.next_block_ms + DAY_MS
    chain.apply(
        [
            chain.sign(
                ALICE,
                consent_pb2.GrantConsent(
                    client_ref=ref, subject=ALICE_DID, controller=ACME, terms=make_terms(), valid_until_ms=until
                ),
            )
            for ref in refs
        ]
    )
    chain.apply(
        [chain.sign(ALICE, consent_pb2.WithdrawConsent(record_id=record_id_for(ALICE.account_id, ref))) for ref in refs]
    )
    assert chain.check().record_id == oldest  # now: the index of valid records has no such limit
    bounded = chain.check(at_ms=chain.now_ms)  # the newest MAX_HISTORY_SCAN are withdrawn; the scan stops there
    assert not bounded.allowed
    assert bounded.state == consent_pb2.STATE_WITHDRAWN
    earlier = chain.check(at_ms=chain.now_ms - 2_000)  # before the others were given, the oldest is found
    assert (earlier.allowed, earlier.record_id) == (True, oldest)


# --- expiry --------------------------------------------------------------------------------------------


def test_records_expire_at_valid_until_without_a_transaction(store: KVStore) -> None:
    chain = ConsentChain(store)
    record_id = chain.grant(valid_for_ms=3_000)
    request_id = chain.request(valid_for_ms=1_000)
    until = chain.record(record_id).valid_until_ms
    first = chain.advance(1)
    assert chain.now_ms < until
    assert [consent_pb2.ConsentExpired.FromString(e.data).record_id for e in first] == [request_id]
    assert chain.check().allowed
    second = chain.advance(1)
    assert chain.now_ms == until
    event = consent_pb2.ConsentExpired.FromString(second[0].data)
    record = chain.record(record_id)
    assert (event.record_id, event.previous_state, event.revision) == (record_id, GIVEN, 1)
    assert (record.state, record.event_time_ms, record.changed_by) == (consent_pb2.STATE_EXPIRED, until, b"")
    assert not chain.check().allowed
    assert chain.advance(3) == []


def test_renewal_moves_the_expiry(store: KVStore) -> None:
    chain = ConsentChain(store)
    record_id = chain.grant(valid_for_ms=2_000)
    renew = consent_pb2.RenewConsent(record_id=record_id, valid_until_ms=chain.next_block_ms + 5_000)
    chain.ok(ALICE, renew)
    assert chain.advance(3) == []
    assert [event.name for event in chain.advance(2)] == ["ConsentExpired"]


class CountingReader:
    """Counts the expiry index entries a hook reads."""

    def __init__(self, base: KVReader) -> None:
        self.base = base
        self.expiry_reads = 0

    def get(self, key: bytes) -> bytes | None:
        return self.base.get(key)

    def iterate(self, prefix: bytes, start: bytes = b"") -> Iterator[tuple[bytes, bytes]]:
        for item in self.base.iterate(prefix, start):
            if item[0].startswith(b"consent/expiry/"):
                self.expiry_reads += 1
            yield item


def test_the_expiry_hook_reads_only_the_due_prefix(store: KVStore) -> None:
    chain = ConsentChain(store)
    chain.apply(
        [
            chain.sign(
                ALICE,
                consent_pb2.GrantConsent(
                    client_ref=bytes([n + 1]),
                    subject=ALICE_DID,
                    controller=ACME,
                    terms=make_terms(),
                    valid_until_ms=chain.next_block_ms + (1 if n < 3 else 100) * DAY_MS,
                ),
            )
            for n in range(40)
        ]
    )
    reader = CountingReader(PrefixedReader(store, STATE_PREFIX))
    ctx = HookContext(Overlay(reader), BlockContext("dcrm-test", 99, chain.now_ms + 2 * DAY_MS, bytes(20)), "consent")
    records.expire_due(ctx)
    assert len(ctx.events) == 3
    assert reader.expiry_reads == 4  # the three due entries and the first one that is not


def test_expiry_work_per_block_is_capped(store: KVStore) -> None:
    chain = ConsentChain(store, max_expiries_per_block=2)
    until = chain.next_block_ms + 1_000
    chain.apply(
        [
            chain.sign(
                ALICE,
                consent_pb2.GrantConsent(
                    client_ref=bytes([n + 1]),
                    subject=ALICE_DID,
                    controller=ACME,
                    terms=make_terms(),
                    valid_until_ms=until,
                ),
            )
            for n in range(5)
        ]
    )
    assert [len(chain.advance(1)) for _ in range(4)] == [2, 2, 1, 0]
    assert not chain.check().allowed


# --- listings, history, access log, did ----------------------------------------------------------------


def test_listings_page_in_creation_order(store: KVStore) -> None:
    chain = ConsentChain(store)
    mine = [chain.grant(ref=bytes([n + 1])) for n in range(5)]
    chain.grant(BOB, subject=BOB_DID, ref=b"bob")
    chain.grant(ref=b"globex", controller=GLOBEX)
    pages: list[list[bytes]] = []
    start = b""
    while True:
        request = consent_pb2.ListQuery(did=ALICE_DID, start=start, limit=2)
        page = chain.query("records_by_subject", request, consent_pb2.ListResult)
        pages.append([summary.record_id for summary in page.records])
        if not page.next:
            break
        start = page.next
    assert [len(page) for page in pages] == [2, 2, 2]
    assert [record_id for page in pages for record_id in page][:5] == mine
    by_acme = chain.query("records_by_controller", consent_pb2.ListQuery(did=ACME), consent_pb2.ListResult)
    assert len(by_acme.records) == 6
    assert not by_acme.next
    summary = by_acme.records[0]
    assert (summary.subject, summary.controller, summary.state, summary.revision) == (ALICE_DID, ACME, GIVEN, 0)
    nobody = chain.query("records_by_subject", consent_pb2.ListQuery(did="did:dcrm:nobody"), consent_pb2.ListResult)
    assert list(nobody.records) == []
    assert not nobody.next


def test_page_arguments_are_bounded(store: KVStore) -> None:
    chain = ConsentChain(store)
    for method, request, result_type in (
        ("records_by_subject", consent_pb2.ListQuery(did=ALICE_DID, limit=101), consent_pb2.ListResult),
        ("records_by_subject", consent_pb2.ListQuery(did=ALICE_DID, start=b"short"), consent_pb2.ListResult),
        ("access_log", consent_pb2.AccessLogQuery(subject=ALICE_DID, start=b"short"), consent_pb2.AccessLogResult),
        ("history", consent_pb2.HistoryQuery(record_id=bytes(16), limit=101), consent_pb2.HistoryResult),
    ):
        with pytest.raises(QueryError) as caught:
            chain.query(method, request, result_type)
        assert caught.value.kind is ErrorKind.INVALID_ARGUMENT
        message = caught.value.message
        assert "limit 101 is over 100" in message or "start must be empty" in message


def test_history_returns_every_revision_in_order(store: KVStore) -> None:
    chain = ConsentChain(store)
    record_id = chain.request()
    chain.ok(ALICE, consent_pb2.GrantRequest(record_id=record_id))
    chain.ok(ALICE, consent_pb2.RenewConsent(record_id=record_id, valid_until_ms=chain.next_block_ms + 60 * DAY_MS))
    withdraw(chain, record_id)
    first = chain.query("history", consent_pb2.HistoryQuery(record_id=record_id, limit=3), consent_pb2.HistoryResult)
    assert (len(first.revisions), first.next_revision, first.more) == (3, 3, True)
    rest = chain.query(
        "history", consent_pb2.HistoryQuery(record_id=record_id, start_revision=3), consent_pb2.HistoryResult
    )
    assert (len(rest.revisions), rest.next_revision, rest.more) == (1, 4, False)
    revisions = [consent_pb2.ConsentRecord.FromString(raw) for raw in [*first.revisions, *rest.revisions]]
    assert [rev.state for rev in revisions] == [
        consent_pb2.STATE_REQUESTED,
        GIVEN,
        consent_pb2.STATE_RENEWED,
        consent_pb2.STATE_WITHDRAWN,
    ]
    assert [rev.revision for rev in revisions] == [0, 1, 2, 3]
    with pytest.raises(QueryError) as caught:
        chain.query("history", consent_pb2.HistoryQuery(record_id=bytes(16)), consent_pb2.HistoryResult)
    assert caught.value.kind is ErrorKind.NOT_FOUND


def test_the_subject_lists_every_access_in_pages(store: KVStore) -> None:
    chain = ConsentChain(store)
    alice = chain.grant()
    bob = chain.grant(BOB, subject=BOB_DID, ref=b"bob")
    for n in range(5):
        record_id = alice if n != 2 else bob
        chain.ok(
            CONTROLLER,
            consent_pb2.LogAccess(
                record_id=record_id, purpose="newsletter", data_categories=["email"], accessor=ACCESSOR
            ),
        )
    first = chain.query(
        "access_log", consent_pb2.AccessLogQuery(subject=ALICE_DID, limit=3), consent_pb2.AccessLogResult
    )
    assert [entry.seq for entry in first.entries] == [0, 1, 3]
    rest = chain.query(
        "access_log", consent_pb2.AccessLogQuery(subject=ALICE_DID, start=first.next), consent_pb2.AccessLogResult
    )
    assert [entry.seq for entry in rest.entries] == [4]
    assert not rest.next
    bobs = chain.query("access_log", consent_pb2.AccessLogQuery(subject=BOB_DID), consent_pb2.AccessLogResult)
    assert [(entry.seq, entry.record_id) for entry in bobs.entries] == [(2, bob)]


def test_did_query_reads_the_identity_module(store: KVStore) -> None:
    chain = ConsentChain(store)

    def did(value: str) -> tuple[bytes, bool]:
        result = chain.query("did", consent_pb2.DidQuery(did=value), consent_pb2.DidResult)
        return result.account, result.controller

    assert did(GLOBEX) == (RIVAL.account_id, True)  # a grant may name GLOBEX as its controller
    assert did(BOB_DID) == (BOB.account_id, False)  # BOB controls it but does not hold the role "controller"
    assert did(derive_did(BOB.account_id, b"never-created")) == (b"", False)
    assert identity_call(chain.harness, RIVAL, DEACTIVATE_DID, identity_pb2.DeactivateDid(did=GLOBEX)).success
    assert did(GLOBEX) == (b"", False)
    with pytest.raises(QueryError, match="is not a did:dcrm DID"):
        did("did:web:acme.example")
