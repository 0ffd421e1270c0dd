"""The consent module's calls: each one's effect and events, every error path, and who may call what.

Who acts for a subject or controller DID is decided by the identity module: the tests create, rotate and
deactivate identity DIDs and watch consent follow.
"""

from __future__ import annotations

import hashlib

import pytest

from dcrm.client.keys import SigningKey
from dcrm.runtime.errors import Rejection, TxRejected
from dcrm.runtime.modules.consent.errors import INDEX
from dcrm.runtime.modules.consent.records import record_id_for
from dcrm.runtime.modules.identity.did import derive_did
from dcrm.runtime.state.kv import KVStore
from dcrm.v1 import consent_pb2, identity_pb2, system_pb2
from tests.support.consent_chain import (
    ACCESSOR,
    ACME,
    ADMIN,
    ALICE,
    ALICE_DID,
    BOB,
    BOB_DID,
    CONTROLLER,
    DAY_MS,
    GLOBEX,
    MALLORY,
    MALLORY_DID,
    RIVAL,
    ConsentChain,
    make_terms,
)
from tests.support.identity import CREATE_DID, DEACTIVATE_DID, UPDATE_DID, add_key, key_method, remove_key
from tests.support.identity import call as identity_call
from tests.support.runtime_harness import deterministic_key

GIVEN = consent_pb2.STATE_GIVEN
UNKNOWN_ID = bytes(16)
NEVER_CREATED = derive_did(ALICE.account_id, b"never-created")  # well formed, but not in the identity module
ALICE_NEW = deterministic_key(33)  # the key Alice rotates to
CLERK = deterministic_key(23)  # an ACME employee with the controller role and a key in ACME's document


def decode_events(receipt_events: object, event_type: type[consent_pb2.ConsentGiven]) -> consent_pb2.ConsentGiven:
    events = [event for event in receipt_events if event.name == event_type.DESCRIPTOR.name]  # type: ignore[attr-defined]
    assert len(events) == 1
    return event_type.FromString(events[0].data)


def grant_args(chain: ConsentChain, **fields: object) -> consent_pb2.GrantConsent:
    values: dict[str, object] = {
        "client_ref": b"ref-1",
        "subject": ALICE_DID,
        "controller": ACME,
        "terms": make_terms(),
        "valid_until_ms": chain.next_block_ms + 30 * DAY_MS,
    }
    values.update(fields)
    return consent_pb2.GrantConsent(**values)  # type: ignore[arg-type]


def deactivate(chain: ConsentChain, key: SigningKey, did: str) -> None:
    receipt = identity_call(chain.harness, key, DEACTIVATE_DID, identity_pb2.DeactivateDid(did=did))
    assert receipt.success, receipt.error


# --- DIDs come from the identity module -----------------------------------------------------------


def test_register_controller_is_retired(store: KVStore) -> None:
    chain = ConsentChain(store)
    tx = chain.harness.sign(CONTROLLER, INDEX, 0, consent_pb2.GrantConsent())
    with pytest.raises(TxRejected) as caught:
        chain.harness.decode(tx)
    assert caught.value.reason is Rejection.UNKNOWN_CALL
    assert "call.method 0 is not a method of module consent" in caught.value.message


def test_subject_and_controller_must_be_dids_of_the_identity_module(store: KVStore) -> None:
    chain = ConsentChain(store)
    receipt = chain.assert_noop(ALICE, grant_args(chain, subject=NEVER_CREATED), "UnknownDid")
    assert receipt.error.message == (
        f"subject {NEVER_CREATED} does not exist; create it with identity create_did first"
    )
    chain.assert_noop(ALICE, grant_args(chain, controller=NEVER_CREATED), "UnknownDid")
    request = request_args(chain, controller=NEVER_CREATED)
    receipt = chain.assert_noop(CONTROLLER, request, "UnknownDid")
    assert receipt.error.message.startswith(f"controller {NEVER_CREATED} does not exist")
    chain.assert_noop(CONTROLLER, request_args(chain, subject=NEVER_CREATED), "UnknownDid")
    # Once created (by anyone), the DID can be used by whoever controls it.
    created = identity_pb2.CreateDid(salt=b"never-created", verification_methods=[key_method(ALICE)])
    assert identity_call(chain.harness, ALICE, CREATE_DID, created).success
    chain.ok(ALICE, grant_args(chain, subject=NEVER_CREATED))


