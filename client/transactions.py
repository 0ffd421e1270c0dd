"""Building, signing and hashing transactions; decoding the events of receipts.

The body (dcrm.v1.TxBody) is serialized once and those exact bytes are signed and sent: the signature is a
65-byte recoverable secp256k1 signature over sha256(body) and the transaction hash is sha256(body). Nothing
is ever re-serialized to verify.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from google.protobuf.message import DecodeError, Message

from dcrm.client.consent import EVENTS as CONSENT_EVENTS
from dcrm.client.errors import EventError, SignatureError, UnknownEvent
from dcrm.client.governance import EVENTS as GOVERNANCE_EVENTS
from dcrm.client.identity import EVENTS as IDENTITY_EVENTS
from dcrm.client.keys import SigningKey, account_id_from_public_key, recover_public_key, sha256
from dcrm.client.tokens import EVENTS as TOKENS_EVENTS
from dcrm.v1 import system_pb2, types_pb2

__all__ = [
    "EVENT_TYPES",
    "MAX_U32",
    "MAX_U64",
    "build_transaction",
    "decode_body",
    "decode_event",
    "encode_tx_body",
    "recover_signer",
    "transaction_hash",
    "verify_transaction",
]

MAX_U32 = 2**32 - 1
MAX_U64 = 2**64 - 1

# The message type of every event the SDK knows, by (module name, event name). A module adds its events here.
EVENT_TYPES: Mapping[tuple[str, str], type[Message]] = MappingProxyType(
    {
        ("system", "RoleGranted"): system_pb2.RoleGranted,
        ("system", "RoleRevoked"): system_pb2.RoleRevoked,
        ("system", "Remarked"): system_pb2.Remarked,
        **{("identity", event.DESCRIPTOR.name): event for event in IDENTITY_EVENTS},
        **{("consent", event.DESCRIPTOR.name): event for event in CONSENT_EVENTS},
        **{("tokens", event.DESCRIPTOR.name): event for event in TOKENS_EVENTS},
        **{("governance", event.DESCRIPTOR.name): event for event in GOVERNANCE_EVENTS},
    }
)


def _check_range(name: str, value: int, maximum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be an int, got {type(value).__name__}")
    if not 0 <= value <= maximum:
        raise ValueError(f"{name} must be between 0 and {maximum}, got {value}")


def encode_tx_body(
    *,
    chain_id: str,
    sender: bytes,
    nonce: int,
    valid_until: int,
    module: int,
    method: int,
    args: Message | bytes,
) -> bytes:
    """The serialized dcrm.v1.TxBody: the exact bytes that are signed and hashed.

    `args` is the call's typed argument message (serialized here) or its serialization.
    Raises ValueError when a field is out of range, the chain id is empty or the sender is not 20 bytes.
    """
    if not chain_id:
        raise ValueError("chain_id must not be empty")
    if len(sender) != 20:
        raise ValueError(f"sender must be a 20-byte account id, got {len(sender)} bytes")
    _check_range("nonce", nonce, MAX_U64)
    _check_range("valid_until", valid_until, MAX_U64)
    _check_range("module", module, MAX_U32)
    _check_range("method", method, MAX_U32)
    args_bytes = args if isinstance(args, bytes) else args.SerializeToString(deterministic=True)
    body = types_pb2.TxBody(
        chain_id=chain_id,
        sender=sender,
        nonce=nonce,
        valid_until=valid_until,
        call=types_pb2.Call(module=module, method=method, args=args_bytes),
    )
    return body.SerializeToString(deterministic=True)


def build_transaction(
    key: SigningKey,
    *,
    chain_id: str,
    nonce: int,
    valid_until: int,
    module: int,
    method: int,
    args: Message | bytes,
) -> types_pb2.Transaction:
    """A transaction from `key`'s account calling (module, method) with `args`, signed by `key`.

    `valid_until` is the last block height at which the transaction may be included.
    Raises ValueError when a field is out of range or the chain id is empty.
    """
    body = encode_tx_body(
        chain_id=chain_id,
        sender=key.account_id,
        nonce=nonce,
        valid_until=valid_until,
        module=module,
        method=method,
        args=args,
    )
    return types_pb2.Transaction(body=body, signature=key.sign_recoverable(body))


def transaction_hash(tx: types_pb2.Transaction) -> bytes:
    """The 32-byte transaction hash: sha256 of the body bytes."""
    return sha256(tx.body)


def decode_body(tx: types_pb2.Transaction) -> types_pb2.TxBody:
    """The transaction's decoded TxBody. Raises ValueError when the body bytes do not decode."""
    try:
        return types_pb2.TxBody.FromString(tx.body)
    except DecodeError as error:
        raise ValueError(f"the transaction body does not decode as dcrm.v1.TxBody: {error}") from None


def recover_signer(tx: types_pb2.Transaction) -> bytes:
    """The 33-byte compressed public key that signed the transaction's body.

    Raises SignatureError when the signature is not 65 bytes or recovers no key.
    """
    return recover_public_key(tx.body, tx.signature)


def verify_transaction(tx: types_pb2.Transaction) -> types_pb2.TxBody:
    """The decoded body, after checking that the signature's key is the sender's.

    Raises ValueError when the body does not decode and SignatureError when the signature recovers no key
    or a key other than the sender's.
    """
    body = decode_body(tx)
    signer = account_id_from_public_key(recover_signer(tx))
    if signer != body.sender:
        raise SignatureError(f"signed by account {signer.hex()}, but the sender is {body.sender.hex()}")
    return body


def decode_event(event: types_pb2.Event) -> Message:
    """The typed message of an event (for example dcrm.v1.system.RoleGranted).

    Raises UnknownEvent when no type is known for the event's (module, name) and EventError when its data
    does not decode as that type.
    """
    message_type = EVENT_TYPES.get((event.module, event.name))
    if message_type is None:
        raise UnknownEvent(f"no message type is known for event {event.module}.{event.name}")
    try:
        return message_type.FromString(event.data)
    except DecodeError as error:
        raise EventError(
            f"event {event.module}.{event.name} does not decode as {message_type.DESCRIPTOR.full_name}: {error}"
        ) from None
