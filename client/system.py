"""The system module (index 0): roles, remarks, accounts and nonces.

Calls: 0 GrantRole, 1 RevokeRole, 2 Remark (dcrm.v1.system messages). Queries ("system" module of the Query
RPC): "account" (AccountQuery -> AccountResult) and "role_members" (RoleMembersQuery -> RoleMembersResult).
State keys: b"system/nonce/" + account id (8-byte big-endian next nonce) and
b"system/role/" + role + b"/" + account id (b"\\x01" while the account holds the role).

Use it as `client.system`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, TypeVar

from google.protobuf.message import Message

from dcrm.client.certificates import ValidatorKey
from dcrm.client.errors import ProtocolError
from dcrm.client.keys import ACCOUNT_ID_LENGTH
from dcrm.v1 import system_pb2, types_pb2

__all__ = [
    "ADMIN",
    "CONTROLLER",
    "GRANT_ROLE",
    "ISSUER",
    "MAX_NOTE_BYTES",
    "MODULE_INDEX",
    "MODULE_NAME",
    "REMARK",
    "REVOKE_ROLE",
    "ROLES",
    "VALIDATOR",
    "NodeReader",
    "Signer",
    "SystemApi",
    "nonce_key",
    "role_key",
]

MODULE_INDEX = 0
MODULE_NAME = "system"

# Call indices.
GRANT_ROLE = 0
REVOKE_ROLE = 1
REMARK = 2

# The roles the chain defines.
ADMIN = "admin"
ISSUER = "issuer"
CONTROLLER = "controller"
VALIDATOR = "validator"
ROLES = (ADMIN, ISSUER, CONTROLLER, VALIDATOR)

MAX_NOTE_BYTES = 256
NONCE_BYTES = 8


def _check_account(account_id: bytes, what: str = "account") -> None:
    if len(account_id) != ACCOUNT_ID_LENGTH:
        raise ValueError(f"{what} must be a {ACCOUNT_ID_LENGTH}-byte account id, got {len(account_id)} bytes")


def nonce_key(account_id: bytes) -> bytes:
    """The state key of an account's next nonce. Raises ValueError unless `account_id` is 20 bytes."""
    _check_account(account_id)
    return b"system/nonce/" + account_id


def role_key(role: str, account_id: bytes) -> bytes:
    """The state key present while `account_id` holds `role`. Raises ValueError unless it is 20 bytes."""
    _check_account(account_id)
    return b"system/role/" + role.encode() + b"/" + account_id


R = TypeVar("R", bound=Message)


class NodeReader(Protocol):
    """What SystemApi reads through: dcrm.client.Client."""

    def query(
        self, module: str, method: str, request: Message, result_type: type[R], *, timeout: float | None = None
    ) -> R: ...

    def query_state(
        self,
        key: bytes,
        *,
        verify: bool = True,
        validators: Sequence[ValidatorKey] | None = None,
        timeout: float | None = None,
    ) -> bytes | None: ...


class Signer(Protocol):
    """What SystemApi sends calls through: dcrm.client.Account."""

    def submit_and_wait(
        self,
        module: int,
        method: int,
        args: Message | bytes,
        *,
        valid_for: int = ...,
        timeout: float | None = None,
        check: bool = True,
    ) -> types_pb2.Receipt: ...


class SystemApi:
    """Typed calls and queries of the system module through one Client (available as `client.system`)."""

    def __init__(self, client: NodeReader) -> None:
        self._client = client

    def grant_role(
        self,
        account: Signer,
        target_account: bytes,
        role: str,
        *,
        timeout: float | None = None,
        check: bool = True,
    ) -> types_pb2.Receipt:
        """`account` (an admin) grants `role` to `target_account`; waits for the commit, returns the receipt.

        Raises ValueError when `target_account` is not 20 bytes; the RpcError subclass of a rejection (for
        example PermissionDenied when `account` is not an admin); with `check`, the ModuleError subclass of
        a failed call (UnknownRole, RoleAlreadyGranted, ...).
        """
        _check_account(target_account, "target_account")
        args = system_pb2.GrantRole(account=target_account, role=role)
        return account.submit_and_wait(MODULE_INDEX, GRANT_ROLE, args, timeout=timeout, check=check)

    def revoke_role(
        self,
        account: Signer,
        target_account: bytes,
        role: str,
        *,
        timeout: float | None = None,
        check: bool = True,
    ) -> types_pb2.Receipt:
        """`account` (an admin) revokes `role` from `target_account`; waits for the commit.

        Raises like `grant_role`; with `check`, RoleNotHeld or LastAdmin among others.
        """
        _check_account(target_account, "target_account")
        args = system_pb2.RevokeRole(account=target_account, role=role)
        return account.submit_and_wait(MODULE_INDEX, REVOKE_ROLE, args, timeout=timeout, check=check)

    def remark(
        self, account: Signer, note: bytes, *, timeout: float | None = None, check: bool = True
    ) -> types_pb2.Receipt:
        """`account` records `note` (at most 256 bytes); waits for the commit, returns the receipt.

        Raises ValueError when the note is too long, the RpcError subclass of a rejection, and with `check`
        the ModuleError subclass of a failed call.
        """
        if len(note) > MAX_NOTE_BYTES:
            raise ValueError(f"note is {len(note)} bytes, at most {MAX_NOTE_BYTES} allowed")
        args = system_pb2.Remark(note=note)
        return account.submit_and_wait(MODULE_INDEX, REMARK, args, timeout=timeout, check=check)

    def account_info(self, account_id: bytes) -> system_pb2.AccountResult:
        """The account's next nonce and roles, from the node's committed state (unverified).

        Raises ValueError when `account_id` is not 20 bytes and the RpcError subclass of a failed query.
        """
        _check_account(account_id)
        return self._client.query(
            MODULE_NAME, "account", system_pb2.AccountQuery(account=account_id), system_pb2.AccountResult
        )

    def role_members(self, role: str) -> list[bytes]:
        """The account ids holding `role`, from the node's committed state (unverified).

        Raises InvalidArgument for a role the chain does not define, and other RpcError subclasses.
        """
        result = self._client.query(
            MODULE_NAME, "role_members", system_pb2.RoleMembersQuery(role=role), system_pb2.RoleMembersResult
        )
        return list(result.accounts)

    def nonce(self, account_id: bytes, *, verify: bool = True, validators: Sequence[ValidatorKey] | None = None) -> int:
        """The account's next nonce read with a state proof (see Client.query_state).

        Raises ValueError for a bad account id, ProofError or CertificateError when verification fails,
        ProtocolError when the stored value is not 8 bytes, and RpcError subclasses.
        """
        value = self._client.query_state(nonce_key(account_id), verify=verify, validators=validators)
        if value is None:
            return 0
        if len(value) != NONCE_BYTES:
            raise ProtocolError(f"the nonce of {account_id.hex()} is {len(value)} bytes, expected {NONCE_BYTES}")
        return int.from_bytes(value, "big")

    def has_role(
        self,
        account_id: bytes,
        role: str,
        *,
        verify: bool = True,
        validators: Sequence[ValidatorKey] | None = None,
    ) -> bool:
        """Whether the account holds `role`, read with a state proof (see Client.query_state).

        Raises ValueError for a bad account id, ProofError or CertificateError when verification fails, and
        RpcError subclasses.
        """
        return self._client.query_state(role_key(role, account_id), verify=verify, validators=validators) is not None