def test_a_did_of_another_method_is_refused_at_admission(store: KVStore) -> None:
    chain = ConsentChain(store)
    for fields in ({"subject": "did:web:alice.example"}, {"controller": "did:web:acme.example"}):
        with pytest.raises(TxRejected) as caught:
            chain.harness.decode(chain.sign(ALICE, grant_args(chain, **fields)))
        assert caught.value.reason is Rejection.BAD_ARGUMENTS
        assert "is not a did:dcrm DID" in caught.value.message
        assert next(iter(fields)) in caught.value.message  # the message names the field


def test_only_an_account_that_controls_the_subject_did_answers_for_it(store: KVStore) -> None:
    chain = ConsentChain(store)
    receipt = chain.assert_noop(MALLORY, grant_args(chain), "NotSubject")
    assert f"the caller {MALLORY.account_id.hex()} does not control subject {ALICE_DID}" in receipt.error.message
    chain.ok(MALLORY, grant_args(chain, subject=MALLORY_DID))  # Mallory's own DID is fine


def test_grant_to_a_did_whose_controlling_account_lacks_the_role_fails(store: KVStore) -> None:
    chain = ConsentChain(store)
    receipt = chain.assert_noop(ALICE, grant_args(chain, controller=MALLORY_DID), "ControllerNotRegistered")
    assert f"{MALLORY.account_id.hex()}, which does not hold the role 'controller'" in receipt.error.message


def test_control_of_the_subject_follows_the_did_when_its_key_rotates(store: KVStore) -> None:
    chain = ConsentChain(store)
    record_id = chain.grant()
    rotate = identity_pb2.UpdateDid(
        did=ALICE_DID,
        operations=[
            add_key(ALICE_NEW, "key-2"),
            remove_key("key-1"),
            identity_pb2.DidOperation(set_controller_account=identity_pb2.SetControllerAccount(account=b"")),
        ],
    )
    assert identity_call(chain.harness, ALICE, UPDATE_DID, rotate).success
    chain.assert_noop(ALICE, consent_pb2.WithdrawConsent(record_id=record_id), "NotSubject")
    chain.ok(ALICE_NEW, consent_pb2.WithdrawConsent(record_id=record_id))
    record = chain.record(record_id)
    assert (record.state, record.changed_by) == (consent_pb2.STATE_WITHDRAWN, ALICE_NEW.account_id)
    assert record.subject_account == ALICE.account_id  # who answered when the record was made stays recorded
    chain.ok(ALICE_NEW, grant_args(chain, client_ref=b"after-rotation"))


def test_an_authentication_key_of_the_controller_did_acts_for_it(store: KVStore) -> None:
    chain = ConsentChain(store)
    record_id = chain.grant()
    assert chain.harness.call(ADMIN, 0, 0, system_pb2.GrantRole(account=CLERK.account_id, role="controller")).success
    chain.assert_noop(CLERK, log_args(record_id), "NotController")
    assert identity_call(
        chain.harness, CONTROLLER, UPDATE_DID, identity_pb2.UpdateDid(did=ACME, operations=[add_key(CLERK, "clerk")])
    ).success
    receipt = chain.ok(CLERK, log_args(record_id))
    assert consent_pb2.AccessLogged.FromString(receipt.events[0].data).record_id == record_id
    assert chain.record(record_id).controller_account == CONTROLLER.account_id


def test_a_deactivated_subject_did_can_no_longer_act(store: KVStore) -> None:
    chain = ConsentChain(store)
    record_id = chain.grant(BOB, subject=BOB_DID)
    requested = chain.request(ref=b"to-bob", subject=BOB_DID, subject_account=BOB.account_id)
    deactivate(chain, BOB, BOB_DID)
    message = f"subject {BOB_DID} is deactivated and can no longer act"
    receipt = chain.assert_noop(BOB, consent_pb2.WithdrawConsent(record_id=record_id), "DeactivatedDid")
    assert receipt.error.message == message
    until = chain.record(record_id).valid_until_ms + DAY_MS
    chain.assert_noop(BOB, consent_pb2.RenewConsent(record_id=record_id, valid_until_ms=until), "DeactivatedDid")
    chain.assert_noop(BOB, consent_pb2.GrantRequest(record_id=requested), "DeactivatedDid")
    chain.assert_noop(BOB, consent_pb2.RefuseRequest(record_id=requested), "DeactivatedDid")
    chain.assert_noop(BOB, grant_args(chain, client_ref=b"new", subject=BOB_DID), "DeactivatedDid")
    chain.assert_noop(
        CONTROLLER, request_args(chain, subject=BOB_DID, subject_account=BOB.account_id), "DeactivatedDid"
    )
    chain.ok(CONTROLLER, consent_pb2.TerminateConsent(record_id=record_id))  # the controller can still end it


