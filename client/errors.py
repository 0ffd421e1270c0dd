"""The exceptions the SDK raises.

```
DcrmError
├── KeyFileError            a key file is missing, unsafe or malformed
├── SignatureError          a signature does not recover a public key
├── CertificateError        a commit certificate does not prove a header final
├── EventError              an event cannot be decoded (UnknownEvent: no type known for it)
├── ProtocolError           a node's answer breaks the wire contract
├── RpcError                a gRPC call failed; one subclass per status code the node uses
└── TransactionFailed       a committed transaction failed; its nonce is used, it wrote nothing
    └── ModuleError         ... with a module's numbered error; one subclass per (module, code)
```

`ProofError` is defined by `dcrm.client.proof` and re-exported by `dcrm.client`.

Module errors are found by (module index, code) in a registry that a class joins by declaring itself:
`class MissingRole(SystemModuleError, code=system_pb2.MISSING_ROLE)`. A module declares one base class with
`module=<index>` and one subclass per error code; codes the SDK does not know yet map to the module's base
class, and modules it does not know to `ModuleError`.
"""

from __future__ import annotations

import os
from typing import Any, ClassVar

import grpc

from dcrm.v1 import node_pb2, system_pb2, types_pb2

__all__ = [
    "Aborted",
    "AlreadyExists",
    "BadAccount",
    "BadArguments",
    "CallPanicked",
    "CertificateError",
    "DcrmError",
    "DeadlineExceeded",
    "EventError",
    "FailedPrecondition",
    "InvalidArgument",
    "KeyFileError",
    "LastAdmin",
    "MissingRole",
    "ModuleError",
    "NotFound",
    "NoteTooLong",
    "PermissionDenied",
    "ProtocolError",
    "ResourceExhausted",
    "RoleAlreadyGranted",
    "RoleNotHeld",
    "RpcError",
    "SignatureError",
    "SystemModuleError",
    "TransactionFailed",
    "Unauthenticated",
    "Unavailable",
    "UnknownCall",
    "UnknownEvent",
    "UnknownRole",
    "admission_error",
    "error_for_receipt",
    "error_for_status",
    "from_rpc_error",
    "module_error_class",
    "raise_for_receipt",
    "status_code",
]


class DcrmError(Exception):
    """Base class of every exception the SDK raises on purpose."""


class KeyFileError(DcrmError):
    """A key file cannot be created or loaded; `path` names the file and `problem` says what is wrong."""

    def __init__(self, path: str | os.PathLike[str], problem: str) -> None:
        self.path = os.fspath(path)
        self.problem = problem
        super().__init__(f"key file {self.path}: {problem}")


class SignatureError(DcrmError, ValueError):
    """A signature is malformed or does not recover a public key."""


class CertificateError(DcrmError):
    """A commit certificate does not prove that a header is final; the message says which check failed."""


class EventError(DcrmError):
    """An event's data does not decode as the message its module and name declare."""


class UnknownEvent(EventError):
    """No message type is known for an event's (module, name)."""


class ProtocolError(DcrmError):
    """A node's answer breaks the wire contract (for example, a receipt for another transaction)."""


# -- gRPC status codes ---------------------------------------------------------------------------------


class RpcError(DcrmError):
    """A gRPC call failed. `code` is the grpc.StatusCode, `details` the node's message.

    The node uses one subclass per status code it returns (see `from_rpc_error`); other codes (for example
    INTERNAL or UNKNOWN) arrive as this class itself.
    """

    status: ClassVar[Any] = None  # the grpc.StatusCode of a subclass

    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        self.code = code
        self.details = details
        super().__init__(f"{code.name}: {details}" if details else code.name)


class InvalidArgument(RpcError):
    """The request is malformed or a field is out of bounds; the message names the field."""

    status = grpc.StatusCode.INVALID_ARGUMENT


class Unauthenticated(RpcError):
    """The signature is invalid or the signer is not the transaction's sender."""

    status = grpc.StatusCode.UNAUTHENTICATED


