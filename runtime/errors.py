"""Errors of the runtime: numbered per module, mapped by the node to gRPC status codes."""

from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = ["DispatchError", "ErrorDef", "ErrorKind", "ModuleErrors", "Rejection", "TxRejected"]


class ErrorKind(enum.Enum):
    """What class of problem an error is; the node maps each to one gRPC status code."""

    INVALID_ARGUMENT = "invalid_argument"
    PERMISSION_DENIED = "permission_denied"
    FAILED_PRECONDITION = "failed_precondition"
    NOT_FOUND = "not_found"


@dataclass(frozen=True, slots=True)
class ErrorDef:
    """A module error with a stable (module, code) pair and one line of documentation."""

    module: str
    module_index: int
    code: int
    name: str
    doc: str
    kind: ErrorKind = ErrorKind.FAILED_PRECONDITION

    def __call__(self, message: str) -> DispatchError:
        return DispatchError(self, message)


@dataclass(frozen=True, slots=True)
class ModuleErrors:
    """Defines one module's errors with its name and index filled in: `_define = ModuleErrors(M, I).define`."""

    module: str
    index: int

    def define(self, code: int, name: str, doc: str, kind: ErrorKind = ErrorKind.FAILED_PRECONDITION) -> ErrorDef:
        return ErrorDef(self.module, self.index, code, name, doc, kind)


class DispatchError(Exception):
    """A call failed for a documented reason; its writes are discarded and the receipt names it."""

    def __init__(self, error: ErrorDef, message: str) -> None:
        super().__init__(f"{error.module}.{error.name}: {message}")
        self.error = error
        self.message = message


class Rejection(enum.Enum):
    """Why a transaction cannot enter a block at all (it uses no nonce and gets no receipt)."""

    MALFORMED = "malformed"
    TOO_LARGE = "too_large"
    BAD_SIGNATURE = "bad_signature"
    WRONG_CHAIN = "wrong_chain"
    EXPIRED = "expired"
    STALE_NONCE = "stale_nonce"
    FUTURE_NONCE = "future_nonce"
    UNKNOWN_CALL = "unknown_call"
    BAD_ARGUMENTS = "bad_arguments"
    PERMISSION_DENIED = "permission_denied"


class TxRejected(Exception):
    """A transaction failed a check before dispatch; `reason` says which rule, the message says how."""

    def __init__(self, reason: Rejection, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