def test_a_deactivated_controller_did_can_no_longer_act(store: KVStore) -> None:
    chain = ConsentChain(store)
    record_id = chain.grant(controller=GLOBEX)
    deactivate(chain, RIVAL, GLOBEX)
    receipt = chain.assert_noop(RIVAL, log_args(record_id), "DeactivatedDid")
    assert receipt.error.message == f"controller {GLOBEX} is deactivated and can no longer act"
    chain.assert_noop(RIVAL, consent_pb2.TerminateConsent(record_id=record_id), "DeactivatedDid")
    chain.assert_noop(ALICE, grant_args(chain, client_ref=b"new", controller=GLOBEX), "DeactivatedDid")
    chain.assert_noop(RIVAL, request_args(chain, controller=GLOBEX), "DeactivatedDid")
    chain.ok(ALICE, consent_pb2.WithdrawConsent(record_id=record_id))  # the subject can still withdraw


# --- grant --------------------------------------------------------------------------------------


def test_subject_grants_directly(store: KVStore) -> None:
    chain = ConsentChain(store)
    args = grant_args(chain)
    receipt = chain.ok(ALICE, args)
    record_id = record_id_for(ALICE.account_id, b"ref-1")
    record = chain.record(record_id)
    assert record.state == GIVEN
    assert (record.subject, record.subject_account) == (ALICE_DID, ALICE.account_id)
    assert (record.controller, record.controller_account) == (ACME, CONTROLLER.account_id)
    assert record.valid_from_ms == record.event_time_ms == record.created_ms == chain.now_ms
    assert record.valid_until_ms == args.valid_until_ms
    assert (record.revision, record.predecessor_hash, record.changed_by) == (0, b"", ALICE.account_id)
    assert record.terms == args.terms
    event = decode_events(receipt.events, consent_pb2.ConsentGiven)
    raw = chain.query("record", consent_pb2.RecordQuery(record_id=record_id), consent_pb2.RecordResult)
    assert event.revision_hash == hashlib.sha256(raw.revision_bytes).digest()
    assert (event.record_id, event.subject, event.controller) == (record_id, ALICE_DID, ACME)


def test_grant_errors(store: KVStore) -> None:
    chain = ConsentChain(store)
    chain.grant()
    chain.assert_noop(ALICE, grant_args(chain), "RecordExists")
    chain.assert_noop(ALICE, grant_args(chain, client_ref=b"r2", controller=BOB_DID), "ControllerNotRegistered")
    chain.assert_noop(MALLORY, grant_args(chain, client_ref=b"r3"), "NotSubject")  # ALICE_DID is ALICE's
    chain.assert_noop(ALICE, grant_args(chain, client_ref=b"r4", valid_until_ms=chain.next_block_ms), "BadValidity")
    too_far = chain.next_block_ms + 3_654 * DAY_MS
    chain.assert_noop(ALICE, grant_args(chain, client_ref=b"r5", valid_until_ms=too_far), "BadValidity")


