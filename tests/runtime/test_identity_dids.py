"""Identity module: DID create, update, deactivate, permissions, and resolution now and in the past."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dcrm.runtime import QueryError
from dcrm.runtime.errors import ErrorKind, TxRejected
from dcrm.runtime.modules.identity.did import derive_did
from dcrm.runtime.state.kv import KVStore, MemoryKV
from dcrm.v1 import identity_pb2
from tests.support.identity import (
    CREATE_DID,
    DEACTIVATE_DID,
    MODULE,
    UPDATE_DID,
    add_key,
    assert_noop,
    call,
    create_did,
    key_method,
    query,
    remove_key,
    resolve,
    update,
)
from tests.support.runtime_harness import BLOCK_TIME_MS, GENESIS_TIME_MS, RuntimeHarness, deterministic_key

ALICE = deterministic_key(1)
BOB = deterministic_key(2)
CAROL = deterministic_key(3)


def resolve_at(harness: RuntimeHarness, did: str, **point: int) -> identity_pb2.ResolveResult:
    request = identity_pb2.ResolveAtQuery(did=did, **point)
    return query(harness, "resolve_at", request, identity_pb2.ResolveResult)


def fragments(version: identity_pb2.DidVersion) -> list[str]:
    return [method.fragment for method in version.document.verification_methods]


def test_create_did_stores_version_one_with_block_time(store: KVStore) -> None:
    harness = RuntimeHarness(store)
    service = identity_pb2.Service(fragment="crm", type="LinkedDomains", endpoint="https://crm.example.com/v1")
    args = identity_pb2.CreateDid(salt=b"s1", verification_methods=[key_method(ALICE)], services=[service])
    receipt = call(harness, ALICE, CREATE_DID, args)
    assert receipt.success
    did = derive_did(ALICE.account_id, b"s1")
    assert did.startswith("did:dcrm:")
    assert 21 <= len(did) - len("did:dcrm:") <= 22
    event = identity_pb2.DidCreated.FromString(receipt.events[0].data)
    assert (event.did, event.created_by, event.version) == (did, ALICE.account_id, 1)
    version = resolve(harness, did)
    assert version.version == 1
    assert not version.deactivated
    assert version.height == version.created_height == 1
    assert version.timestamp_ms == version.created_ms == GENESIS_TIME_MS + BLOCK_TIME_MS
    assert version.controller_account == ALICE.account_id
    assert version.document.id == did
    assert list(version.document.services) == [service]
    assert version.document.verification_methods[0].public_key == ALICE.public_key


def test_same_sender_and_salt_collide_other_salt_does_not(store: KVStore) -> None:
    harness = RuntimeHarness(store)
    did = create_did(harness, ALICE, b"one")
    args = identity_pb2.CreateDid(salt=b"one", verification_methods=[key_method(ALICE)])
    assert did in assert_noop(harness, ALICE, CREATE_DID, args, "DidAlreadyExists").message
    assert create_did(harness, ALICE, b"two") != did
    assert create_did(harness, BOB, b"one") != did  # the id binds the creator


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (identity_pb2.CreateDid(salt=b""), "salt is 0 bytes"),
        (identity_pb2.CreateDid(salt=bytes(33)), "salt is 33 bytes"),
        (
            identity_pb2.CreateDid(
                salt=b"s",
                verification_methods=[
                    identity_pb2.VerificationMethod(fragment="k", type=identity_pb2.MULTIKEY, public_key=b"x")
                ],
            ),
            "verification_methods[0].public_key must be a 33-byte",
        ),
        (
            identity_pb2.CreateDid(
                salt=b"s",
                verification_methods=[
                    identity_pb2.VerificationMethod(
                        fragment="k", type=identity_pb2.MULTIKEY, public_key=b"\x02" + bytes(32)
                    )
                ],
            ),
            "is not a point on secp256k1",
        ),
        (
            identity_pb2.CreateDid(salt=b"s", verification_methods=[key_method(ALICE, "bad fragment")]),
            "verification_methods[0].fragment 'bad fragment'",
        ),
        (
            identity_pb2.CreateDid(
                salt=b"s", verification_methods=[identity_pb2.VerificationMethod(fragment="k", public_key=b"")]
            ),
            "verification_methods[0].type 0 must be MULTIKEY",
        ),
        (
            identity_pb2.CreateDid(salt=b"s", verification_methods=[key_method(ALICE), key_method(BOB)]),
            "fragment 'key-1' is used twice",
        ),
        (
            identity_pb2.CreateDid(salt=b"s", verification_methods=[key_method(ALICE, f"k{n}") for n in range(17)]),
            "verification_methods has 17 entries, at most 16",
        ),
        (
            identity_pb2.CreateDid(
                salt=b"s", services=[identity_pb2.Service(fragment="s", type="Mail", endpoint="mailto:a@b.example")]
            ),
            "services[0].endpoint 'mailto:a@b.example' must be an https URL",
        ),
        (
            identity_pb2.CreateDid(
                salt=b"s",
                services=[identity_pb2.Service(fragment="s", type="Crm", endpoint="https://x.example/?email=a")],
            ),
            "without user info, query or fragment",
        ),
        (
            identity_pb2.CreateDid(
                salt=b"s",
                services=[identity_pb2.Service(fragment="s", type="Crm", endpoint="https://a" + "b" * 260)],
            ),
            "services[0].endpoint is 269 characters, at most 256",
        ),
        (
            identity_pb2.CreateDid(salt=b"s", controllers=["did:web:example.com"]),
            "controllers[0] 'did:web:example.com'",
        ),
        (identity_pb2.CreateDid(salt=b"s", controllers=["did:dcrm:abc", "did:dcrm:abc"]), "lists a DID twice"),
    ],
)
def test_create_did_argument_rules_reject_at_admission(
    store: KVStore, args: identity_pb2.CreateDid, fragment: str
) -> None:
    harness = RuntimeHarness(store)
    tx = harness.sign(ALICE, MODULE, CREATE_DID, args)
    with pytest.raises(TxRejected) as raised:
        harness.decode(tx)
    assert fragment in raised.value.message
    assert raised.value.message.startswith("identity.create_did: ")


def test_create_with_unknown_or_deactivated_controller_fails(store: KVStore) -> None:
    harness = RuntimeHarness(store)
    ghost = derive_did(BOB.account_id, b"never")
    args = identity_pb2.CreateDid(salt=b"s", controllers=[ghost])
    assert "does not exist" in assert_noop(harness, ALICE, CREATE_DID, args, "BadController").message
    retired = create_did(harness, BOB, b"retired")
    assert call(harness, BOB, DEACTIVATE_DID, identity_pb2.DeactivateDid(did=retired)).success
    args = identity_pb2.CreateDid(salt=b"s", controllers=[retired])
    assert "is deactivated" in assert_noop(harness, ALICE, CREATE_DID, args, "BadController").message


def test_update_applies_operations_as_one_version(store: KVStore) -> None:
    harness = RuntimeHarness(store)
    did = create_did(harness, ALICE)
    service = identity_pb2.Service(fragment="hub", type="DIDCommMessaging", endpoint="did:dcrm:abc/inbox")
    receipt = update(
        harness,
        ALICE,
        did,
        add_key(BOB, "key-2"),
        identity_pb2.DidOperation(add_service=identity_pb2.AddService(service=service)),
        remove_key("key-1"),
    )
    assert receipt.success, receipt.error
    event = identity_pb2.DidUpdated.FromString(receipt.events[0].data)
    assert (event.did, event.updated_by, event.version, event.operations) == (did, ALICE.account_id, 2, 3)
    current = resolve(harness, did)
    assert fragments(current) == ["key-2"]
    assert [s.fragment for s in current.document.services] == ["hub"]
    assert (current.version, current.height, current.created_height) == (2, 2, 1)


def test_update_errors_leave_no_trace(store: KVStore) -> None:
    harness = RuntimeHarness(store)
    did = create_did(harness, ALICE)

    def attempt(error: str, *operations: identity_pb2.DidOperation, expected: int = 0) -> str:
        args = identity_pb2.UpdateDid(did=did, operations=operations, expected_version=expected)
        return assert_noop(harness, ALICE, UPDATE_DID, args, error).message

    assert "key-1 is already in the document" in attempt("DuplicateFragment", add_key(BOB, "key-1"))
    assert "no entry with fragment 'nope'" in attempt("UnknownFragment", remove_key("nope"))
    assert "expected_version is 7" in attempt("VersionMismatch", add_key(BOB, "key-2"), expected=7)
    no_account = identity_pb2.DidOperation(set_controller_account=identity_pb2.SetControllerAccount())
    assert "no controlling account" in attempt("NoController", no_account, remove_key("key-1"))
    too_many = [add_key(BOB, f"k{n}") for n in range(16)]
    assert "17 verification methods" in attempt("DocumentTooLarge", *too_many)
    ghost = derive_did(CAROL.account_id, b"ghost")
    set_ghost = identity_pb2.DidOperation(set_controllers=identity_pb2.SetControllers(controllers=[ghost]))
    assert "does not exist" in attempt("BadController", set_ghost)
    missing = identity_pb2.UpdateDid(did=derive_did(BOB.account_id, b"x"), operations=[add_key(BOB, "k")])
    assert_noop(harness, ALICE, UPDATE_DID, missing, "DidNotFound")
    assert resolve(harness, did).version == 1


@pytest.mark.parametrize(
    ("operations", "fragment"),
    [
        ([], "operations has 0 entries"),
        ([identity_pb2.DidOperation()], "operations[0] sets no operation"),
        ([remove_key("k")] * 17, "operations has 17 entries"),
        (
            [identity_pb2.DidOperation(set_controller_account=identity_pb2.SetControllerAccount(account=b"abc"))],
            "operations[0].account must be empty or a 20-byte account id",
        ),
    ],
)
def test_update_argument_rules_reject_at_admission(
    store: KVStore, operations: list[identity_pb2.DidOperation], fragment: str
) -> None:
    harness = RuntimeHarness(store)
    tx = harness.sign(ALICE, MODULE, UPDATE_DID, identity_pb2.UpdateDid(did="did:dcrm:abc", operations=operations))
    with pytest.raises(TxRejected) as raised:
        harness.decode(tx)
    assert fragment in raised.value.message
    bad_did = harness.sign(ALICE, MODULE, UPDATE_DID, identity_pb2.UpdateDid(did="did:dcrm:0OIl", operations=[]))
    with pytest.raises(TxRejected, match="did 'did:dcrm:0OIl' is not did:dcrm:"):
        harness.decode(bad_did)


def test_only_controllers_update(store: KVStore) -> None:
    harness = RuntimeHarness(store)
    # ALICE creates a DID whose authentication key is BOB's: both may update it, CAROL may not.
    did = create_did(harness, ALICE, methods=[key_method(BOB, "bob")])
    args = identity_pb2.UpdateDid(did=did, operations=[add_key(CAROL, "carol")])
    message = assert_noop(harness, CAROL, UPDATE_DID, args, "NotDidController").message
    assert CAROL.account_id.hex() in message
    assert did in message
    assert update(harness, BOB, did, add_key(CAROL, "carol", authentication=False)).success
    # CAROL's key is only an assertion key: it still does not control the DID.
    assert_noop(
        harness, CAROL, UPDATE_DID, identity_pb2.UpdateDid(did=did, operations=[remove_key("bob")]), "NotDidController"
    )
    # Once the controlling account is cleared, ALICE (who holds no key of the DID) loses control.
    clear = identity_pb2.DidOperation(set_controller_account=identity_pb2.SetControllerAccount())
    assert update(harness, BOB, did, clear).success
    assert_noop(
        harness,
        ALICE,
        UPDATE_DID,
        identity_pb2.UpdateDid(did=did, operations=[remove_key("carol")]),
        "NotDidController",
    )
    assert update(harness, BOB, did, remove_key("carol")).success


def test_controller_did_keys_control_and_stop_when_it_is_deactivated(store: KVStore) -> None:
    harness = RuntimeHarness(store)
    guardian = create_did(harness, BOB, b"guardian")
    ward = create_did(harness, ALICE, b"ward", methods=[key_method(CAROL)], controllers=[guardian])
    clear = identity_pb2.DidOperation(set_controller_account=identity_pb2.SetControllerAccount())
    assert update(harness, BOB, ward, clear).success  # BOB: authentication key of the controller DID
    # CAROL's key is in the ward's authentication, but the ward names only the guardian as controller.
    carol_try = identity_pb2.UpdateDid(did=ward, operations=[remove_key("key-1")])
    assert_noop(harness, CAROL, UPDATE_DID, carol_try, "NotDidController")
    assert call(harness, BOB, DEACTIVATE_DID, identity_pb2.DeactivateDid(did=guardian)).success
    assert_noop(harness, BOB, UPDATE_DID, carol_try, "NotDidController")


def test_deactivation_is_permanent_and_history_remains(store: KVStore) -> None:
    harness = RuntimeHarness(store)
    did = create_did(harness, ALICE)
    assert_noop(harness, BOB, DEACTIVATE_DID, identity_pb2.DeactivateDid(did=did), "NotDidController")
    receipt = call(harness, ALICE, DEACTIVATE_DID, identity_pb2.DeactivateDid(did=did))
    assert receipt.success
    event = identity_pb2.DidDeactivated.FromString(receipt.events[0].data)
    assert (event.did, event.deactivated_by, event.version) == (did, ALICE.account_id, 2)
    final = resolve(harness, did)
    assert final.deactivated
    assert final.version == 2
    assert not final.document.verification_methods
    assert not final.document.services
    update_args = identity_pb2.UpdateDid(did=did, operations=[add_key(ALICE, "again")])
    assert "deactivated at height" in assert_noop(harness, ALICE, UPDATE_DID, update_args, "DidDeactivated").message
    assert_noop(harness, ALICE, DEACTIVATE_DID, identity_pb2.DeactivateDid(did=did), "DidDeactivated")
    assert fragments(resolve_at(harness, did, height=1).current) == ["key-1"]


def test_resolve_at_height_and_time(store: KVStore) -> None:
    harness = RuntimeHarness(store)
    did = create_did(harness, ALICE)  # block 1
    harness.run_to_block(3)
    assert update(harness, ALICE, did, add_key(BOB, "key-2")).success  # block 4
    assert update(harness, ALICE, did, remove_key("key-1")).success  # block 5
    created_ms = GENESIS_TIME_MS + BLOCK_TIME_MS
    for height, expected in ((1, ["key-1"]), (3, ["key-1"]), (4, ["key-1", "key-2"]), (5, ["key-2"]), (99, ["key-2"])):
        assert fragments(resolve_at(harness, did, height=height).current) == expected, height
    at_three = resolve_at(harness, did, timestamp_ms=created_ms + 2 * BLOCK_TIME_MS)
    assert (at_three.current.version, at_three.latest_version) == (1, 3)
    assert (at_three.next_version, at_three.next_update_ms) == (2, created_ms + 3 * BLOCK_TIME_MS)
    newest = resolve_at(harness, did, timestamp_ms=created_ms + 10 * BLOCK_TIME_MS)
    assert (newest.current.version, newest.next_version, newest.next_update_ms) == (3, 0, 0)
    with pytest.raises(QueryError, match="did not exist yet at time") as raised:
        resolve_at(harness, did, timestamp_ms=created_ms - 1)
    assert raised.value.kind is ErrorKind.NOT_FOUND
    with pytest.raises(QueryError, match="set height or timestamp_ms") as raised:
        resolve_at(harness, did)
    assert raised.value.kind is ErrorKind.INVALID_ARGUMENT
    with pytest.raises(QueryError, match="does not exist") as raised:
        resolve(harness, derive_did(BOB.account_id, b"none"))
    assert raised.value.kind is ErrorKind.NOT_FOUND


FRAGMENTS = st.sampled_from(["a", "b", "c", "d"])
OPERATIONS = st.lists(st.tuples(st.booleans(), FRAGMENTS), min_size=1, max_size=3)


@settings(max_examples=20, deadline=None)
@given(updates=st.lists(OPERATIONS, min_size=1, max_size=8))
def test_history_resolves_every_past_height(updates: list[list[tuple[bool, str]]]) -> None:
    """Random add/remove updates, one block each: resolve_at(h) is the model's document after block h."""
    harness = RuntimeHarness(MemoryKV())
    did = create_did(harness, ALICE)
    model = ["key-1"]
    expected = {harness.height: list(model)}
    successes = 0
    for operations in updates:
        trial = list(model)
        ok = True
        for adding, fragment in operations:
            if adding and fragment not in trial:
                trial.append(fragment)
            elif not adding and fragment in trial:
                trial.remove(fragment)
            else:
                ok = False  # a duplicate add or an unknown remove fails the whole update
        ops = [add_key(BOB, fragment) if adding else remove_key(fragment) for adding, fragment in operations]
        receipt = update(harness, ALICE, did, *ops)
        assert receipt.success == ok, receipt.error
        if ok:
            model, successes = trial, successes + 1
        expected[harness.height] = list(model)
    for height, fragments_then in expected.items():
        assert fragments(resolve_at(harness, did, height=height).current) == fragments_then
    assert resolve(harness, did).version == 1 + successes
