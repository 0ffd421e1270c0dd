"""`identity.lookup`, what other modules may ask the identity module: a DID's status and who controls it."""

from __future__ import annotations

from dcrm.runtime import STATE_PREFIX
from dcrm.runtime.modules.identity import lookup
from dcrm.runtime.modules.identity.did import derive_did
from dcrm.runtime.modules.identity.lookup import DidStatus
from dcrm.runtime.state.kv import KVStore
from dcrm.runtime.state.prefixed import PrefixedReader
from dcrm.v1 import identity_pb2
from tests.support.identity import DEACTIVATE_DID, add_key, call, create_did, remove_key, update
from tests.support.runtime_harness import RuntimeHarness, deterministic_key

OWNER = deterministic_key(50)
DELEGATE = deterministic_key(51)  # the key of a DID that controls another DID
STRANGER = deterministic_key(52)


def test_status_follows_the_did_from_creation_to_deactivation(store: KVStore) -> None:
    harness = RuntimeHarness(store)
    state = PrefixedReader(store, STATE_PREFIX)
    did = derive_did(OWNER.account_id, b"salt")
    assert lookup.did_status(state, did) is DidStatus.UNKNOWN
    assert not lookup.is_active(state, did)
    assert not lookup.controls(state, did, OWNER.account_id)
    assert lookup.controlling_account(state, did) is None

    create_did(harness, OWNER)
    assert lookup.did_status(state, did) is DidStatus.ACTIVE
    assert lookup.is_active(state, did)
    assert lookup.controls(state, did, OWNER.account_id)
    assert not lookup.controls(state, did, STRANGER.account_id)
    assert lookup.controlling_account(state, did) == OWNER.account_id

    assert call(harness, OWNER, DEACTIVATE_DID, identity_pb2.DeactivateDid(did=did)).success
    assert lookup.did_status(state, did) is DidStatus.DEACTIVATED
    assert not lookup.is_active(state, did)
    assert not lookup.controls(state, did, OWNER.account_id)  # a deactivated DID cannot act
    assert lookup.controlling_account(state, did) is None


def test_control_through_an_authentication_key_of_a_controller_did(store: KVStore) -> None:
    harness = RuntimeHarness(store)
    state = PrefixedReader(store, STATE_PREFIX)
    delegate_did = create_did(harness, DELEGATE, b"delegate")
    did = create_did(harness, OWNER, controllers=[delegate_did])
    assert lookup.controls(state, did, DELEGATE.account_id)  # DELEGATE's key authenticates the controller DID
    hand_over = identity_pb2.DidOperation(set_controller_account=identity_pb2.SetControllerAccount(account=b""))
    assert update(harness, OWNER, did, hand_over).success
    assert not lookup.controls(state, did, OWNER.account_id)  # no longer the controlling account
    assert lookup.controlling_account(state, did) is None
    assert update(harness, DELEGATE, delegate_did, add_key(STRANGER, "key-2"), remove_key("key-1")).success
    assert not lookup.controls(state, did, DELEGATE.account_id)  # its key left the controller DID
    assert lookup.controls(state, did, STRANGER.account_id)


def test_syntax() -> None:
    assert lookup.is_dcrm_did(derive_did(OWNER.account_id, b"salt"))
    for value in ("did:web:acme.example", "did:dcrm:0OIl", "did:dcrm:", "did:dcrm:" + "z" * 23):
        assert not lookup.is_dcrm_did(value), value