def test_grant_to_a_controller_that_lost_its_role_fails(store: KVStore) -> None:
    chain = ConsentChain(store)
    revoke = system_pb2.RevokeRole(account=CONTROLLER.account_id, role="controller")
    assert chain.harness.call(ADMIN, 0, 1, revoke).success
    chain.assert_noop(ALICE, grant_args(chain), "ControllerNotRegistered")


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"subject": "alice"}, "subject 'alice' is not a DID"),
        ({"subject": "did:dcrm:alice@example.com"}, "subject contains '@' and looks like an e-mail address"),
        ({"subject": "did:dcrm:alice%40example.com"}, "looks like an e-mail address"),
        ({"controller": "did:" + "x" * 300}, "controller is 304 characters"),
        ({"client_ref": b""}, "client_ref must be 1 to 32 bytes"),
        ({"terms": make_terms(purposes=[])}, "terms.purposes has 0 items"),
        ({"terms": make_terms(categories=["health"], sensitive=["health"])}, "consent_type must be explicit"),
    ],
)
def test_bad_grant_arguments_are_refused_at_admission(store: KVStore, fields: dict[str, object], message: str) -> None:
    chain = ConsentChain(store)
    tx = chain.sign(ALICE, grant_args(chain, **fields))
    with pytest.raises(TxRejected) as caught:
        chain.harness.decode(tx)
    assert caught.value.reason is Rejection.BAD_ARGUMENTS
    assert message in caught.value.message


# --- request, grant_request, refuse ------------------------------------------------------------


def test_controller_requests_and_subject_grants_part_of_it(store: KVStore) -> None:
    chain = ConsentChain(store)
    terms = make_terms(["newsletter", "profiling"], ["email", "purchases"])
    record_id = chain.request(terms=terms)
    requested = chain.record(record_id)
    assert requested.state == consent_pb2.STATE_REQUESTED
    assert (requested.changed_by, requested.valid_from_ms) == (CONTROLLER.account_id, 0)
    assert not chain.check().allowed  # a request covers nothing yet
    accept = consent_pb2.GrantRequest(record_id=record_id, purposes=["newsletter"], data_categories=["email"])
    receipt = chain.ok(ALICE, accept)
    given = chain.record(record_id)
    assert given.state == GIVEN
    assert [purpose.id for purpose in given.terms.purposes] == ["newsletter"]
    assert [category.id for category in given.terms.data_categories] == ["email"]
    assert given.valid_from_ms == chain.now_ms
    assert given.valid_until_ms == requested.valid_until_ms
    assert given.changed_by == ALICE.account_id
    assert given.predecessor_hash == hashlib.sha256(requested.SerializeToString(deterministic=True)).digest()
    assert decode_events(receipt.events, consent_pb2.ConsentGiven).revision == 1
    assert chain.check("newsletter", "email").allowed
    assert not chain.check("profiling", "email").allowed
    assert not chain.check("newsletter", "purchases").allowed


def test_grant_request_with_an_earlier_end(store: KVStore) -> None:
    chain = ConsentChain(store)
    record_id = chain.request()
    until = chain.next_block_ms + DAY_MS
    chain.ok(ALICE, consent_pb2.GrantRequest(record_id=record_id, valid_until_ms=until))
    assert chain.record(record_id).valid_until_ms == until


def request_args(chain: ConsentChain, **fields: object) -> consent_pb2.RequestConsent:
    values: dict[str, object] = {
        "client_ref": b"q",
        "subject": ALICE_DID,
        "subject_account": ALICE.account_id,
        "controller": ACME,
        "terms": make_terms(),
        "valid_until_ms": chain.next_block_ms + DAY_MS,
    }
    values.update(fields)
    return consent_pb2.RequestConsent(**values)  # type: ignore[arg-type]


def test_request_errors(store: KVStore) -> None:
    chain = ConsentChain(store)
    base = request_args(chain)
    chain.assert_noop(ALICE, base, "MissingRole")
    receipt = chain.assert_noop(RIVAL, base, "NotController")  # ACME is CONTROLLER's
    assert f"the caller {RIVAL.account_id.hex()} does not control controller {ACME}" in receipt.error.message
    receipt = chain.assert_noop(CONTROLLER, request_args(chain, subject_account=BOB.account_id), "NotSubject")
    assert f"subject_account {BOB.account_id.hex()} does not control subject {ALICE_DID}" in receipt.error.message
    chain.request(ref=b"q")
    chain.assert_noop(CONTROLLER, base, "RecordExists")