class FailedPrecondition(RpcError):
    """The nonce is stale or too far ahead, valid_until has passed, or the chain id is wrong."""

    status = grpc.StatusCode.FAILED_PRECONDITION


class PermissionDenied(RpcError):
    """The sender may not make this call."""

    status = grpc.StatusCode.PERMISSION_DENIED


class ResourceExhausted(RpcError):
    """The mempool is full or the sender is rate limited; retry later."""

    status = grpc.StatusCode.RESOURCE_EXHAUSTED


class NotFound(RpcError):
    """The node knows no such transaction or block."""

    status = grpc.StatusCode.NOT_FOUND


class AlreadyExists(RpcError):
    """The node already holds this transaction."""

    status = grpc.StatusCode.ALREADY_EXISTS


class DeadlineExceeded(RpcError):
    """The call (or the wait for a commit) did not finish in time. A submitted transaction may still commit."""

    status = grpc.StatusCode.DEADLINE_EXCEEDED


class Unavailable(RpcError):
    """The node cannot be reached."""

    status = grpc.StatusCode.UNAVAILABLE


class Aborted(RpcError):
    """SubmitAndWait: the transaction left the mempool uncommitted (it expired or was replaced)."""

    status = grpc.StatusCode.ABORTED


_RPC_ERRORS: dict[Any, type[RpcError]] = {
    cls.status: cls
    for cls in (
        InvalidArgument,
        Unauthenticated,
        FailedPrecondition,
        PermissionDenied,
        ResourceExhausted,
        NotFound,
        AlreadyExists,
        DeadlineExceeded,
        Unavailable,
        Aborted,
    )
}


def status_code(value: int) -> grpc.StatusCode:
    """The grpc.StatusCode whose numeric value is `value` (as carried by AdmissionResult.code).

    Raises ValueError when no status code has that value.
    """
    for code in grpc.StatusCode:
        if code.value[0] == value:
            return code
    raise ValueError(f"no gRPC status code has the value {value}")


def error_for_status(code: grpc.StatusCode, details: str) -> RpcError:
    """The typed exception for a status code and message (RpcError itself for codes without a subclass)."""
    return _RPC_ERRORS.get(code, RpcError)(code, details)


def from_rpc_error(error: grpc.RpcError) -> RpcError:
    """Translate an exception raised by grpcio into the SDK's typed RpcError subclass.

    grpcio raises objects that are both grpc.RpcError and grpc.Call; an RpcError without code() becomes
    an RpcError with StatusCode.UNKNOWN and the exception's text.
    """
    code_of = getattr(error, "code", None)
    details_of = getattr(error, "details", None)
    code = code_of() if callable(code_of) else None
    if code is None:
        return RpcError(grpc.StatusCode.UNKNOWN, str(error))
    details = details_of() if callable(details_of) else None
    return error_for_status(code, details or "")


def admission_error(result: node_pb2.AdmissionResult) -> RpcError | None:
    """None when SubmitBatch accepted the transaction, else the typed exception its code and message name.

    A code that is no gRPC status becomes an RpcError with StatusCode.UNKNOWN.
    """
    if result.accepted:
        return None
    try:
        code = status_code(result.code)
    except ValueError:
        return RpcError(grpc.StatusCode.UNKNOWN, f"rejected with unknown code {result.code}: {result.message}")
    return error_for_status(code, result.message)


# -- failed transactions ------------------------------------------------------------------------------


class TransactionFailed(DcrmError):
    """A transaction was committed but its call failed: it wrote nothing, its nonce is used.

    `receipt` is the dcrm.v1.Receipt; `tx_hash` and `height` are copied from it.
    """

    def __init__(self, receipt: types_pb2.Receipt, message: str) -> None:
        self.receipt = receipt
        self.tx_hash = receipt.tx_hash
        self.height = receipt.height
        super().__init__(f"transaction {receipt.tx_hash.hex()} failed in block {receipt.height}: {message}")


_BY_CODE: dict[tuple[int, int], type[ModuleError]] = {}
_BY_MODULE: dict[int, type[ModuleError]] = {}


