"""Decoding and stateless validation of signed transactions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from google.protobuf.message import DecodeError, Message

from dcrm.runtime.crypto import BadSignature, account_id, recover_public_key, sha256
from dcrm.runtime.errors import DispatchError, Rejection, TxRejected
from dcrm.runtime.module import CallDef, Module
from dcrm.v1 import types_pb2

__all__ = ["CallTable", "SignedTransaction", "decode_transaction"]

ACCOUNT_LENGTH = 20


@dataclass(frozen=True, slots=True)
class SignedTransaction:
    """A transaction whose body decoded, whose call exists and whose signature recovers the sender."""

    hash: bytes
    raw: types_pb2.Transaction
    body: types_pb2.TxBody
    sender: bytes
    module: Module
    call: CallDef[Any]
    args: Message

    @property
    def nonce(self) -> int:
        return self.body.nonce

    @property
    def size(self) -> int:
        return len(self.raw.body) + len(self.raw.signature)


class CallTable:
    """(module index, method index) -> (module, call), built once from the module list."""

    def __init__(self, modules: list[Module]) -> None:
        self.modules = {module.index: module for module in modules}
        self.calls = {(module.index, call.index): (module, call) for module in modules for call in module.calls}

    def lookup(self, call: types_pb2.Call) -> tuple[Module, CallDef[Any]]:
        found = self.calls.get((call.module, call.method))
        if found is None:
            if call.module not in self.modules:
                raise TxRejected(Rejection.UNKNOWN_CALL, f"call.module {call.module} is not a module of this chain")
            name = self.modules[call.module].name
            raise TxRejected(Rejection.UNKNOWN_CALL, f"call.method {call.method} is not a method of module {name}")
        return found


def decode_transaction(
    tx: types_pb2.Transaction, *, chain_id: str, calls: CallTable, max_bytes: int
) -> SignedTransaction:
    """Check everything about `tx` that needs no state. Raises TxRejected naming the field or rule."""
    size = len(tx.body) + len(tx.signature)
    if size > max_bytes:
        raise TxRejected(Rejection.TOO_LARGE, f"transaction is {size} bytes, at most {max_bytes} allowed")
    if not tx.body:
        raise TxRejected(Rejection.MALFORMED, "transaction.body is empty")
    body = types_pb2.TxBody()
    try:
        body.ParseFromString(tx.body)
    except DecodeError as error:
        raise TxRejected(Rejection.MALFORMED, f"transaction.body is not a dcrm.v1.TxBody: {error}") from None
    if body.chain_id != chain_id:
        raise TxRejected(Rejection.WRONG_CHAIN, f"tx_body.chain_id is {body.chain_id!r}, this chain is {chain_id!r}")
    if len(body.sender) != ACCOUNT_LENGTH:
        raise TxRejected(Rejection.MALFORMED, f"tx_body.sender must be {ACCOUNT_LENGTH} bytes, got {len(body.sender)}")
    if not body.HasField("call"):
        raise TxRejected(Rejection.MALFORMED, "tx_body.call is missing")
    module, call = calls.lookup(body.call)
    args = call.args_type()
    try:
        args.ParseFromString(body.call.args)
    except DecodeError as error:
        message = f"call.args is not a {args.DESCRIPTOR.full_name} for {module.name}.{call.name}: {error}"
        raise TxRejected(Rejection.BAD_ARGUMENTS, message) from None
    if call.check_args is not None:
        try:
            call.check_args(args)
        except DispatchError as error:
            raise TxRejected(Rejection.BAD_ARGUMENTS, f"{module.name}.{call.name}: {error.message}") from None
    try:
        public_key = recover_public_key(tx.body, tx.signature)
    except BadSignature as error:
        raise TxRejected(Rejection.BAD_SIGNATURE, f"transaction.signature: {error}") from None
    signer = account_id(public_key)
    if signer != body.sender:
        raise TxRejected(
            Rejection.BAD_SIGNATURE,
            f"transaction.signature is by {signer.hex()}, not the sender {body.sender.hex()}",
        )
    return SignedTransaction(sha256(tx.body), tx, body, body.sender, module, call, args)