def test_grant_request_errors(store: KVStore) -> None:
    chain = ConsentChain(store)
    record_id = chain.request()
    chain.assert_noop(MALLORY, consent_pb2.GrantRequest(record_id=record_id), "NotSubject")
    chain.assert_noop(CONTROLLER, consent_pb2.GrantRequest(record_id=record_id), "NotSubject")
    chain.assert_noop(ALICE, consent_pb2.GrantRequest(record_id=UNKNOWN_ID), "RecordNotFound")
    chain.assert_noop(ALICE, consent_pb2.GrantRequest(record_id=record_id, purposes=["ads"]), "NotRequested")
    chain.assert_noop(ALICE, consent_pb2.GrantRequest(record_id=record_id, data_categories=["phone"]), "NotRequested")
    later = chain.record(record_id).valid_until_ms + 1
    chain.assert_noop(ALICE, consent_pb2.GrantRequest(record_id=record_id, valid_until_ms=later), "BadValidity")
    chain.ok(ALICE, consent_pb2.GrantRequest(record_id=record_id))
    receipt = chain.assert_noop(ALICE, consent_pb2.GrantRequest(record_id=record_id), "InvalidTransition")
    assert "is given; only a record that is requested can become given" in receipt.error.message


def test_grant_request_after_the_subject_did_changed_hands(store: KVStore) -> None:
    chain = ConsentChain(store)
    record_id = chain.request(subject=BOB_DID, subject_account=BOB.account_id)
    hand_over = identity_pb2.UpdateDid(
        did=BOB_DID,
        operations=[
            identity_pb2.DidOperation(
                set_controller_account=identity_pb2.SetControllerAccount(account=MALLORY.account_id)
            ),
            remove_key("key-1"),
        ],
    )
    assert identity_call(chain.harness, BOB, UPDATE_DID, hand_over).success
    chain.assert_noop(BOB, consent_pb2.GrantRequest(record_id=record_id), "NotSubject")
    chain.ok(MALLORY, consent_pb2.GrantRequest(record_id=record_id))  # the DID's controller now answers
    assert chain.record(record_id).changed_by == MALLORY.account_id


def test_subject_refuses_a_request(store: KVStore) -> None:
    chain = ConsentChain(store)
    record_id = chain.request()
    chain.assert_noop(MALLORY, consent_pb2.RefuseRequest(record_id=record_id), "NotSubject")
    receipt = chain.ok(ALICE, consent_pb2.RefuseRequest(record_id=record_id))
    assert decode_events(receipt.events, consent_pb2.ConsentRefused).record_id == record_id  # type: ignore[arg-type]
    assert chain.record(record_id).state == consent_pb2.STATE_REFUSED
    chain.assert_noop(ALICE, consent_pb2.GrantRequest(record_id=record_id), "InvalidTransition")
    chain.assert_noop(ALICE, consent_pb2.RefuseRequest(record_id=record_id), "InvalidTransition")
    chain.assert_noop(CONTROLLER, consent_pb2.TerminateConsent(record_id=record_id), "InvalidTransition")


def test_refusing_a_given_consent_is_not_withdrawing(store: KVStore) -> None:
    chain = ConsentChain(store)
    record_id = chain.grant()
    receipt = chain.assert_noop(ALICE, consent_pb2.RefuseRequest(record_id=record_id), "InvalidTransition")
    assert "only a record that is requested can become refused" in receipt.error.message


# --- renew, withdraw ----------------------------------------------------------------------------


def test_subject_renews(store: KVStore) -> None:
    chain = ConsentChain(store)
    record_id = chain.grant(valid_for_ms=DAY_MS)
    first = chain.record(record_id)
    until = first.valid_until_ms + 10 * DAY_MS
    receipt = chain.ok(ALICE, consent_pb2.RenewConsent(record_id=record_id, valid_until_ms=until))
    renewed = chain.record(record_id)
    assert (renewed.state, renewed.valid_until_ms, renewed.revision) == (consent_pb2.STATE_RENEWED, until, 1)
    assert renewed.valid_from_ms == first.valid_from_ms  # renewal extends, it does not restart
    event = consent_pb2.ConsentRenewed.FromString(receipt.events[0].data)
    assert (event.valid_until_ms, event.revision) == (until, 1)
    assert chain.check().allowed
    chain.ok(ALICE, consent_pb2.RenewConsent(record_id=record_id, valid_until_ms=until + 1))
    assert chain.record(record_id).revision == 2


