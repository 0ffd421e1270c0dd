"""`client.consent.check_many` against a real node process: the same answers as one `check` per tuple, in order,
unverified and verified (each distinct state key proven once); the node's limit and malformed checks."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import TypeVar

import pytest
from google.protobuf.message import Message

from dcrm.client import Client
from dcrm.client.certificates import ValidatorKey
from dcrm.client.consent import CheckTuple, ConsentApi
from dcrm.client.errors import CertificateError, InvalidArgument, ProtocolError
from dcrm.v1 import consent_pb2, node_pb2
from tests.node.test_modules_e2e import ALICE, BOB, DAY_MS, enterprise, now_ms
from tests.support.node_process import NodeProcess
from tests.support.runtime_harness import deterministic_key

R = TypeVar("R", bound=Message)

CAROL = deterministic_key(44)  # a customer who gives no consent
PURPOSES = ("newsletter", "offers")
EMAIL, NAME = "dpv-pd:EmailAddress", "dpv-pd:Name"


def terms() -> consent_pb2.Terms:
    """2 purposes x 2 data categories."""
    return consent_pb2.Terms(
        purposes=[consent_pb2.Purpose(id=purpose, category="dpv:DirectMarketing") for purpose in PURPOSES],
        data_categories=[consent_pb2.DataCategory(id=category) for category in (EMAIL, NAME)],
        lawful_basis="dpv-gdpr:A6-1-a",
        notice=consent_pb2.Notice(
            url="https://acme.example/privacy/v3", content_hash=hashlib.sha256(b"notice v3").digest(), version="v3",
            language="en",
        ),
        collection_method="web-form",
        collection_channel="website",
        consent_type=consent_pb2.CONSENT_TYPE_EXPRESS,
        retention_ms=365 * DAY_MS,
        storage_locations=["EU"],
        jurisdiction="EU",
        withdrawal_method="https://acme.example/consent",
    )  # fmt: skip


class CountingClient:
    """A ConsentClient that passes everything to the real client and records the keys it is asked to prove; with
    `tamper`, it answers check_many with the first result's record id replaced."""

    def __init__(self, client: Client, *, tamper: bool = False) -> None:
        self.client = client
        self.tamper = tamper
        self.proven: list[bytes] = []

    def query(
        self, module: str, method: str, request: Message, result_type: type[R], *, timeout: float | None = None
    ) -> R:
        result = self.client.query(module, method, request, result_type, timeout=timeout)
        if self.tamper and isinstance(result, consent_pb2.CheckManyResult):
            result.results[0].record_id = bytes(16)
        return result

    def state_proof(
        self,
        key: bytes,
        *,
        verify: bool = True,
        validators: Sequence[ValidatorKey] | None = None,
        timeout: float | None = None,
    ) -> node_pb2.QueryStateResponse:
        self.proven.append(key)
        return self.client.state_proof(key, verify=verify, validators=validators, timeout=timeout)

    def chain_id(self) -> str:
        return self.client.chain_id()


def test_check_many_answers_as_check_does_for_each_tuple(node: NodeProcess, client: Client) -> None:
    _, acme_did = enterprise(client, node, "controller")
    alice, bob, carol = client.account(ALICE), client.account(BOB), client.account(CAROL)
    alice_did, bob_did, carol_did = (
        client.identity.create_did(account, account.key.public_key).did for account in (alice, bob, carol)
    )
    before_any = now_ms() - 1
    until = now_ms() + 180 * DAY_MS
    client.consent.grant(
        alice, client_ref=b"a", subject=alice_did, controller=acme_did, terms=terms(), valid_until_ms=until
    )
    bob_given = client.consent.grant(
        bob, client_ref=b"b", subject=bob_did, controller=acme_did, terms=terms(), valid_until_ms=until
    )
    given_at = client.consent.record(bob_given.record_id).valid_from_ms
    client.consent.withdraw(bob, bob_given.record_id)
    withdrawn_at = client.consent.record(bob_given.record_id).event_time_ms

    checks: list[CheckTuple] = [
        (alice_did, acme_did, "newsletter", EMAIL),  # allowed
        (alice_did, acme_did, "offers", NAME),  # allowed, another pair of the same record
        (alice_did, acme_did, "profiling", EMAIL),  # denied: purpose not covered
        (carol_did, acme_did, "newsletter", EMAIL),  # denied: no consent
        (bob_did, acme_did, "newsletter", EMAIL),  # denied now: withdrawn
        (bob_did, acme_did, "newsletter", EMAIL, given_at),  # allowed at the moment it was given
        (bob_did, acme_did, "newsletter", EMAIL, withdrawn_at),  # denied at the moment of the withdrawal
        (alice_did, acme_did, "newsletter", EMAIL, before_any),  # denied: before Alice's grant
        (alice_did, acme_did, "newsletter", EMAIL, None),  # the first tuple again: now
    ]
    singles = [
        client.consent.check(item[0], item[1], item[2], item[3], at_ms=item[4] if len(item) == 5 else None)
        for item in checks
    ]
    assert [single.allowed for single in singles] == [True, True, False, False, False, True, False, False, True]

    assert client.consent.check_many(checks) == singles
    assert client.consent.check_many(checks[::-1]) == singles[::-1]
    assert client.consent.check_many([]) == []

    # verified: the same answers, every distinct state key of the allowed ones proven exactly once
    counting = CountingClient(client)
    assert ConsentApi(counting).check_many(checks, verify=True) == singles
    distinct = dict.fromkeys(key for single in singles if single.allowed for key in single.state_keys)
    assert len(distinct) == 5  # Alice's record and 2 grant keys, Bob's record and revision 0; the repeat adds none
    assert counting.proven == list(distinct)

    with pytest.raises(CertificateError):  # proofs are checked against the validators given
        client.consent.check_many(checks, verify=True, validators=[BOB.public_key])
    with pytest.raises(ProtocolError, match=f"the proven record is {singles[0].record_id.hex()}, not 0000"):
        ConsentApi(CountingClient(client, tamper=True)).check_many(checks, verify=True)


def test_check_many_refuses_too_many_and_malformed_checks(node: NodeProcess, client: Client) -> None:
    _, acme_did = enterprise(client, node, "controller")
    alice = client.account(ALICE)
    alice_did = client.identity.create_did(alice, ALICE.public_key).did
    one: CheckTuple = (alice_did, acme_did, "newsletter", "dpv-pd:EmailAddress")

    assert [result.allowed for result in client.consent.check_many([one] * 1_000)] == [False] * 1_000
    with pytest.raises(InvalidArgument) as caught:
        client.consent.check_many([one] * 1_001)
    assert caught.value.details == "consent.check_many: checks holds 1,001 checks, at most 1,000 allowed per check_many"

    with pytest.raises(InvalidArgument) as malformed:
        client.consent.check_many([one, (alice_did, "acme", "newsletter", "dpv-pd:EmailAddress")])
    assert malformed.value.details.startswith("consent.check_many: checks[1]: controller 'acme' is not a DID")
    with pytest.raises(ValueError, match=r"checks\[1\] must be \(subject, controller, purpose, data_category"):
        client.consent.check_many([one, (alice_did, acme_did, "newsletter")])  # type: ignore[list-item]
