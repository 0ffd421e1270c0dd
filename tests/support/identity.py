"""Helpers for identity module tests: calls by name, queries, and the no-trace check of failed calls."""

from __future__ import annotations

from typing import Any, TypeVar

from google.protobuf.message import Message

from dcrm.client.keys import SigningKey
from dcrm.runtime import STATE_PREFIX
from dcrm.runtime.modules.identity.did import derive_did
from dcrm.v1 import identity_pb2, types_pb2
from tests.support.runtime_harness import RuntimeHarness

MODULE = 1
CREATE_DID, UPDATE_DID, DEACTIVATE_DID = 0, 1, 2
REGISTER_ISSUER, REMOVE_ISSUER, REGISTER_SCHEMA = 3, 4, 5
CREATE_STATUS_LIST, UPDATE_CREDENTIAL_STATUS = 6, 7
LIST_SIZE = 131_072
SCHEMA_HASH = bytes(range(32))

R = TypeVar("R", bound=Message)


def key_method(
    key: SigningKey, fragment: str = "key-1", *, authentication: bool = True, assertion: bool = True
) -> identity_pb2.VerificationMethod:
    return identity_pb2.VerificationMethod(
        fragment=fragment,
        type=identity_pb2.MULTIKEY,
        public_key=key.public_key,
        authentication=authentication,
        assertion_method=assertion,
    )


def genesis_did(key: SigningKey, salt: bytes, timestamp_ms: int) -> dict[str, Any]:
    """A DID of `key`'s account for an identity genesis (`export`'s shape): the account controls it and its key
    is #key-1 in authentication and assertionMethod."""
    method = {
        "fragment": "key-1",
        "type": "Multikey",
        "public_key": key.public_key.hex(),
        "relationships": ["authentication", "assertionMethod"],
    }
    version = {
        "height": 0,
        "timestamp_ms": timestamp_ms,
        "deactivated": False,
        "controller_account": key.account_id.hex(),
        "controllers": [],
        "verification_methods": [method],
        "services": [],
    }
    return {"did": derive_did(key.account_id, salt), "versions": [version]}


def identity_genesis(dids: list[dict[str, Any]]) -> dict[str, Any]:
    """An identity genesis holding `dids` (sorted as build requires) and nothing else."""
    return {
        "dids": sorted(dids, key=lambda entry: str(entry["did"])),
        "issuers": [],
        "schemas": [],
        "status_lists": [],
    }


def call(harness: RuntimeHarness, key: SigningKey, method: int, args: Message) -> types_pb2.Receipt:
    return harness.call(key, MODULE, method, args)


def create_did(
    harness: RuntimeHarness,
    key: SigningKey,
    salt: bytes = b"salt",
    methods: list[identity_pb2.VerificationMethod] | None = None,
    controllers: list[str] | None = None,
) -> str:
    """Create a DID (by default with `key` as #key-1 in authentication and assertionMethod); returns it."""
    args = identity_pb2.CreateDid(
        salt=salt,
        verification_methods=[key_method(key)] if methods is None else methods,
        controllers=controllers or [],
    )
    receipt = call(harness, key, CREATE_DID, args)
    assert receipt.success, receipt.error
    return derive_did(key.account_id, salt)


def update(
    harness: RuntimeHarness, key: SigningKey, did: str, *operations: identity_pb2.DidOperation
) -> types_pb2.Receipt:
    return call(harness, key, UPDATE_DID, identity_pb2.UpdateDid(did=did, operations=operations))


def add_key(key: SigningKey, fragment: str, *, authentication: bool = True) -> identity_pb2.DidOperation:
    method = key_method(key, fragment, authentication=authentication)
    return identity_pb2.DidOperation(add_verification_method=identity_pb2.AddVerificationMethod(method=method))


def remove_key(fragment: str) -> identity_pb2.DidOperation:
    return identity_pb2.DidOperation(
        remove_verification_method=identity_pb2.RemoveVerificationMethod(fragment=fragment)
    )


def make_issuer(harness: RuntimeHarness, admin: SigningKey, key: SigningKey, salt: bytes = b"issuer") -> str:
    """A DID of `key`'s account, registered as an issuer by `admin`."""
    did = create_did(harness, key, salt)
    receipt = call(harness, admin, REGISTER_ISSUER, identity_pb2.RegisterIssuer(did=did))
    assert receipt.success, receipt.error
    return did


def query(harness: RuntimeHarness, method: str, request: Message, result_type: type[R]) -> R:
    raw = harness.runtime.query(harness.store, "identity", method, request.SerializeToString())
    return result_type.FromString(raw)


def resolve(harness: RuntimeHarness, did: str) -> identity_pb2.DidVersion:
    return query(harness, "resolve", identity_pb2.ResolveQuery(did=did), identity_pb2.ResolveResult).current


def state(harness: RuntimeHarness) -> dict[bytes, bytes]:
    return dict(harness.store.iterate(STATE_PREFIX))


def assert_noop(
    harness: RuntimeHarness, key: SigningKey, method: int, args: Message, error: str
) -> types_pb2.DispatchError:
    """The call fails with `error` and changes no state but the sender's nonce (FRAME's assert_noop)."""
    before = state(harness)
    receipt = call(harness, key, method, args)
    after = state(harness)
    assert not receipt.success
    assert receipt.error.name == error, receipt.error
    changed = {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}
    assert changed == {STATE_PREFIX + b"system/nonce/" + key.account_id}
    return receipt.error