class ModuleError(TransactionFailed):
    """A call failed with a module's numbered error: `module` (index), `code`, `name` and `message`.

    Subclasses join the registry by declaring `module=` (a module's base class) or `code=` (one error of
    the module their base declares); each (module, code) and each module base may be declared once.
    """

    module_index: ClassVar[int | None] = None
    error_code: ClassVar[int | None] = None

    def __init_subclass__(cls, *, module: int | None = None, code: int | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if module is not None:
            if cls.module_index is not None and cls.module_index != module:
                raise TypeError(f"{cls.__name__}: module {module} conflicts with its base's {cls.module_index}")
            cls.module_index = module
        if cls.module_index is None:
            raise TypeError(f"{cls.__name__} must declare module=<index> or derive from a module's base")
        if code is not None:
            key = (cls.module_index, code)
            if key in _BY_CODE:
                raise TypeError(f"{cls.__name__}: (module {key[0]}, code {key[1]}) is {_BY_CODE[key].__name__}")
            cls.error_code = code
            _BY_CODE[key] = cls
        elif module is not None:
            if module in _BY_MODULE:
                raise TypeError(f"{cls.__name__}: module {module} already has {_BY_MODULE[module].__name__}")
            _BY_MODULE[module] = cls

    def __init__(self, receipt: types_pb2.Receipt) -> None:
        error = receipt.error
        self.module = error.module
        self.code = error.code
        self.name = error.name
        self.message = error.message
        super().__init__(
            receipt, f"{error.name or 'error'} (module {error.module}, code {error.code}): {error.message}"
        )


def module_error_class(module: int, code: int) -> type[ModuleError]:
    """The class declared for (module, code); else the module's base class; else ModuleError."""
    return _BY_CODE.get((module, code)) or _BY_MODULE.get(module) or ModuleError


def error_for_receipt(receipt: types_pb2.Receipt) -> TransactionFailed | None:
    """None for a successful receipt, else the exception that describes its failure."""
    if receipt.success:
        return None
    if not receipt.HasField("error"):
        return TransactionFailed(receipt, "the receipt marks a failure but carries no error")
    return module_error_class(receipt.error.module, receipt.error.code)(receipt)


def raise_for_receipt(receipt: types_pb2.Receipt) -> None:
    """Return when the receipt reports success.

    Raises the ModuleError subclass registered for the receipt's (module, code), or TransactionFailed for a
    failure without an error.
    """
    error = error_for_receipt(receipt)
    if error is not None:
        raise error


# -- the system module (index 0) ------------------------------------------------------------------------


class SystemModuleError(ModuleError, module=0):
    """A call failed with an error of the system module."""


class MissingRole(SystemModuleError, code=system_pb2.MISSING_ROLE):
    """The caller does not hold the role the call requires (for example admin)."""


class UnknownRole(SystemModuleError, code=system_pb2.UNKNOWN_ROLE):
    """The role is not one the chain defines."""


class RoleAlreadyGranted(SystemModuleError, code=system_pb2.ROLE_ALREADY_GRANTED):
    """The account already holds the role."""


class RoleNotHeld(SystemModuleError, code=system_pb2.ROLE_NOT_HELD):
    """The account does not hold the role."""


class LastAdmin(SystemModuleError, code=system_pb2.LAST_ADMIN):
    """Revoking would leave the chain without an admin."""


class NoteTooLong(SystemModuleError, code=system_pb2.NOTE_TOO_LONG):
    """A remark note is longer than 256 bytes."""


class BadAccount(SystemModuleError, code=system_pb2.BAD_ACCOUNT):
    """An account id is not 20 bytes."""


class UnknownCall(SystemModuleError, code=system_pb2.UNKNOWN_CALL):
    """No module or method has the call's index."""


class BadArguments(SystemModuleError, code=system_pb2.BAD_ARGUMENTS):
    """The call's arguments do not decode as the method's message."""


class CallPanicked(SystemModuleError, code=system_pb2.CALL_PANICKED):
    """The call raised an unexpected error in the runtime; nothing was written."""
