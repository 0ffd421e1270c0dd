"""System module queries."""

from __future__ import annotations

from typing import Any

from dcrm.runtime.module import QueryDef
from dcrm.runtime.modules.system import roles
from dcrm.runtime.modules.system.storage import NONCES
from dcrm.runtime.state.kv import KVReader
from dcrm.v1 import system_pb2


def account(state: KVReader, request: system_pb2.AccountQuery) -> system_pb2.AccountResult:
    roles.check_account(request.account, "account")
    held = [role for role in roles.KNOWN_ROLES if roles.has_role(state, request.account, role)]
    return system_pb2.AccountResult(account=request.account, nonce=NONCES.get(state, request.account) or 0, roles=held)


def role_members(state: KVReader, request: system_pb2.RoleMembersQuery) -> system_pb2.RoleMembersResult:
    roles.check_role_name(request.role)
    return system_pb2.RoleMembersResult(accounts=roles.members(state, request.role))


QUERIES: tuple[QueryDef[Any, Any], ...] = (
    QueryDef("account", system_pb2.AccountQuery, system_pb2.AccountResult, account),
    QueryDef("role_members", system_pb2.RoleMembersQuery, system_pb2.RoleMembersResult, role_members),
)
