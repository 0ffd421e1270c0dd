"""Identity module: the issuer registry (admins only) and credential schemas (issuers only)."""

from __future__ import annotations

import pytest

from dcrm.runtime import QueryError
from dcrm.runtime.errors import ErrorKind, TxRejected
from dcrm.runtime.modules.identity.did import derive_did
from dcrm.runtime.state.kv import KVStore
from dcrm.v1 import identity_pb2
from tests.support.identity import (
    DEACTIVATE_DID,
    MODULE,
    REGISTER_ISSUER,
    REGISTER_SCHEMA,
    REMOVE_ISSUER,
    SCHEMA_HASH,
    assert_noop,
    call,
    create_did,
    make_issuer,
    query,
)
from tests.support.runtime_harness import RuntimeHarness, deterministic_key

ADMIN = deterministic_key(0)
ACME = deterministic_key(10)
OTHER = deterministic_key(11)


def schema_args(issuer_did: str, **changes: object) -> identity_pb2.RegisterSchema:
    fields: dict[str, object] = {
        "issuer_did": issuer_did,
        "name": "loyalty-tier",
        "version": "1.0",
        "attributes": ["tier", "since_year"],
        "content_hash": SCHEMA_HASH,
    }
    fields.update(changes)
    return identity_pb2.RegisterSchema(**fields)  # type: ignore[arg-type]


def issuer_of(harness: RuntimeHarness, did: str) -> identity_pb2.IssuerRecord:
    return query(harness, "issuer", identity_pb2.IssuerQuery(did=did), identity_pb2.IssuerResult).issuer


def test_admin_registers_and_removes_issuers(store: KVStore) -> None:
    harness = RuntimeHarness(store)
    did = create_did(harness, ACME, b"acme")
    receipt = call(harness, ADMIN, REGISTER_ISSUER, identity_pb2.RegisterIssuer(did=did))
    assert receipt.success
    event = identity_pb2.IssuerRegistered.FromString(receipt.events[0].data)
    assert (event.did, event.registered_by) == (did, ADMIN.account_id)
    record = issuer_of(harness, did)
    assert (record.did, record.registered_by, record.height) == (did, ADMIN.account_id, 2)
    receipt = call(harness, ADMIN, REMOVE_ISSUER, identity_pb2.RemoveIssuer(did=did))
    assert receipt.success
    assert identity_pb2.IssuerRemoved.FromString(receipt.events[0].data).removed_by == ADMIN.account_id
    with pytest.raises(QueryError, match="is not a registered issuer") as raised:
        issuer_of(harness, did)
    assert raised.value.kind is ErrorKind.NOT_FOUND


def test_only_admins_manage_issuers(store: KVStore) -> None:
    harness = RuntimeHarness(store)
    did = create_did(harness, ACME, b"acme")
    message = assert_noop(harness, ACME, REGISTER_ISSUER, identity_pb2.RegisterIssuer(did=did), "MissingRole").message
    assert "'admin'" in message
    assert "identity.register_issuer" in message
    assert call(harness, ADMIN, REGISTER_ISSUER, identity_pb2.RegisterIssuer(did=did)).success
    assert_noop(harness, ACME, REMOVE_ISSUER, identity_pb2.RemoveIssuer(did=did), "MissingRole")
    assert issuer_of(harness, did).did == did


def test_issuer_registry_errors(store: KVStore) -> None:
    harness = RuntimeHarness(store)
    ghost = derive_did(ACME.account_id, b"ghost")
    assert_noop(harness, ADMIN, REGISTER_ISSUER, identity_pb2.RegisterIssuer(did=ghost), "DidNotFound")
    assert_noop(harness, ADMIN, REMOVE_ISSUER, identity_pb2.RemoveIssuer(did=ghost), "IssuerNotFound")
    did = make_issuer(harness, ADMIN, ACME)
    assert_noop(harness, ADMIN, REGISTER_ISSUER, identity_pb2.RegisterIssuer(did=did), "IssuerAlreadyRegistered")
    retired = create_did(harness, OTHER, b"retired")
    assert call(harness, OTHER, DEACTIVATE_DID, identity_pb2.DeactivateDid(did=retired)).success
    assert_noop(harness, ADMIN, REGISTER_ISSUER, identity_pb2.RegisterIssuer(did=retired), "DidDeactivated")
    bad = harness.sign(ADMIN, MODULE, REGISTER_ISSUER, identity_pb2.RegisterIssuer(did="did:example:1"))
    with pytest.raises(TxRejected, match=r"identity\.register_issuer: did 'did:example:1' is not did:dcrm:"):
        harness.decode(bad)


