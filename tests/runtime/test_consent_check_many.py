"""The consent module's batch query `check_many`: each result is what `check` answers for its tuple, in order;
the batch is bounded; a malformed check fails the batch naming its position."""

from __future__ import annotations

import pytest

from dcrm.runtime import QueryError
from dcrm.runtime.errors import ErrorKind
from dcrm.runtime.modules.consent.queries import MAX_CHECKS
from dcrm.runtime.state.kv import KVStore
from dcrm.v1 import consent_pb2
from tests.support.consent_chain import ACME, ALICE_DID, BOB, BOB_DID, GLOBEX, ConsentChain, make_terms


def check_many(chain: ConsentChain, checks: list[consent_pb2.CheckQuery]) -> list[consent_pb2.CheckResult]:
    result = chain.query("check_many", consent_pb2.CheckManyQuery(checks=checks), consent_pb2.CheckManyResult)
    return list(result.results)


def query(
    subject: str = ALICE_DID,
    purpose: str = "newsletter",
    category: str = "email",
    *,
    controller: str = ACME,
    at_ms: int = 0,
) -> consent_pb2.CheckQuery:
    return consent_pb2.CheckQuery(
        subject=subject, controller=controller, purpose=purpose, data_category=category, at_ms=at_ms
    )


def mixed_checks(chain: ConsentChain) -> list[consent_pb2.CheckQuery]:
    """Alice gives ACME 2 purposes x 2 categories; Bob gives ACME newsletter/email, then withdraws it. The checks
    cover allowed and denied answers now and at past moments."""
    before = chain.now_ms
    chain.grant(terms=make_terms(["newsletter", "offers"], ["email", "name"]))
    bob_record = chain.grant(BOB, subject=BOB_DID)
    bob_given_at = chain.record(bob_record).valid_from_ms
    chain.advance(2)
    chain.ok(BOB, consent_pb2.WithdrawConsent(record_id=bob_record))
    withdrawn_at = chain.record(bob_record).event_time_ms
    return [
        query(),  # allowed now
        query(purpose="offers", category="name"),  # allowed now, another pair of the same record
        query(purpose="profiling"),  # denied: purpose not covered
        query(controller=GLOBEX),  # denied: another controller
        query(BOB_DID),  # denied now: withdrawn
        query(BOB_DID, at_ms=bob_given_at + 1),  # allowed at a moment it was given
        query(BOB_DID, at_ms=withdrawn_at),  # denied at the moment of the withdrawal
        query(at_ms=before),  # denied: before Alice's grant
        query(),  # the same tuple twice
    ]


def test_each_result_is_what_check_answers_for_its_tuple_in_order(store: KVStore) -> None:
    chain = ConsentChain(store)
    checks = mixed_checks(chain)
    singles = [chain.query("check", item, consent_pb2.CheckResult) for item in checks]
    assert [result.allowed for result in singles] == [True, True, False, False, False, True, False, False, True]
    assert singles[6].reason == "the consent was withdrawn"
    assert len(singles[5].state_keys) == 2
    assert singles[5].state_keys[1].startswith(b"consent/revision/")

    assert check_many(chain, checks) == singles
    assert check_many(chain, checks[::-1]) == singles[::-1]
    assert check_many(chain, []) == []


def test_a_batch_of_the_limit_is_answered_and_one_more_is_refused(store: KVStore) -> None:
    chain = ConsentChain(store)
    chain.grant()
    allowed = chain.check()
    assert allowed.allowed
    assert check_many(chain, [query()] * MAX_CHECKS) == [allowed] * MAX_CHECKS

    with pytest.raises(QueryError) as caught:
        check_many(chain, [query()] * (MAX_CHECKS + 1))
    assert caught.value.kind is ErrorKind.INVALID_ARGUMENT
    assert caught.value.message == (
        f"consent.check_many: checks holds {MAX_CHECKS + 1:,} checks, at most {MAX_CHECKS:,} allowed per check_many"
    )


def test_a_malformed_check_fails_the_batch_naming_its_position(store: KVStore) -> None:
    chain = ConsentChain(store)
    chain.grant()
    cases = (
        (query("alice@example.com"), "checks[1]: subject"),
        (query(controller="acme"), "checks[1]: controller 'acme' is not a DID"),
        (query(purpose="a/b"), "checks[1]: purpose 'a/b' is not 1-64 characters"),
    )
    for bad, expected in cases:
        with pytest.raises(QueryError) as single:
            chain.query("check", bad, consent_pb2.CheckResult)
        with pytest.raises(QueryError) as caught:
            check_many(chain, [query(), bad, query()])
        assert caught.value.kind is single.value.kind is ErrorKind.INVALID_ARGUMENT
        assert caught.value.message.startswith(f"consent.check_many: {expected}"), caught.value.message
        # the same error as `check` raises, with the position in front
        assert caught.value.message.removeprefix("consent.check_many: checks[1]: ") == (
            single.value.message.removeprefix("consent.check: ")
        )
