"""Identity module genesis: validation, export(build(g)) == g, and a live state that survives export."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from dcrm.runtime import Genesis, GenesisError, Runtime
from dcrm.runtime.modules import default_modules
from dcrm.runtime.modules.identity.did import derive_did
from dcrm.runtime.state.kv import KVStore, MemoryKV
from dcrm.v1 import identity_pb2
from tests.support.identity import (
    CREATE_STATUS_LIST,
    DEACTIVATE_DID,
    LIST_SIZE,
    REGISTER_SCHEMA,
    SCHEMA_HASH,
    UPDATE_CREDENTIAL_STATUS,
    add_key,
    call,
    create_did,
    make_issuer,
    query,
    resolve,
    update,
)
from tests.support.runtime_harness import GenesisBuilder, RuntimeHarness, deterministic_key

ADMIN = deterministic_key(0)
ACME = deterministic_key(10)
ALICE = deterministic_key(1)
ACME_DID = derive_did(ACME.account_id, b"acme")
ALICE_DID = derive_did(ALICE.account_id, b"alice")


def method(key_hex: str, fragment: str = "key-1") -> dict[str, Any]:
    return {"fragment": fragment, "type": "Multikey", "public_key": key_hex, "relationships": ["authentication"]}


def populated() -> dict[str, Any]:
    """An identity section with history, a deactivated DID, an issuer, a schema and a list with set bits."""
    time = 1_699_000_000_000
    acme = {
        "did": ACME_DID,
        "versions": [
            {
                "height": 0,
                "timestamp_ms": time,
                "deactivated": False,
                "controller_account": ACME.account_id.hex(),
                "controllers": [],
                "verification_methods": [
                    {
                        "fragment": "key-1",
                        "type": "EcdsaSecp256k1VerificationKey2019",
                        "public_key": ACME.public_key.hex(),
                        "relationships": ["authentication", "assertionMethod", "keyAgreement"],
                    }
                ],
                "services": [{"fragment": "crm", "type": "LinkedDomains", "endpoint": "https://acme.example"}],
            }
        ],
    }
    alice_versions = [
        {
            "height": 0,
            "timestamp_ms": time,
            "deactivated": False,
            "controller_account": "",
            "controllers": [ALICE_DID, ACME_DID],
            "verification_methods": [method(ALICE.public_key.hex())],
            "services": [],
        },
        {
            "height": 0,
            "timestamp_ms": time,
            "deactivated": True,
            "controller_account": "",
            "controllers": [],
            "verification_methods": [],
            "services": [],
        },
    ]
    entries: list[dict[str, Any]] = [acme, {"did": ALICE_DID, "versions": alice_versions}]
    dids = sorted(entries, key=lambda entry: str(entry["did"]))
    return {
        "dids": dids,
        "issuers": [{"did": ACME_DID, "registered_by": "", "height": 0, "timestamp_ms": time}],
        "schemas": [
            {
                "issuer_did": ACME_DID,
                "name": "tier",
                "version": "1",
                "attributes": ["tier"],
                "content_hash": SCHEMA_HASH.hex(),
                "height": 0,
                "timestamp_ms": time,
            }
        ],
        "status_lists": [
            {
                "issuer_did": ACME_DID,
                "list_id": "rev",
                "purpose": "revocation",
                "size": LIST_SIZE,
                "set": [0, 7, 8191, 8192, LIST_SIZE - 1],
                "created_height": 0,
                "created_ms": time,
                "updated_height": 0,
                "updated_ms": time,
            }
        ],
    }


def genesis_with(section: dict[str, Any]) -> Genesis:
    builder = GenesisBuilder()
    builder.modules["identity"] = section
    return builder.build()


def build_and_export(genesis: Genesis) -> dict[str, Any]:
    runtime = Runtime(genesis.chain_id, default_modules())
    store = MemoryKV()
    store.write(runtime.build_genesis(genesis).writes)
    return dict(runtime.export_genesis(store).modules["identity"])


def test_default_section_round_trips() -> None:
    genesis = GenesisBuilder().build()
    assert genesis.modules["identity"] == {"dids": [], "issuers": [], "schemas": [], "status_lists": []}
    assert build_and_export(genesis) == genesis.modules["identity"]


def test_populated_section_round_trips_and_is_queryable(store: KVStore) -> None:
    section = populated()
    assert build_and_export(genesis_with(copy.deepcopy(section))) == section
    harness = RuntimeHarness(store, genesis_with(section))
    alice = resolve(harness, ALICE_DID)
    assert alice.deactivated
    assert alice.version == 2
    acme = resolve(harness, ACME_DID)
    assert acme.document.verification_methods[0].key_agreement
    request = identity_pb2.StatusQuery(issuer_did=ACME_DID, list_id="rev", index=8192)
    assert query(harness, "status", request, identity_pb2.StatusResult).set
    # ACME controls ALICE's (deactivated) DID and is an issuer: its genesis rights work like any other.
    args = identity_pb2.UpdateCredentialStatus(issuer_did=ACME_DID, list_id="rev", index=1, action=identity_pb2.REVOKE)
    assert call(harness, ACME, UPDATE_CREDENTIAL_STATUS, args).success


def test_live_state_exports_to_an_equivalent_genesis(store: KVStore) -> None:
    harness = RuntimeHarness(store)
    issuer = make_issuer(harness, ADMIN, ACME, b"acme")
    did = create_did(harness, ALICE, b"alice")
    assert update(harness, ALICE, did, add_key(ADMIN, "key-2")).success
    assert call(harness, ALICE, DEACTIVATE_DID, identity_pb2.DeactivateDid(did=did)).success
    schema = identity_pb2.RegisterSchema(
        issuer_did=issuer, name="tier", version="1", attributes=["tier"], content_hash=SCHEMA_HASH
    )
    assert call(harness, ACME, REGISTER_SCHEMA, schema).success
    new_list = identity_pb2.CreateStatusList(
        issuer_did=issuer, list_id="s", purpose=identity_pb2.SUSPENSION, size=LIST_SIZE
    )
    assert call(harness, ACME, CREATE_STATUS_LIST, new_list).success
    suspend = identity_pb2.UpdateCredentialStatus(issuer_did=issuer, list_id="s", index=77, action=identity_pb2.SUSPEND)
    assert call(harness, ACME, UPDATE_CREDENTIAL_STATUS, suspend).success
    exported = harness.runtime.export_genesis(store)
    section = dict(exported.modules["identity"])
    assert [len(entry["versions"]) for entry in section["dids"] if entry["did"] == did] == [3]
    assert section["status_lists"][0]["set"] == [77]
    assert build_and_export(exported) == section


def broken(path: list[Any], value: Any) -> dict[str, Any]:
    section = populated()
    target: Any = section
    for step in path[:-1]:
        target = target[step]
    if value is KeyError:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return section


@pytest.mark.parametrize(
    ("section", "field", "fragment"),
    [
        (broken(["schemas"], KeyError), "modules.identity.schemas", "is required"),
        (broken(["dids"], list(reversed(populated()["dids"]))), "modules.identity.dids[1]", "sorted by DID"),
        (broken(["dids", 0, "did"], "did:dcrm:0"), "modules.identity.dids[0].did", "is not did:dcrm:"),
        (broken(["dids", 0, "versions"], []), "modules.identity.dids[0].versions", "at least its creation"),
        (
            broken(["issuers", 0, "did"], derive_did(ADMIN.account_id, b"x")),
            "modules.identity.issuers[0].did",
            "is not a genesis DID",
        ),
        (broken(["schemas", 0, "attributes"], ["id"]), "modules.identity.schemas[0]", "attributes[0] 'id'"),
        (broken(["status_lists", 0, "set"], [5, 3]), "modules.identity.status_lists[0].set", "ascending order"),
        (broken(["status_lists", 0, "set"], [LIST_SIZE]), "modules.identity.status_lists[0].set[0]", "integer"),
        (broken(["status_lists", 0, "purpose"], "message"), "modules.identity.status_lists[0].purpose", "revocation"),
    ],
)
def test_invalid_sections_name_the_field(section: dict[str, Any], field: str, fragment: str) -> None:
    with pytest.raises(GenesisError) as raised:
        build_and_export(genesis_with(section))
    assert raised.value.field == field
    assert fragment in str(raised.value)


def test_version_rules_are_checked() -> None:
    section = populated()
    entry = next(e for e in section["dids"] if e["did"] == ALICE_DID)
    position = section["dids"].index(entry)
    entry["versions"].append(copy.deepcopy(entry["versions"][0]))
    with pytest.raises(GenesisError, match="a deactivated DID has no later version") as raised:
        build_and_export(genesis_with(section))
    assert raised.value.field == f"modules.identity.dids[{position}].versions[2]"
    section = populated()
    acme = next(e for e in section["dids"] if e["did"] == ACME_DID)
    acme["versions"][0]["controller_account"] = ""
    acme["versions"][0]["verification_methods"][0]["relationships"] = ["assertionMethod"]
    with pytest.raises(GenesisError, match="no controlling account"):
        build_and_export(genesis_with(section))
