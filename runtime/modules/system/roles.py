"""The role registry that every module uses for permissions."""

from __future__ import annotations

from dcrm.runtime.errors import DispatchError
from dcrm.runtime.modules.system import errors
from dcrm.runtime.modules.system.storage import ROLE_MEMBERS, role_key
from dcrm.runtime.state.kv import KVReader

ADMIN = "admin"
ISSUER = "issuer"
CONTROLLER = "controller"
VALIDATOR = "validator"
KNOWN_ROLES = (ADMIN, CONTROLLER, ISSUER, VALIDATOR)
ACCOUNT_LENGTH = 20


def has_role(state: KVReader, account: bytes, role: str) -> bool:
    return ROLE_MEMBERS.contains(state, role_key(role, account))


def ensure_role(state: KVReader, account: bytes, role: str, action: str) -> None:
    """Raise MissingRole unless `account` holds `role`; `action` names what was attempted."""
    if not has_role(state, account, role):
        raise errors.MISSING_ROLE(f"account {account.hex()} does not hold role {role!r} required by {action}")


def members(state: KVReader, role: str) -> list[bytes]:
    return [key[len(role) + 1 :] for key, _ in ROLE_MEMBERS.items(state, role.encode() + b"/")]


def check_role_name(role: str) -> None:
    if role not in KNOWN_ROLES:
        raise errors.UNKNOWN_ROLE(f"role {role!r} is not one of {', '.join(KNOWN_ROLES)}")


def check_account(account: bytes, field: str) -> None:
    if len(account) != ACCOUNT_LENGTH:
        raise errors.BAD_ACCOUNT(f"{field} must be {ACCOUNT_LENGTH} bytes, got {len(account)}")


__all__ = [
    "ADMIN",
    "CONTROLLER",
    "ISSUER",
    "KNOWN_ROLES",
    "VALIDATOR",
    "DispatchError",
    "check_account",
    "check_role_name",
    "ensure_role",
    "has_role",
    "members",
]
