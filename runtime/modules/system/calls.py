"""System module calls: thin handlers that check, mutate and emit."""

from __future__ import annotations

from typing import Any

from dcrm.runtime.crypto import sha256
from dcrm.runtime.module import CallContext, CallDef
from dcrm.runtime.modules.system import errors, roles
from dcrm.runtime.modules.system.storage import ROLE_MEMBERS, role_key
from dcrm.v1 import system_pb2

MAX_NOTE_BYTES = 256


def check_role_args(args: system_pb2.GrantRole | system_pb2.RevokeRole) -> None:
    roles.check_account(args.account, "account")
    roles.check_role_name(args.role)


def grant_role(ctx: CallContext, args: system_pb2.GrantRole) -> None:
    key = role_key(args.role, args.account)
    if ROLE_MEMBERS.contains(ctx.state, key):
        raise errors.ROLE_ALREADY_GRANTED(f"account {args.account.hex()} already holds role {args.role!r}")
    ROLE_MEMBERS.put(ctx.state, key, True)
    ctx.emit(system_pb2.RoleGranted(account=args.account, role=args.role, granted_by=ctx.origin))


def revoke_role(ctx: CallContext, args: system_pb2.RevokeRole) -> None:
    key = role_key(args.role, args.account)
    if not ROLE_MEMBERS.contains(ctx.state, key):
        raise errors.ROLE_NOT_HELD(f"account {args.account.hex()} does not hold role {args.role!r}")
    if args.role == roles.ADMIN and len(roles.members(ctx.state, roles.ADMIN)) == 1:
        raise errors.LAST_ADMIN("the chain must keep at least one admin")
    ROLE_MEMBERS.delete(ctx.state, key)
    ctx.emit(system_pb2.RoleRevoked(account=args.account, role=args.role, revoked_by=ctx.origin))


def check_remark(args: system_pb2.Remark) -> None:
    if len(args.note) > MAX_NOTE_BYTES:
        raise errors.NOTE_TOO_LONG(f"note is {len(args.note)} bytes, at most {MAX_NOTE_BYTES} allowed")


def remark(ctx: CallContext, args: system_pb2.Remark) -> None:
    ctx.emit(system_pb2.Remarked(sender=ctx.origin, note_hash=sha256(args.note)))


CALLS: tuple[CallDef[Any], ...] = (
    CallDef(0, "grant_role", system_pb2.GrantRole, grant_role, roles.ADMIN, check_role_args),
    CallDef(1, "revoke_role", system_pb2.RevokeRole, revoke_role, roles.ADMIN, check_role_args),
    CallDef(2, "remark", system_pb2.Remark, remark, None, check_remark),
)
