"""The identity SDK against a real runtime: typed calls and errors, W3C resolution, VC 2.0 issue and verify.

The client side talks to a RuntimeHarness through the same two seams the gRPC Client offers (`query` and an
account's `submit_and_wait`), so every answer comes from the identity module itself.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import coincurve
import pytest

from dcrm.client.client import Client
from dcrm.client.credentials import (
    CredentialInvalid,
    StatusEntry,
    VerificationFailure,
    decode_status_list,
    encode_status_list,
    issue_credential,
    parse_time,
    proof_hash_data,
)
from dcrm.client.did import (
    base58btc_decode,
    base58btc_encode,
    did_for,
    from_public_key_multibase,
    to_public_key_multibase,
)
from dcrm.client.identity import (
    DidAlreadyExists,
    IdentityApi,
    IdentityModuleError,
    NotDidController,
    NotIssuer,
    RevocationPermanent,
    add_verification_method,
    verification_method,
    verify_credential,
)
from dcrm.client.keys import SigningKey
from dcrm.client.transactions import decode_event
from dcrm.runtime.modules.identity.did import base58btc as runtime_base58btc
from dcrm.runtime.modules.identity.did import derive_did
from dcrm.runtime.state.kv import MemoryKV
from dcrm.v1 import identity_pb2
from tests.support.harness_sdk import HarnessAccount, HarnessClient
from tests.support.runtime_harness import RuntimeHarness, deterministic_key

ADMIN = deterministic_key(0)
ACME = deterministic_key(10)
ALICE = deterministic_key(1)
MALLORY = deterministic_key(66)
NEW_ACME = deterministic_key(11)


@dataclass
class World:
    harness: RuntimeHarness
    api: IdentityApi
    client: HarnessClient
    issuer: str
    subject: str
    schema_id: str

    def account(self, key: SigningKey) -> HarnessAccount:
        return HarnessAccount(self.harness, key)

    def now(self, seconds_later: int = 0) -> datetime:
        return datetime.fromtimestamp(self.harness.timestamp_ms // 1000 + seconds_later, tz=UTC)

    def issue(self, key: SigningKey = ACME, index: int = 42, **options: Any) -> dict[str, Any]:
        fields: dict[str, Any] = {
            "claims": {"tier": "gold", "since_year": 2021},
            "schema_id": self.schema_id,
            "status_list_index": index,
            "valid_from": self.now(),
            "valid_until": None,
            "status_list_id": "revocations",
        }
        fields.update(options)
        return issue_credential(key, self.issuer, self.subject, **fields)

    def verify(self, vc: dict[str, Any], seconds_later: int = 60) -> Any:
        return verify_credential(self.client, vc, now=self.now(seconds_later))


@pytest.fixture
def world() -> World:
    harness = RuntimeHarness(MemoryKV())
    client = HarnessClient(harness)
    api = IdentityApi(client)
    acme = HarnessAccount(harness, ACME)
    issuer = api.create_did(acme, ACME.public_key, salt=b"acme").did
    api.register_issuer(HarnessAccount(harness, ADMIN), issuer)
    schema_id = api.register_schema(acme, issuer, "loyalty", "1.0", ["tier", "since_year"], '{"type": "object"}')
    api.create_status_list(acme, issuer, "revocations")
    api.create_status_list(acme, issuer, "suspensions", "suspension")
    subject = api.create_did(HarnessAccount(harness, ALICE), ALICE.public_key, salt=b"alice").did
    return World(harness, api, client, issuer, subject, schema_id)


# --- encodings, shared with the runtime -------------------------------------------------------------------


BASE58_VECTORS = [
    (b"", ""),
    (b"\x00", "1"),
    (b"\x00\x00\x01", "112"),
    (b"hello world", "StV1DL6CwTryKyV"),
    (bytes.fromhex("00eb15231dfceb60925886b67d065299925915aeb172c06647"), "1NS17iag9jJgTHD1VXjvLCEnZuQ3rJDE9L"),
]


@pytest.mark.parametrize(("raw", "text"), BASE58_VECTORS)
def test_base58btc_vectors_hold_for_sdk_and_runtime(raw: bytes, text: str) -> None:
    assert base58btc_encode(raw) == runtime_base58btc(raw) == text
    assert base58btc_decode(text) == raw


def test_did_derivation_matches_the_runtime() -> None:
    for salt in (b"a", b"\x00" * 32, bytes(range(16))):
        assert did_for(ALICE.account_id, salt) == derive_did(ALICE.account_id, salt)
    with pytest.raises(ValueError, match="salt must be 1 to 32 bytes"):
        did_for(ALICE.account_id, b"")
    with pytest.raises(ValueError, match="not base58btc"):
        base58btc_decode("0OIl")


def test_public_key_multibase_is_secp256k1_multicodec() -> None:
    encoded = to_public_key_multibase(ALICE.public_key)
    assert encoded.startswith("zQ3s")  # every base58btc 0xe7 0x01 + 33-byte key starts so
    assert base58btc_decode(encoded[1:])[:2] == b"\xe7\x01"
    assert from_public_key_multibase(encoded) == ALICE.public_key
    with pytest.raises(ValueError, match="secp256k1-pub"):
        from_public_key_multibase("z" + base58btc_encode(b"\xed\x01" + bytes(32)))


# --- DIDs ------------------------------------------------------------------------------------------------


def test_resolve_returns_w3c_shaped_document_and_metadata(world: World) -> None:
    result = world.api.resolve(world.issuer)
    document = result["didDocument"]
    assert document["@context"][0] == "https://www.w3.org/ns/did/v1"
    assert document["id"] == world.issuer
    assert document["controller"] == world.issuer
    key_id = f"{world.issuer}#key-1"
    assert document["verificationMethod"] == [
        {
            "id": key_id,
            "type": "Multikey",
            "controller": world.issuer,
            "publicKeyMultibase": to_public_key_multibase(ACME.public_key),
        }
    ]
    assert document["authentication"] == [key_id]
    assert document["assertionMethod"] == [key_id]
    assert "keyAgreement" not in document
    assert "service" not in document
    metadata = result["didDocumentMetadata"]
    assert metadata == {"created": "2023-11-14T22:13:21Z", "versionId": "1", "deactivated": False}
    assert result["didResolutionMetadata"] == {"contentType": "application/did+json"}
    missing = world.api.resolve(did_for(MALLORY.account_id, b"x"))
    assert missing["didDocument"] is None
    assert missing["didResolutionMetadata"] == {"error": "notFound"}


def test_rotation_history_and_typed_errors(world: World) -> None:
    acme = world.account(ACME)
    before = world.harness.height
    world.api.rotate_key(
        acme, world.issuer, old_fragment="key-1", new_fragment="key-2", new_public_key=NEW_ACME.public_key
    )
    now = world.api.resolve(world.issuer)
    assert [m["id"].split("#")[1] for m in now["didDocument"]["verificationMethod"]] == ["key-2"]
    assert now["didDocumentMetadata"]["versionId"] == "2"
    assert "updated" in now["didDocumentMetadata"]
    then = world.api.resolve(world.issuer, at_height=before)
    assert then["didDocument"]["verificationMethod"][0]["publicKeyMultibase"] == to_public_key_multibase(
        ACME.public_key
    )
    assert then["didDocumentMetadata"]["nextVersionId"] == "2"
    with pytest.raises(NotDidController) as raised:
        world.api.update_did(world.account(MALLORY), world.issuer, [add_verification_method("m", MALLORY.public_key)])
    assert isinstance(raised.value, IdentityModuleError)
    assert raised.value.code == identity_pb2.NOT_DID_CONTROLLER
    with pytest.raises(DidAlreadyExists):
        world.api.create_did(acme, ACME.public_key, salt=b"acme")
    with pytest.raises(NotIssuer):
        world.api.create_status_list(world.account(ALICE), world.subject, "mine")
    receipt = world.api.create_did(
        world.account(MALLORY),
        salt=b"m",
        verification_methods=[verification_method("k", MALLORY.public_key, key_agreement=True)],
        check=False,
    ).receipt
    created = decode_event(receipt.events[0])
    assert isinstance(created, identity_pb2.DidCreated)
    assert created.created_by == MALLORY.account_id


def test_status_list_credential_is_bitstring_status_list_shaped(world: World) -> None:
    world.api.revoke(world.account(ACME), world.issuer, "revocations", 3)
    assert world.api.status(world.issuer, "revocations", 3)
    credential = world.api.status_list_credential(world.issuer, "revocations")
    assert credential is not None
    assert credential["type"] == ["VerifiableCredential", "BitstringStatusListCredential"]
    subject = credential["credentialSubject"]
    assert subject["type"] == "BitstringStatusList"
    assert subject["statusPurpose"] == "revocation"
    encoded = subject["encodedList"]
    assert encoded[0] == "u"
    assert "=" not in encoded
    raw = gzip.decompress(base64.urlsafe_b64decode(encoded[1:] + "=" * (-len(encoded[1:]) % 4)))
    assert raw == decode_status_list(encoded)
    assert len(raw) == 16_384
    assert raw[0] == 0x10
    assert encode_status_list(raw) == encoded  # deterministic: no gzip timestamp
    assert world.api.status_list_credential(world.issuer, "nope") is None
    with pytest.raises(RevocationPermanent):
        world.api.unsuspend(world.account(ACME), world.issuer, "revocations", 3)


def test_decode_status_list_refuses_bombs_and_garbage() -> None:
    with pytest.raises(ValueError, match="expands past"):
        decode_status_list(encode_status_list(bytes(2 * 131_072)))
    with pytest.raises(ValueError, match="must start with 'u'"):
        decode_status_list("zabc")
    with pytest.raises(ValueError, match="not base64url GZIP"):
        decode_status_list("uAAAA")


# --- credentials ---------------------------------------------------------------------------------------


def test_issued_credential_is_vc2_and_verifies(world: World) -> None:
    vc = world.issue(valid_until=world.now(3600))
    assert vc["@context"][0] == "https://www.w3.org/ns/credentials/v2"
    assert "VerifiableCredential" in vc["type"]
    assert vc["id"].startswith("urn:uuid:")
    assert vc["credentialSubject"] == {"id": world.subject, "tier": "gold", "since_year": 2021}
    assert vc["credentialStatus"] == {
        "id": f"{world.issuer}/status/revocations#42",
        "type": "BitstringStatusListEntry",
        "statusPurpose": "revocation",
        "statusListIndex": "42",
        "statusListCredential": f"{world.issuer}/status/revocations",
    }
    assert vc["credentialSchema"]["id"] == world.schema_id
    assert vc["proof"]["cryptosuite"] == "dcrm-es256k-jcs-2025"
    verified = world.verify(vc)
    assert (verified.issuer, verified.subject, verified.issuer_version) == (world.issuer, world.subject, 1)
    assert verified.status_checked == (f"{world.issuer}/status/revocations#42",)
    reordered = dict(reversed(list(vc.items())))  # canonical JSON: key order does not matter
    assert world.verify(reordered).subject == world.subject


def test_proof_is_es256k_over_the_jcs_hashes(world: World) -> None:
    vc = world.issue()
    signature = base58btc_decode(vc["proof"]["proofValue"][1:])
    hash_data = proof_hash_data(vc, vc["proof"])
    unsecured = {k: v for k, v in vc.items() if k != "proof"}
    assert (
        hash_data[32:]
        == hashlib.sha256(
            __import__("rfc8785").dumps(unsecured)  # the credential half is the JCS hash of the unsecured document
        ).digest()
    )
    recovered = {
        coincurve.PublicKey.from_signature_and_message(signature + bytes([v]), hash_data).format() for v in (0, 1)
    }
    assert ACME.public_key in recovered


def test_revoked_and_suspended_credentials_fail_precisely(world: World) -> None:
    vc = world.issue(index=7, extra_status=[StatusEntry("suspensions", 7, "suspension")])
    assert len(world.verify(vc).status_checked) == 2
    acme = world.account(ACME)
    world.api.suspend(acme, world.issuer, "suspensions", 7)
    with pytest.raises(CredentialInvalid) as raised:
        world.verify(vc)
    assert raised.value.reason is VerificationFailure.SUSPENDED
    world.api.unsuspend(acme, world.issuer, "suspensions", 7)
    world.verify(vc)
    world.api.revoke(acme, world.issuer, "revocations", 7)
    with pytest.raises(CredentialInvalid) as raised:
        world.verify(vc)
    assert raised.value.reason is VerificationFailure.REVOKED
    assert f"index 7 of {world.issuer}/status/revocations is set" in raised.value.message


@pytest.mark.parametrize(
    "tamper",
    [
        lambda vc: vc["credentialSubject"].update(tier="platinum"),
        lambda vc: vc.update(validUntil="2099-01-01T00:00:00Z"),
        lambda vc: vc["credentialStatus"].update(statusListIndex="43", id=vc["credentialStatus"]["id"][:-2] + "43"),
        lambda vc: vc["proof"].update(created="2020-01-01T00:00:00Z"),
    ],
)
def test_tampered_credentials_fail_the_signature(world: World, tamper: Any) -> None:
    vc = world.issue()
    tamper(vc)
    with pytest.raises(CredentialInvalid) as raised:
        world.verify(vc)
    assert raised.value.reason is VerificationFailure.BAD_SIGNATURE


def test_high_s_twin_of_a_signature_is_refused(world: World) -> None:
    vc = world.issue()
    signature = base58btc_decode(vc["proof"]["proofValue"][1:])
    order = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
    high_s = (order - int.from_bytes(signature[32:], "big")).to_bytes(32, "big")
    vc["proof"]["proofValue"] = "z" + base58btc_encode(signature[:32] + high_s)
    with pytest.raises(CredentialInvalid) as raised:
        world.verify(vc)
    assert raised.value.reason is VerificationFailure.BAD_SIGNATURE


def test_key_rotation_keeps_old_credentials_and_rejects_the_removed_key(world: World) -> None:
    old = world.issue()
    world.harness.run_to_block(world.harness.height + 2)
    world.api.rotate_key(
        world.account(ACME),
        world.issuer,
        old_fragment="key-1",
        new_fragment="key-2",
        new_public_key=NEW_ACME.public_key,
    )
    assert world.verify(old).issuer_version == 1  # resolved at validFrom: key-1 was valid then
    after = world.issue()  # still signed with the removed key-1, valid from after the rotation
    with pytest.raises(CredentialInvalid) as raised:
        world.verify(after)
    assert raised.value.reason is VerificationFailure.KEY_NOT_VALID
    assert "(DID version 2)" in raised.value.message
    fresh = world.issue(NEW_ACME, key_fragment="key-2")
    assert world.verify(fresh).issuer_version == 2
    mislabeled = world.issue(MALLORY, key_fragment="key-2")
    with pytest.raises(CredentialInvalid) as raised:
        world.verify(mislabeled)
    assert raised.value.reason is VerificationFailure.BAD_SIGNATURE


def test_validity_window_is_checked(world: World) -> None:
    vc = world.issue(valid_from=world.now(), valid_until=world.now(10))
    with pytest.raises(CredentialInvalid) as raised:
        world.verify(vc, seconds_later=11)
    assert raised.value.reason is VerificationFailure.EXPIRED
    with pytest.raises(CredentialInvalid) as raised:
        verify_credential(world.client, vc, now=world.now() - timedelta(seconds=1))
    assert raised.value.reason is VerificationFailure.NOT_YET_VALID
    early = world.issue(valid_from=datetime(2020, 1, 1, tzinfo=UTC))
    with pytest.raises(CredentialInvalid) as raised:
        world.verify(early)
    assert raised.value.reason is VerificationFailure.ISSUER_NOT_FOUND


def test_schema_and_issuer_checks(world: World) -> None:
    unknown = world.issue(schema_id=f"{world.issuer}/schemas/loyalty/9.9")
    with pytest.raises(CredentialInvalid) as raised:
        world.verify(unknown)
    assert raised.value.reason is VerificationFailure.SCHEMA_NOT_REGISTERED
    extra = world.issue(claims={"tier": "gold", "email": "alice@example.com"})
    with pytest.raises(CredentialInvalid) as raised:
        world.verify(extra)
    assert raised.value.reason is VerificationFailure.CLAIMS_NOT_IN_SCHEMA
    assert "email" in raised.value.message
    wrong_list = world.issue(status_list_id="suspensions")
    with pytest.raises(CredentialInvalid) as raised:
        world.verify(wrong_list)
    assert raised.value.reason is VerificationFailure.STATUS_MISMATCH
    missing_list = world.issue(status_list_id="gone")
    with pytest.raises(CredentialInvalid) as raised:
        world.verify(missing_list)
    assert raised.value.reason is VerificationFailure.STATUS_LIST_NOT_FOUND
    vc = world.issue()
    world.api.remove_issuer(world.account(ADMIN), world.issuer)
    with pytest.raises(CredentialInvalid) as raised:
        world.verify(vc)
    assert raised.value.reason is VerificationFailure.ISSUER_NOT_REGISTERED
    world.api.deactivate_did(world.account(ACME), world.issuer)
    with pytest.raises(CredentialInvalid) as raised:
        world.verify(vc)
    assert raised.value.reason is VerificationFailure.ISSUER_DEACTIVATED


@pytest.mark.parametrize(
    ("tamper", "fragment"),
    [
        (lambda vc: vc.update({"@context": ["https://www.w3.org/2018/credentials/v1"]}), "@context"),
        (lambda vc: vc.update(type=["Credential"]), "VerifiableCredential"),
        (lambda vc: vc.update(issuer="did:web:acme.example"), "is not a did:dcrm DID"),
        (lambda vc: vc.update(validFrom="yesterday"), "validFrom 'yesterday'"),
        (lambda vc: vc["proof"].update(cryptosuite="ecdsa-rdfc-2019"), "proof.cryptosuite"),
        (lambda vc: vc["proof"].update(verificationMethod="did:dcrm:abc#key-1"), "is not a key of the issuer"),
        (lambda vc: vc["proof"].update(proofValue="zabc"), "64-byte signature"),
        (lambda vc: vc.pop("credentialStatus"), "credentialStatus must be"),
    ],
)
def test_malformed_credentials_say_what_is_wrong(world: World, tamper: Any, fragment: str) -> None:
    vc = world.issue()
    tamper(vc)
    with pytest.raises(CredentialInvalid) as raised:
        world.verify(vc)
    assert raised.value.reason is VerificationFailure.MALFORMED
    assert fragment in raised.value.message


def test_issue_refuses_bad_input(world: World) -> None:
    with pytest.raises(ValueError, match="must not contain 'id'"):
        world.issue(claims={"id": "did:dcrm:x"})
    with pytest.raises(ValueError, match="timezone-aware"):
        world.issue(valid_from=datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="cannot be canonicalized"):
        world.issue(claims={"tier": 2**60})


def test_client_exposes_identity_api() -> None:
    client = Client("127.0.0.1:1")
    try:
        assert isinstance(client.identity, IdentityApi)
        assert client.identity is client.identity
    finally:
        client.close()


def test_credential_issued_in_the_second_its_issuer_was_created_verifies() -> None:
    harness = RuntimeHarness(MemoryKV())
    harness.timestamp_ms += 500  # blocks carry milliseconds; validFrom states whole seconds
    client = HarnessClient(harness)
    api = IdentityApi(client)
    acme = HarnessAccount(harness, ACME)
    issuer = api.create_did(acme, ACME.public_key, salt=b"acme").did
    created_ms = harness.timestamp_ms
    api.register_issuer(HarnessAccount(harness, ADMIN), issuer)
    schema_id = api.register_schema(acme, issuer, "loyalty", "1.0", ["tier"], b"{}")
    api.create_status_list(acme, issuer, "revocations")
    vc = issue_credential(
        ACME, issuer, "did:dcrm:abc", {"tier": "gold"}, schema_id, 1, created_ms, status_list_id="revocations"
    )
    assert parse_time(vc["validFrom"], "validFrom") == created_ms - 500  # before the DID's version 1
    assert verify_credential(client, vc, now=datetime.fromtimestamp(created_ms // 1000 + 60, tz=UTC)).issuer == issuer