def test_renew_errors(store: KVStore) -> None:
    chain = ConsentChain(store)
    record_id = chain.grant()
    current = chain.record(record_id).valid_until_ms
    chain.assert_noop(MALLORY, consent_pb2.RenewConsent(record_id=record_id, valid_until_ms=current + 1), "NotSubject")
    chain.assert_noop(ALICE, consent_pb2.RenewConsent(record_id=record_id, valid_until_ms=current), "BadValidity")
    too_far = chain.next_block_ms + 3_654 * DAY_MS
    chain.assert_noop(ALICE, consent_pb2.RenewConsent(record_id=record_id, valid_until_ms=too_far), "BadValidity")
    requested = chain.request()
    chain.assert_noop(
        ALICE, consent_pb2.RenewConsent(record_id=requested, valid_until_ms=current + 1), "InvalidTransition"
    )


def test_withdraw_is_one_call_by_the_subject_only(store: KVStore) -> None:
    chain = ConsentChain(store)
    record_id = chain.grant()
    for who in (MALLORY, CONTROLLER, RIVAL):
        chain.assert_noop(who, consent_pb2.WithdrawConsent(record_id=record_id), "NotSubject")
    receipt = chain.ok(ALICE, consent_pb2.WithdrawConsent(record_id=record_id))
    event = consent_pb2.ConsentWithdrawn.FromString(receipt.events[0].data)
    assert (event.record_id, event.subject, event.controller, event.revision) == (record_id, ALICE_DID, ACME, 1)
    record = chain.record(record_id)
    assert (record.state, record.changed_by) == (consent_pb2.STATE_WITHDRAWN, ALICE.account_id)
    assert not chain.check().allowed
    chain.assert_noop(ALICE, consent_pb2.WithdrawConsent(record_id=record_id), "InvalidTransition")
    chain.assert_noop(ALICE, consent_pb2.WithdrawConsent(record_id=UNKNOWN_ID), "RecordNotFound")


def test_withdrawing_a_request_is_refusing(store: KVStore) -> None:
    chain = ConsentChain(store)
    record_id = chain.request()
    receipt = chain.assert_noop(ALICE, consent_pb2.WithdrawConsent(record_id=record_id), "InvalidTransition")
    assert "is requested; only a record that is given or renewed can become withdrawn" in receipt.error.message


# --- terminate, invalidate -------------------------------------------------------------------------


def test_controller_terminates_a_request_and_a_consent(store: KVStore) -> None:
    chain = ConsentChain(store)
    requested = chain.request()
    given = chain.grant()
    for record_id in (requested, given):
        chain.assert_noop(RIVAL, consent_pb2.TerminateConsent(record_id=record_id), "NotController")
        chain.assert_noop(ALICE, consent_pb2.TerminateConsent(record_id=record_id), "MissingRole")
        receipt = chain.ok(CONTROLLER, consent_pb2.TerminateConsent(record_id=record_id))
        assert receipt.events[0].name == "ConsentTerminated"
        assert chain.record(record_id).state == consent_pb2.STATE_TERMINATED
    assert not chain.check().allowed
    chain.assert_noop(CONTROLLER, consent_pb2.TerminateConsent(record_id=given), "InvalidTransition")


def test_controller_invalidates(store: KVStore) -> None:
    chain = ConsentChain(store)
    given = chain.grant()
    withdrawn = chain.grant(ref=b"ref-2")
    chain.ok(ALICE, consent_pb2.WithdrawConsent(record_id=withdrawn))
    chain.assert_noop(RIVAL, consent_pb2.InvalidateConsent(record_id=given), "NotController")
    for record_id in (given, withdrawn):
        receipt = chain.ok(CONTROLLER, consent_pb2.InvalidateConsent(record_id=record_id))
        assert receipt.events[0].name == "ConsentInvalidated"
        assert chain.record(record_id).state == consent_pb2.STATE_INVALIDATED
    chain.assert_noop(CONTROLLER, consent_pb2.InvalidateConsent(record_id=given), "InvalidTransition")
    requested = chain.request()
    chain.assert_noop(CONTROLLER, consent_pb2.InvalidateConsent(record_id=requested), "InvalidTransition")


# --- log_access ------------------------------------------------------------------------------------


def log_args(
    record_id: bytes, purpose: str = "newsletter", categories: tuple[str, ...] = ("email",)
) -> consent_pb2.LogAccess:
    return consent_pb2.LogAccess(record_id=record_id, purpose=purpose, data_categories=categories, accessor=ACCESSOR)


