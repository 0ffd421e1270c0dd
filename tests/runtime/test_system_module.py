"""The system module: roles and permissions, queries, and the admin invariant."""

from __future__ import annotations

from dcrm.runtime.state.kv import KVStore
from dcrm.v1 import system_pb2
from tests.support.runtime_harness import RuntimeHarness, deterministic_key

ADMIN = deterministic_key(0)
ALICE = deterministic_key(1)
BOB = deterministic_key(2)
GRANT, REVOKE = (0, 0), (0, 1)


def account(harness: RuntimeHarness, who: bytes) -> system_pb2.AccountResult:
    raw = harness.runtime.query(
        harness.store, "system", "account", system_pb2.AccountQuery(account=who).SerializeToString()
    )
    return system_pb2.AccountResult.FromString(raw)


def test_admin_grants_and_revokes_roles(store: KVStore) -> None:
    harness = RuntimeHarness(store)
    receipt = harness.call(ADMIN, *GRANT, system_pb2.GrantRole(account=ALICE.account_id, role="issuer"))
    assert receipt.success
    event = system_pb2.RoleGranted.FromString(receipt.events[0].data)
    assert (event.account, event.role, event.granted_by) == (ALICE.account_id, "issuer", ADMIN.account_id)
    assert account(harness, ALICE.account_id).roles == ["issuer"]
    assert harness.call(ADMIN, *REVOKE, system_pb2.RevokeRole(account=ALICE.account_id, role="issuer")).success
    assert account(harness, ALICE.account_id).roles == []


def test_only_admins_grant(store: KVStore) -> None:
    harness = RuntimeHarness(store)
    root = harness.root()
    receipt = harness.call(ALICE, *GRANT, system_pb2.GrantRole(account=BOB.account_id, role="admin"))
    assert receipt.error.name == "MissingRole"
    assert "admin" in receipt.error.message
    assert account(harness, BOB.account_id).roles == []
    assert harness.root() != root  # only ALICE's nonce moved
    assert account(harness, ALICE.account_id).nonce == 1


def test_role_errors(store: KVStore) -> None:
    harness = RuntimeHarness(store)
    twice = system_pb2.GrantRole(account=ADMIN.account_id, role="admin")
    assert harness.call(ADMIN, *GRANT, twice).error.name == "RoleAlreadyGranted"
    missing = system_pb2.RevokeRole(account=BOB.account_id, role="issuer")
    assert harness.call(ADMIN, *REVOKE, missing).error.name == "RoleNotHeld"
    last = system_pb2.RevokeRole(account=ADMIN.account_id, role="admin")
    assert harness.call(ADMIN, *REVOKE, last).error.name == "LastAdmin"
    assert account(harness, ADMIN.account_id).roles == ["admin"]


def test_role_members_query_is_ordered(store: KVStore) -> None:
    harness = RuntimeHarness(store)
    for key in (BOB, ALICE):
        harness.call(ADMIN, *GRANT, system_pb2.GrantRole(account=key.account_id, role="controller"))
    raw = harness.runtime.query(
        store, "system", "role_members", system_pb2.RoleMembersQuery(role="controller").SerializeToString()
    )
    assert list(system_pb2.RoleMembersResult.FromString(raw).accounts) == sorted([ALICE.account_id, BOB.account_id])
