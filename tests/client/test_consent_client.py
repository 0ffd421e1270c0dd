"""The consent SDK against a real runtime: typed calls and errors, check with proofs, receipts verified offline.

The SDK talks to a RuntimeHarness through the seams the gRPC Client offers (`query`, `state_proof`,
`chain_id`, and an account's `submit_and_wait`); `state_proof` answers with a real state proof, header and a
commit certificate signed by the genesis validator, so receipts verify exactly as they would from a node.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Sequence
from typing import Any

import grpc
import pytest
from google.protobuf.message import Message

from dcrm.client.certificates import ValidatorKey, sign_vote, verify_commit_certificate
from dcrm.client.client import Client
from dcrm.client.consent import (
    ConsentApi,
    ConsentModuleError,
    InvalidTransition,
    NotSubject,
    PurposeNotCovered,
    ReceiptInvalid,
    grant_key,
    record_id_for,
    record_key,
    revision_key,
    verify_consent_receipt,
)
from dcrm.client.errors import (
    InvalidArgument,
    NotFound,
    ProtocolError,
    module_error_class,
)
from dcrm.client.keys import SigningKey, sha256
from dcrm.client.proof import verify_state_proof
from dcrm.client.transactions import decode_event
from dcrm.runtime.errors import TxRejected
from dcrm.runtime.modules.consent import errors as runtime_errors
from dcrm.runtime.modules.consent import records as runtime_records
from dcrm.runtime.modules.identity.did import derive_did
from dcrm.runtime.state.kv import MemoryKV
from dcrm.v1 import consent_pb2, node_pb2, types_pb2
from tests.support import harness_sdk
from tests.support.consent_chain import (
    ACCESSOR,
    ACME,
    ALICE,
    ALICE_DID,
    BOB,
    CONTROLLER,
    DAY_MS,
    MALLORY,
    ConsentChain,
    make_terms,
)
from tests.support.harness_sdk import R
from tests.support.runtime_harness import CHAIN_ID, RuntimeHarness, deterministic_key

VALIDATOR = deterministic_key(1000)  # the GenesisBuilder's validator
VALIDATORS: list[ValidatorKey] = [VALIDATOR.public_key]


class HarnessClient(harness_sdk.HarnessClient):
    """Query, QueryState (with a certificate from the genesis validator) and chain id, answered by the runtime."""

    def state_proof(
        self,
        key: bytes,
        *,
        verify: bool = True,
        validators: Sequence[ValidatorKey] | None = None,
        timeout: float | None = None,
    ) -> node_pb2.QueryStateResponse:
        harness = self.harness
        header = types_pb2.BlockHeader(
            chain_id=CHAIN_ID,
            height=harness.height,
            state_root=harness.root(),
            timestamp_ms=harness.timestamp_ms,
        ).SerializeToString(deterministic=True)
        block_hash = sha256(header)
        vote = types_pb2.VoteBody(
            kind=types_pb2.VoteBody.COMMIT, chain_id=CHAIN_ID, height=harness.height, block_hash=block_hash
        )
        certificate = types_pb2.CommitCertificate(
            height=harness.height, block_hash=block_hash, votes=[sign_vote(VALIDATOR, vote)]
        )
        response = node_pb2.QueryStateResponse(
            proof=harness.runtime.prove(harness.store, key), header=header, certificate=certificate
        )
        if verify:
            decoded = verify_commit_certificate(header, certificate, validators or VALIDATORS, CHAIN_ID)
            verify_state_proof(decoded.state_root, response.proof, key=key)
        return response

    def chain_id(self) -> str:
        return CHAIN_ID


class HarnessAccount(harness_sdk.HarnessAccount):
    """`Account.submit_and_wait`: one transaction per block; admission failures become InvalidArgument."""

    def call(self, module: int, method: int, args: Message) -> types_pb2.Receipt:
        try:
            return super().call(module, method, args)
        except TxRejected as error:
            self.harness.nonces.pop(self.key.account_id, None)  # the nonce was not used
            raise InvalidArgument(grpc.StatusCode.INVALID_ARGUMENT, error.message) from None


@pytest.fixture
def world() -> tuple[ConsentChain, ConsentApi]:
    chain = ConsentChain(MemoryKV())
    return chain, ConsentApi(HarnessClient(chain.harness))


def account(chain: ConsentChain, key: SigningKey) -> HarnessAccount:
    return HarnessAccount(chain.harness, key)


def grant(chain: ConsentChain, api: ConsentApi, ref: bytes = b"signup-42", **terms: Any) -> bytes:
    change = api.grant(
        account(chain, ALICE),
        client_ref=ref,
        subject=ALICE_DID,
        controller=ACME,
        terms=make_terms(**terms),
        valid_until_ms=chain.next_block_ms + 30 * DAY_MS,
    )
    return change.record_id


# --- ids, keys, errors, events --------------------------------------------------------------------------


def test_ids_and_keys_match_the_runtime(world: tuple[ConsentChain, ConsentApi]) -> None:
    chain, api = world
    assert record_id_for(ALICE.account_id, b"ref") == runtime_records.record_id_for(ALICE.account_id, b"ref")
    record_id = grant(chain, api)
    answer = api.check(ALICE_DID, ACME, "newsletter", "email")
    assert list(answer.state_keys) == [
        record_key(record_id),
        grant_key(ALICE_DID, ACME, "newsletter", "email", record_id),
    ]
    assert revision_key(record_id, 1) == b"consent/revision/" + record_id + b"\x00\x00\x00\x01"
    with pytest.raises(ValueError, match="client_ref must be 1 to 32 bytes"):
        record_id_for(ALICE.account_id, b"")
    with pytest.raises(ValueError, match="record_id must be 16 bytes"):
        record_key(b"short")


def test_every_error_code_has_its_class() -> None:
    for error in runtime_errors.ALL:
        cls = module_error_class(runtime_errors.INDEX, error.code)
        assert issubclass(cls, ConsentModuleError)
        assert cls is not ConsentModuleError
        assert cls.__name__ == error.name
        assert consent_pb2.Error.Name(error.code).replace("_", "").lower() == error.name.lower()  # type: ignore[arg-type]
        assert (cls.__doc__ or "").rstrip(".").lower() == error.doc.lower()
    assert {error.code for error in runtime_errors.ALL} == set(consent_pb2.Error.values()) - {0}


def test_calls_return_the_revision_they_made(world: tuple[ConsentChain, ConsentApi]) -> None:
    chain, api = world
    controller = account(chain, CONTROLLER)
    requested = api.request(
        controller,
        client_ref=b"campaign-7",
        subject=ALICE_DID,
        subject_account=ALICE.account_id,
        controller=ACME,
        terms=make_terms(["newsletter", "offers"], ["email"]),
        valid_until_ms=chain.next_block_ms + 30 * DAY_MS,
    )
    assert (requested.record_id, requested.revision) == (record_id_for(CONTROLLER.account_id, b"campaign-7"), 0)
    alice = account(chain, ALICE)
    given = api.grant_request(alice, requested.record_id, purposes=["newsletter"])
    record = api.record(requested.record_id)
    assert given.revision == 1
    assert given.revision_hash == sha256(record.SerializeToString(deterministic=True))
    renewed = api.renew(alice, requested.record_id, record.valid_until_ms + DAY_MS)
    assert renewed.revision == 2
    seq = api.log_access(
        controller, requested.record_id, purpose="newsletter", data_categories=["email"], accessor=ACCESSOR
    )
    assert seq == 0
    assert [entry.seq for entry in api.all_access(ALICE_DID)] == [0]
    assert api.terminate(controller, requested.record_id).revision == 3
    assert api.invalidate(controller, requested.record_id).revision == 4
    refused = api.request(
        controller,
        client_ref=b"campaign-8",
        subject=ALICE_DID,
        subject_account=ALICE.account_id,
        controller=ACME,
        terms=make_terms(),
        valid_until_ms=chain.next_block_ms + DAY_MS,
    )
    assert api.refuse(alice, refused.record_id).revision == 1


def test_controller_account_tells_whether_a_grant_may_name_the_did(world: tuple[ConsentChain, ConsentApi]) -> None:
    _chain, api = world
    assert api.controller_account(ACME) == CONTROLLER.account_id
    assert api.controller_account(ALICE_DID) is None  # ALICE controls it but holds no controller role
    assert api.controller_account(derive_did(ALICE.account_id, b"never-created")) is None
    with pytest.raises(InvalidArgument, match="is not a did:dcrm DID"):
        api.controller_account("did:web:acme.example")


def test_failed_calls_raise_typed_errors(world: tuple[ConsentChain, ConsentApi]) -> None:
    chain, api = world
    record_id = grant(chain, api)
    with pytest.raises(NotSubject) as caught:
        api.withdraw(account(chain, MALLORY), record_id)
    assert caught.value.code == consent_pb2.NOT_SUBJECT
    assert f"the caller {MALLORY.account_id.hex()} does not control subject {ALICE_DID}" in caught.value.message
    with pytest.raises(PurposeNotCovered):
        api.log_access(
            account(chain, CONTROLLER), record_id, purpose="ads", data_categories=["email"], accessor=ACCESSOR
        )
    unchecked = api.withdraw(account(chain, BOB), record_id, check=False)
    assert (unchecked.revision, unchecked.receipt.error.name) == (None, "NotSubject")
    api.withdraw(account(chain, ALICE), record_id)
    with pytest.raises(InvalidTransition):
        api.withdraw(account(chain, ALICE), record_id)
    with pytest.raises(InvalidArgument, match="looks like an e-mail address"):
        api.grant(
            account(chain, ALICE),
            client_ref=b"x",
            subject="did:dcrm:alice@example.com",
            controller=ACME,
            terms=make_terms(),
            valid_until_ms=chain.next_block_ms + DAY_MS,
        )


def test_consent_events_decode(world: tuple[ConsentChain, ConsentApi]) -> None:
    chain, api = world
    change = api.grant(
        account(chain, ALICE),
        client_ref=b"e",
        subject=ALICE_DID,
        controller=ACME,
        terms=make_terms(),
        valid_until_ms=chain.next_block_ms + DAY_MS,
    )
    event = decode_event(change.receipt.events[0])
    assert isinstance(event, consent_pb2.ConsentGiven)
    assert event.record_id == change.record_id


# --- check, with and without proofs --------------------------------------------------------------------


def test_check_with_proofs(world: tuple[ConsentChain, ConsentApi]) -> None:
    chain, api = world
    record_id = grant(chain, api)
    given_at = chain.now_ms
    answer = api.check(ALICE_DID, ACME, "newsletter", "email", verify=True)
    assert answer.allowed
    assert answer.record_id == record_id
    api.withdraw(account(chain, ALICE), record_id)
    assert not api.check(ALICE_DID, ACME, "newsletter", "email", verify=True).allowed
    past = api.check(ALICE_DID, ACME, "newsletter", "email", at_ms=given_at, verify=True)
    assert past.allowed
    assert past.revision == 0


class LyingClient(HarnessClient):
    """A node that says yes to every check, naming a real record."""

    def __init__(self, harness: RuntimeHarness, record_id: bytes) -> None:
        super().__init__(harness)
        self.record_id = record_id

    def query(
        self, module: str, method: str, request: Message, result_type: type[R], *, timeout: float | None = None
    ) -> R:
        answer = super().query(module, method, request, result_type)
        if method == "check":
            assert isinstance(answer, consent_pb2.CheckResult)
            answer.allowed = True
            answer.record_id = self.record_id
            answer.state_keys[:] = [record_key(self.record_id)]
        return answer


def test_check_with_proofs_catches_a_lying_node(world: tuple[ConsentChain, ConsentApi]) -> None:
    chain, api = world
    record_id = grant(chain, api)
    api.withdraw(account(chain, ALICE), record_id)
    lying = ConsentApi(LyingClient(chain.harness, record_id))
    assert lying.check(ALICE_DID, ACME, "newsletter", "email").allowed  # unverified, the lie goes through
    with pytest.raises(ProtocolError, match="is withdrawn"):
        lying.check(ALICE_DID, ACME, "newsletter", "email", verify=True)


# --- listings and history ---------------------------------------------------------------------------------


def test_all_records_follows_pages(world: tuple[ConsentChain, ConsentApi]) -> None:
    chain, api = world
    ids = [grant(chain, api, ref=bytes([n + 1])) for n in range(3)]
    assert [summary.record_id for summary in api.all_records(ALICE_DID)] == ids
    assert [summary.record_id for summary in api.all_records(ACME, by="controller")] == ids
    first = api.records_by_subject(ALICE_DID, limit=2)
    assert len(first.records) == 2
    assert first.next
    assert [s.record_id for s in api.records_by_subject(ALICE_DID, start=first.next).records] == ids[2:]
    with pytest.raises(ValueError, match="by must be"):
        next(api.all_records(ALICE_DID, by="processor"))


class TamperingClient(HarnessClient):
    def query(
        self, module: str, method: str, request: Message, result_type: type[R], *, timeout: float | None = None
    ) -> R:
        answer = super().query(module, method, request, result_type)
        if method == "history":
            assert isinstance(answer, consent_pb2.HistoryResult)
            first = consent_pb2.ConsentRecord.FromString(answer.revisions[0])
            first.terms.purposes[0].id = "anything"
            answer.revisions[0] = first.SerializeToString()
        return answer


def test_history_checks_the_hash_chain(world: tuple[ConsentChain, ConsentApi]) -> None:
    chain, api = world
    record_id = grant(chain, api)
    api.renew(account(chain, ALICE), record_id, chain.now_ms + 60 * DAY_MS)
    assert len(api.history(record_id)) == 2
    with pytest.raises(ProtocolError, match="predecessor_hash"):
        ConsentApi(TamperingClient(chain.harness)).history(record_id)


# --- receipts ----------------------------------------------------------------------------------------------


def make_receipt(chain: ConsentChain, api: ConsentApi) -> tuple[bytes, dict[str, Any]]:
    record_id = grant(
        chain,
        api,
        categories=["email", "health"],
        sensitive=["health"],
        consent_type=consent_pb2.CONSENT_TYPE_EXPLICIT,
    )
    api.renew(account(chain, ALICE), record_id, chain.now_ms + 90 * DAY_MS)
    return record_id, api.receipt(record_id)


def test_receipt_verifies_offline(world: tuple[ConsentChain, ConsentApi]) -> None:
    chain, api = world
    record_id, receipt = make_receipt(chain, api)
    text = json.dumps(receipt)
    verified = verify_consent_receipt(text, VALIDATORS)
    assert verified.record.record_id == record_id
    assert verified.record.state == consent_pb2.STATE_RENEWED
    assert verified.valid_for_processing
    assert [revision.state for revision in verified.history] == [consent_pb2.STATE_GIVEN]
    assert verified.header.height == chain.harness.height
    assert receipt["version"] == "KI-CR-v1.1.0"
    assert receipt["consentReceiptID"] == record_id.hex()
    assert receipt["piiPrincipalId"] == ALICE_DID
    assert (receipt["sensitive"], receipt["spiCat"]) == (True, ["health"])
    purpose = receipt["services"][0]["purposes"][0]
    assert (purpose["purpose"], purpose["consentType"], purpose["piiCategory"]) == (
        "newsletter",
        "EXPLICIT",
        ["email", "health"],
    )
    assert receipt["record"]["state"] == "renewed"
    assert receipt["record"]["signed_by"] == ALICE.account_id.hex()
    assert verify_consent_receipt(receipt, [VALIDATOR.account_id]).record == verified.record


def _tampered(receipt: dict[str, Any], path: Sequence[Any], value: Any) -> dict[str, Any]:
    changed = copy.deepcopy(receipt)
    target: Any = changed
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return changed


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (["piiPrincipalId"], "did:dcrm:someone-else", 'receipt field "piiPrincipalId"'),
        (["record", "state"], "given", 'receipt field "record"'),
        (["services", 0, "purposes", 0, "purpose"], "anything", 'receipt field "services"'),
        (["proof", "revision"], "00", "does not show the receipt's revision bytes"),
        (["proof", "state_key"], b"consent/record/other".hex(), "the proof does not verify"),
        (["proof", "header"], "", "the proof does not verify"),
        (["proof", "history"], [], "must list the 1 earlier revisions"),
        (["proof", "chain_id"], "another-chain", "the proof does not verify"),
        (["proof", "certificate"], "zz", "proof.certificate must be a hex string"),
    ],
)
def test_tampered_receipts_fail(
    world: tuple[ConsentChain, ConsentApi], path: list[Any], value: Any, message: str
) -> None:
    chain, api = world
    _, receipt = make_receipt(chain, api)
    with pytest.raises(ReceiptInvalid, match=message):
        verify_consent_receipt(json.dumps(_tampered(receipt, path, value)), VALIDATORS)


def test_receipt_needs_the_right_validators_and_chain(world: tuple[ConsentChain, ConsentApi]) -> None:
    chain, api = world
    _, receipt = make_receipt(chain, api)
    with pytest.raises(ReceiptInvalid, match="not a validator"):
        verify_consent_receipt(receipt, [deterministic_key(999).public_key])
    with pytest.raises(ReceiptInvalid, match="expected 'other-chain'"):
        verify_consent_receipt(receipt, VALIDATORS, chain_id="other-chain")
    with pytest.raises(ReceiptInvalid, match="not JSON"):
        verify_consent_receipt("{", VALIDATORS)


def test_receipt_of_a_missing_record(world: tuple[ConsentChain, ConsentApi]) -> None:
    _, api = world
    with pytest.raises(NotFound, match="no consent record has id"):
        api.receipt(bytes(16))
    with pytest.raises(NotFound):
        api.record(bytes(16))
    with pytest.raises(NotFound):
        api.record(bytes(16), verify=True)


def test_client_offers_the_consent_api() -> None:
    client = Client("127.0.0.1:1")
    try:
        assert isinstance(client.consent, ConsentApi)
    finally:
        client.close()
