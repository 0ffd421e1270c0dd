"""Identity module: Bitstring status lists — creation, revocation, suspension, and their rules."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dcrm.runtime import STATE_PREFIX, QueryError
from dcrm.runtime.errors import ErrorKind, TxRejected
from dcrm.runtime.modules.identity.storage import CHUNK_BYTES
from dcrm.runtime.state.kv import KVStore, MemoryKV
from dcrm.v1 import identity_pb2
from tests.support.identity import (
    CREATE_STATUS_LIST,
    LIST_SIZE,
    MODULE,
    UPDATE_CREDENTIAL_STATUS,
    assert_noop,
    call,
    create_did,
    make_issuer,
    query,
)
from tests.support.runtime_harness import RuntimeHarness, deterministic_key

ADMIN = deterministic_key(0)
ACME = deterministic_key(10)
RIVAL = deterministic_key(11)
REVOKE, SUSPEND, UNSUSPEND = identity_pb2.REVOKE, identity_pb2.SUSPEND, identity_pb2.UNSUSPEND


def new_list(harness: RuntimeHarness, issuer: str, list_id: str, purpose: identity_pb2.StatusPurpose.ValueType) -> None:
    args = identity_pb2.CreateStatusList(issuer_did=issuer, list_id=list_id, purpose=purpose, size=LIST_SIZE)
    receipt = call(harness, ACME, CREATE_STATUS_LIST, args)
    assert receipt.success, receipt.error


def change(
    issuer: str, list_id: str, index: int, action: identity_pb2.StatusAction.ValueType
) -> identity_pb2.UpdateCredentialStatus:
    return identity_pb2.UpdateCredentialStatus(issuer_did=issuer, list_id=list_id, index=index, action=action)


def bits(harness: RuntimeHarness, issuer: str, list_id: str) -> bytes:
    request = identity_pb2.StatusListQuery(issuer_did=issuer, list_id=list_id)
    return query(harness, "status_list", request, identity_pb2.StatusListResult).bits


def is_set(harness: RuntimeHarness, issuer: str, list_id: str, index: int) -> bool:
    request = identity_pb2.StatusQuery(issuer_did=issuer, list_id=list_id, index=index)
    return query(harness, "status", request, identity_pb2.StatusResult).set


def test_create_status_list(store: KVStore) -> None:
    harness = RuntimeHarness(store)
    issuer = make_issuer(harness, ADMIN, ACME)
    args = identity_pb2.CreateStatusList(
        issuer_did=issuer, list_id="revocations-2026", purpose=identity_pb2.REVOCATION, size=LIST_SIZE
    )
    receipt = call(harness, ACME, CREATE_STATUS_LIST, args)
    assert receipt.success
    event = identity_pb2.StatusListCreated.FromString(receipt.events[0].data)
    assert (event.issuer_did, event.list_id, event.purpose, event.size) == (
        issuer,
        "revocations-2026",
        identity_pb2.REVOCATION,
        LIST_SIZE,
    )
    assert bits(harness, issuer, "revocations-2026") == bytes(LIST_SIZE // 8)
    assert not any(key.startswith(STATE_PREFIX + b"identity/status_bits/") for key, _ in store.iterate(STATE_PREFIX))
    message = assert_noop(harness, ACME, CREATE_STATUS_LIST, args, "StatusListAlreadyExists").message
    assert "revocations-2026" in message


def test_only_issuers_create_lists(store: KVStore) -> None:
    harness = RuntimeHarness(store)
    plain = create_did(harness, RIVAL, b"plain")
    args = identity_pb2.CreateStatusList(issuer_did=plain, list_id="l", purpose=identity_pb2.REVOCATION, size=LIST_SIZE)
    assert_noop(harness, RIVAL, CREATE_STATUS_LIST, args, "NotIssuer")
    issuer = make_issuer(harness, ADMIN, ACME)
    args.issuer_did = issuer
    assert_noop(harness, RIVAL, CREATE_STATUS_LIST, args, "NotDidController")


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (
            identity_pb2.CreateStatusList(list_id="l", purpose=identity_pb2.REVOCATION, size=LIST_SIZE),
            "issuer_did '' is not did:dcrm:",
        ),
        (
            identity_pb2.CreateStatusList(
                issuer_did="did:dcrm:abc", list_id="", purpose=identity_pb2.REVOCATION, size=LIST_SIZE
            ),
            "list_id ''",
        ),
        (
            identity_pb2.CreateStatusList(
                issuer_did="did:dcrm:abc", list_id="a/b", purpose=identity_pb2.REVOCATION, size=LIST_SIZE
            ),
            "list_id 'a/b'",
        ),
        (
            identity_pb2.CreateStatusList(
                issuer_did="did:dcrm:abc", list_id="l", purpose=identity_pb2.STATUS_PURPOSE_UNSPECIFIED, size=LIST_SIZE
            ),
            "purpose 0 must be",
        ),
        (
            identity_pb2.CreateStatusList(
                issuer_did="did:dcrm:abc", list_id="l", purpose=identity_pb2.REVOCATION, size=1024
            ),
            "size 1024 must be",
        ),
        (
            identity_pb2.CreateStatusList(
                issuer_did="did:dcrm:abc", list_id="l", purpose=identity_pb2.REVOCATION, size=LIST_SIZE + 4
            ),
            "a multiple of 8",
        ),
        (
            identity_pb2.CreateStatusList(
                issuer_did="did:dcrm:abc", list_id="l", purpose=identity_pb2.REVOCATION, size=2**21
            ),
            "to 1048576 bits",
        ),
    ],
)
def test_list_argument_rules_reject_at_admission(
    store: KVStore, args: identity_pb2.CreateStatusList, fragment: str
) -> None:
    harness = RuntimeHarness(store)
    with pytest.raises(TxRejected) as raised:
        harness.decode(harness.sign(ACME, MODULE, CREATE_STATUS_LIST, args))
    assert fragment in raised.value.message


def test_revocation_is_permanent(store: KVStore) -> None:
    harness = RuntimeHarness(store)
    issuer = make_issuer(harness, ADMIN, ACME)
    new_list(harness, issuer, "rev", identity_pb2.REVOCATION)
    receipt = call(harness, ACME, UPDATE_CREDENTIAL_STATUS, change(issuer, "rev", 9, REVOKE))
    assert receipt.success
    event = identity_pb2.CredentialStatusChanged.FromString(receipt.events[0].data)
    assert (event.issuer_did, event.list_id, event.index, event.action, event.changed_by) == (
        issuer,
        "rev",
        9,
        REVOKE,
        ACME.account_id,
    )
    listed = bits(harness, issuer, "rev")
    assert listed[1] == 0x40
    assert listed.count(0) == len(listed) - 1
    assert is_set(harness, issuer, "rev", 9)
    assert not is_set(harness, issuer, "rev", 8)
    assert (
        "already revoked"
        in assert_noop(
            harness, ACME, UPDATE_CREDENTIAL_STATUS, change(issuer, "rev", 9, REVOKE), "StatusUnchanged"
        ).message
    )
    assert (
        "never cleared"
        in assert_noop(
            harness, ACME, UPDATE_CREDENTIAL_STATUS, change(issuer, "rev", 9, UNSUSPEND), "RevocationPermanent"
        ).message
    )
    assert (
        "revocation list"
        in assert_noop(
            harness, ACME, UPDATE_CREDENTIAL_STATUS, change(issuer, "rev", 10, SUSPEND), "WrongPurpose"
        ).message
    )
    assert is_set(harness, issuer, "rev", 9)


def test_suspension_can_be_lifted(store: KVStore) -> None:
    harness = RuntimeHarness(store)
    issuer = make_issuer(harness, ADMIN, ACME)
    new_list(harness, issuer, "sus", identity_pb2.SUSPENSION)
    last = LIST_SIZE - 1
    assert call(harness, ACME, UPDATE_CREDENTIAL_STATUS, change(issuer, "sus", last, SUSPEND)).success
    assert bits(harness, issuer, "sus")[-1] == 0x01
    assert_noop(harness, ACME, UPDATE_CREDENTIAL_STATUS, change(issuer, "sus", last, SUSPEND), "StatusUnchanged")
    assert_noop(harness, ACME, UPDATE_CREDENTIAL_STATUS, change(issuer, "sus", last, REVOKE), "WrongPurpose")
    assert call(harness, ACME, UPDATE_CREDENTIAL_STATUS, change(issuer, "sus", last, UNSUSPEND)).success
    assert not is_set(harness, issuer, "sus", last)
    # An all-zero chunk is deleted, not stored.
    assert not any(key.startswith(STATE_PREFIX + b"identity/status_bits/") for key, _ in store.iterate(STATE_PREFIX))
    message = assert_noop(
        harness, ACME, UPDATE_CREDENTIAL_STATUS, change(issuer, "sus", last, UNSUSPEND), "StatusUnchanged"
    ).message
    assert "already not suspended" in message


def test_status_change_errors(store: KVStore) -> None:
    harness = RuntimeHarness(store)
    issuer = make_issuer(harness, ADMIN, ACME)
    rival = make_issuer(harness, ADMIN, RIVAL, b"rival")
    new_list(harness, issuer, "rev", identity_pb2.REVOCATION)
    message = assert_noop(
        harness, ACME, UPDATE_CREDENTIAL_STATUS, change(issuer, "rev", LIST_SIZE, REVOKE), "IndexOutOfRange"
    ).message
    assert f"index {LIST_SIZE} is not below" in message
    assert_noop(harness, ACME, UPDATE_CREDENTIAL_STATUS, change(issuer, "nope", 1, REVOKE), "StatusListNotFound")
    # Another issuer can neither act as ACME nor reach ACME's list through its own DID.
    assert_noop(harness, RIVAL, UPDATE_CREDENTIAL_STATUS, change(issuer, "rev", 1, REVOKE), "NotDidController")
    assert_noop(harness, RIVAL, UPDATE_CREDENTIAL_STATUS, change(rival, "rev", 1, REVOKE), "StatusListNotFound")
    assert call(harness, ADMIN, 4, identity_pb2.RemoveIssuer(did=issuer)).success
    assert_noop(harness, ACME, UPDATE_CREDENTIAL_STATUS, change(issuer, "rev", 1, REVOKE), "NotIssuer")
    with pytest.raises(TxRejected, match="action 0 must be REVOKE"):
        harness.decode(
            harness.sign(
                ACME, MODULE, UPDATE_CREDENTIAL_STATUS, change(issuer, "rev", 1, identity_pb2.STATUS_ACTION_UNSPECIFIED)
            )
        )


def test_status_queries_report_missing_lists_and_bad_indices(store: KVStore) -> None:
    harness = RuntimeHarness(store)
    issuer = make_issuer(harness, ADMIN, ACME)
    with pytest.raises(QueryError, match="has no status list 'x'") as raised:
        bits(harness, issuer, "x")
    assert raised.value.kind is ErrorKind.NOT_FOUND
    new_list(harness, issuer, "x", identity_pb2.SUSPENSION)
    with pytest.raises(QueryError, match="is not below") as raised:
        is_set(harness, issuer, "x", LIST_SIZE)
    assert raised.value.kind is ErrorKind.INVALID_ARGUMENT


ACTIONS = st.sampled_from([("rev", REVOKE), ("sus", SUSPEND), ("sus", UNSUSPEND)])
# Indices cluster in two chunks so that actions collide often.
INDICES = st.one_of(st.integers(0, 20), st.integers(CHUNK_BYTES * 8 - 5, CHUNK_BYTES * 8 + 5))


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=st.lists(st.tuples(ACTIONS, INDICES), min_size=1, max_size=25))
def test_status_lists_follow_their_model(
    steps: list[tuple[tuple[str, identity_pb2.StatusAction.ValueType], int]],
) -> None:
    harness = RuntimeHarness(MemoryKV())
    issuer = make_issuer(harness, ADMIN, ACME)
    new_list(harness, issuer, "rev", identity_pb2.REVOCATION)
    new_list(harness, issuer, "sus", identity_pb2.SUSPENSION)
    model: dict[str, set[int]] = {"rev": set(), "sus": set()}
    txs = [harness.sign(ACME, MODULE, UPDATE_CREDENTIAL_STATUS, change(issuer, name, i, a)) for (name, a), i in steps]
    receipts = harness.apply(txs).receipts  # all in one block: later calls see earlier writes
    for ((name, action), index), receipt in zip(steps, receipts, strict=True):
        expected_ok = (index in model[name]) == (action == UNSUSPEND)
        assert receipt.success == expected_ok, (name, action, index, receipt.error)
        if expected_ok:
            (model[name].discard if action == UNSUSPEND else model[name].add)(index)
    for name, indices in model.items():
        listed = bits(harness, issuer, name)
        found = {i for i in range(len(listed) * 8) if listed[i // 8] & (0x80 >> (i % 8))}
        assert found == indices