def test_controller_logs_access_under_a_valid_consent(store: KVStore) -> None:
    chain = ConsentChain(store)
    record_id = chain.grant(terms=make_terms(["newsletter"], ["email", "name"]))
    receipt = chain.ok(CONTROLLER, log_args(record_id, categories=("email", "name")))
    event = consent_pb2.AccessLogged.FromString(receipt.events[0].data)
    assert (event.seq, event.record_id, event.subject, event.accessor) == (0, record_id, ALICE_DID, ACCESSOR)
    chain.ok(CONTROLLER, log_args(record_id))
    log = chain.query("access_log", consent_pb2.AccessLogQuery(subject=ALICE_DID), consent_pb2.AccessLogResult)
    assert [entry.seq for entry in log.entries] == [0, 1]
    assert list(log.entries[0].data_categories) == ["email", "name"]
    assert (log.entries[1].logged_by, log.entries[1].time_ms) == (CONTROLLER.account_id, chain.now_ms)


def test_log_access_is_refused_without_a_valid_consent_covering_it(store: KVStore) -> None:
    chain = ConsentChain(store)
    record_id = chain.grant()
    chain.assert_noop(CONTROLLER, log_args(record_id, purpose="profiling"), "PurposeNotCovered")
    receipt = chain.assert_noop(CONTROLLER, log_args(record_id, categories=("email", "phone")), "CategoryNotCovered")
    assert "data_categories[1]" in receipt.error.message
    chain.assert_noop(RIVAL, log_args(record_id), "NotController")
    chain.assert_noop(ALICE, log_args(record_id), "MissingRole")
    chain.assert_noop(CONTROLLER, log_args(UNKNOWN_ID), "RecordNotFound")
    requested = chain.request()
    chain.assert_noop(CONTROLLER, log_args(requested), "ConsentNotValid")
    chain.ok(ALICE, consent_pb2.WithdrawConsent(record_id=record_id))
    receipt = chain.assert_noop(CONTROLLER, log_args(record_id), "ConsentNotValid")
    assert "is withdrawn" in receipt.error.message


def test_calls_in_the_block_where_a_record_runs_out_see_it_expired(store: KVStore) -> None:
    chain = ConsentChain(store)
    until = chain.next_block_ms + 1_000  # the time of the block after the next
    chain.apply(
        [
            chain.sign(ALICE, grant_args(chain, valid_until_ms=until)),
            chain.sign(
                CONTROLLER,
                consent_pb2.RequestConsent(
                    client_ref=b"q",
                    subject=ALICE_DID,
                    subject_account=ALICE.account_id,
                    controller=ACME,
                    terms=make_terms(),
                    valid_until_ms=until,
                ),
            ),
        ]
    )
    record_id = record_id_for(ALICE.account_id, b"ref-1")
    request_id = record_id_for(CONTROLLER.account_id, b"q")
    renew = consent_pb2.RenewConsent(record_id=record_id, valid_until_ms=until + DAY_MS)
    block = chain.apply(
        [
            chain.sign(CONTROLLER, log_args(record_id)),
            chain.sign(ALICE, renew),
            chain.sign(ALICE, consent_pb2.GrantRequest(record_id=request_id)),
        ]
    )
    assert chain.now_ms == until
    assert [receipt.error.name for receipt in block.receipts] == ["RecordExpired"] * 3
    expired = [consent_pb2.ConsentExpired.FromString(event.data) for event in block.block_events]
    assert {(event.record_id, event.previous_state) for event in expired} == {
        (record_id, GIVEN),
        (request_id, consent_pb2.STATE_REQUESTED),
    }
    assert chain.record(record_id).state == consent_pb2.STATE_EXPIRED
    assert chain.record(record_id).changed_by == b""


def test_accessor_must_be_an_opaque_hash(store: KVStore) -> None:
    chain = ConsentChain(store)
    record_id = chain.grant()
    for accessor, message in ((b"x" * 8, "accessor must be an opaque hash"), (b"Jane Doe, sales team 04", "readable")):
        args = log_args(record_id)
        args.accessor = accessor
        with pytest.raises(TxRejected) as caught:
            chain.harness.decode(chain.sign(CONTROLLER, args))
        assert message in caught.value.message