def test_issuer_registers_schema(store: KVStore) -> None:
    harness = RuntimeHarness(store)
    did = make_issuer(harness, ADMIN, ACME)
    receipt = call(harness, ACME, REGISTER_SCHEMA, schema_args(did))
    assert receipt.success, receipt.error
    schema_id = f"{did}/schemas/loyalty-tier/1.0"
    event = identity_pb2.SchemaRegistered.FromString(receipt.events[0].data)
    assert (event.schema_id, event.issuer_did, event.content_hash) == (schema_id, did, SCHEMA_HASH)
    found = query(harness, "schema", identity_pb2.SchemaQuery(schema_id=schema_id), identity_pb2.SchemaResult).schema
    assert (found.id, found.name, found.version, list(found.attributes)) == (
        schema_id,
        "loyalty-tier",
        "1.0",
        ["tier", "since_year"],
    )
    assert found.height == 3
    message = assert_noop(harness, ACME, REGISTER_SCHEMA, schema_args(did), "SchemaAlreadyExists").message
    assert schema_id in message
    assert call(harness, ACME, REGISTER_SCHEMA, schema_args(did, version="2.0")).success


def test_only_issuers_register_schemas(store: KVStore) -> None:
    harness = RuntimeHarness(store)
    plain = create_did(harness, OTHER, b"plain")
    message = assert_noop(harness, OTHER, REGISTER_SCHEMA, schema_args(plain), "NotIssuer").message
    assert "is not a registered issuer" in message
    issuer = make_issuer(harness, ADMIN, ACME)
    # OTHER does not control ACME's DID, so it cannot act as that issuer.
    assert_noop(harness, OTHER, REGISTER_SCHEMA, schema_args(issuer), "NotDidController")
    # Removed issuers lose the right; admins never had it by role alone.
    assert call(harness, ADMIN, REMOVE_ISSUER, identity_pb2.RemoveIssuer(did=issuer)).success
    assert_noop(harness, ACME, REGISTER_SCHEMA, schema_args(issuer), "NotIssuer")
    assert_noop(harness, ADMIN, REGISTER_SCHEMA, schema_args(issuer), "NotIssuer")


def test_deactivated_issuer_cannot_act(store: KVStore) -> None:
    harness = RuntimeHarness(store)
    issuer = make_issuer(harness, ADMIN, ACME)
    assert call(harness, ACME, DEACTIVATE_DID, identity_pb2.DeactivateDid(did=issuer)).success
    assert_noop(harness, ACME, REGISTER_SCHEMA, schema_args(issuer), "DidDeactivated")


@pytest.mark.parametrize(
    ("changes", "fragment"),
    [
        ({"name": ""}, "name '' must be 1 to 64"),
        ({"name": "a/b"}, "name 'a/b' must be"),
        ({"version": "1 0"}, "version '1 0' must be"),
        ({"attributes": []}, "attributes has 0 names"),
        ({"attributes": ["id"]}, "attributes[0] 'id' must be"),
        ({"attributes": ["tier", "9lives"]}, "attributes[1] '9lives'"),
        ({"attributes": ["tier", "tier"]}, "attributes lists a name twice"),
        ({"attributes": [f"a{n}" for n in range(65)]}, "attributes has 65 names"),
        ({"content_hash": b"short"}, "content_hash must be the 32-byte sha256 of the schema, got 5 bytes"),
    ],
)
def test_schema_argument_rules_reject_at_admission(store: KVStore, changes: dict[str, object], fragment: str) -> None:
    harness = RuntimeHarness(store)
    tx = harness.sign(ACME, MODULE, REGISTER_SCHEMA, schema_args("did:dcrm:abc", **changes))
    with pytest.raises(TxRejected) as raised:
        harness.decode(tx)
    assert fragment in raised.value.message


def test_schema_query_errors(store: KVStore) -> None:
    harness = RuntimeHarness(store)
    issuer = make_issuer(harness, ADMIN, ACME)
    with pytest.raises(QueryError, match="is not registered") as raised:
        query(harness, "schema", identity_pb2.SchemaQuery(schema_id=f"{issuer}/schemas/x/1"), identity_pb2.SchemaResult)
    assert raised.value.kind is ErrorKind.NOT_FOUND
    with pytest.raises(QueryError, match="is not <did:dcrm DID>/schemas/<name>/<version>") as raised:
        query(harness, "schema", identity_pb2.SchemaQuery(schema_id=f"{issuer}/x"), identity_pb2.SchemaResult)
    assert raised.value.kind is ErrorKind.INVALID_ARGUMENT
