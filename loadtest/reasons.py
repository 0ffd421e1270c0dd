"""Short, stable names for why a call or a transaction failed, so that failures group into a few table rows.

A node's messages carry hashes, account ids, nonces and heights; `message_class` replaces them with
placeholders ("nonce 17 of 3fa2... is stale" becomes "nonce <n> of <hex> is stale"), so every occurrence of
one rule counts under one reason.
"""

from __future__ import annotations

import re

import grpc

from dcrm.client import DcrmError, ModuleError, RpcError, TransactionFailed, consent, identity, system, tokens
from dcrm.client.errors import status_code

__all__ = ["admission_reason", "describe_error", "message_class"]

MAX_REASON_CHARS = 120

_HEX = re.compile(r"\b(?:0x)?[0-9a-fA-F]{8,}\b")
_NUMBER = re.compile(r"\b\d+(?:\.\d+)?\b")
_SPACES = re.compile(r"\s+")


def message_class(message: str) -> str:
    """`message` with hex strings and numbers replaced by <hex> and <n>, whitespace folded, cut to 120 chars."""
    text = _NUMBER.sub("<n>", _HEX.sub("<hex>", message))
    text = _SPACES.sub(" ", text).strip()
    return text if len(text) <= MAX_REASON_CHARS else text[: MAX_REASON_CHARS - 3] + "..."


def admission_reason(code: int, message: str) -> str:
    """A SubmitBatch rejection's reason ("FAILED_PRECONDITION: nonce <n> ...") from its code and message."""
    try:
        name = status_code(code).name
    except ValueError:
        name = f"CODE_{code}"
    return f"{name}: {message_class(message)}"


def describe_error(error: DcrmError) -> str:
    """The failure's status code or module error name, with its message class.

    A rejection at admission: "PERMISSION_DENIED: ..."; a committed transaction whose call failed:
    "tokens.InsufficientBalance: ..."; anything else: the exception's class name and message class.
    """
    if isinstance(error, RpcError):
        code = error.code if isinstance(error.code, grpc.StatusCode) else grpc.StatusCode.UNKNOWN
        return f"{code.name}: {message_class(error.details)}"
    if isinstance(error, ModuleError):
        return f"{_module_name(error.module)}.{error.name or error.code}: {message_class(error.message)}"
    if isinstance(error, TransactionFailed):
        return f"TransactionFailed: {message_class(str(error))}"
    return f"{type(error).__name__}: {message_class(str(error))}"


_MODULE_NAMES = {module.MODULE_INDEX: module.MODULE_NAME for module in (system, identity, consent, tokens)}


def _module_name(index: int) -> str:
    name: str = _MODULE_NAMES.get(index, f"module{index}")
    return name
