"""Transaction building, signing and hashing against the golden vectors; event decoding."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from google.protobuf.message import Message

from dcrm.client.errors import EventError, SignatureError, UnknownEvent
from dcrm.client.keys import SigningKey, account_id_from_public_key, recover_public_key
from dcrm.client.transactions import (
    EVENT_TYPES,
    MAX_U32,
    MAX_U64,
    build_transaction,
    decode_body,
    decode_event,
    encode_tx_body,
    recover_signer,
    transaction_hash,
    verify_transaction,
)
from dcrm.v1 import system_pb2, types_pb2
from tests.vectors import generate

VECTORS = json.loads(generate.TRANSACTIONS_FILE.read_text())
CURVE_ORDER = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
ARGS_TYPES: dict[str, type[Message]] = {
    "dcrm.v1.system.Remark": system_pb2.Remark,
    "dcrm.v1.system.GrantRole": system_pb2.GrantRole,
    "dcrm.v1.system.RevokeRole": system_pb2.RevokeRole,
}


@pytest.mark.parametrize("path", [generate.TRANSACTIONS_FILE, generate.CERTIFICATES_FILE], ids=lambda p: p.name)
def test_committed_vectors_are_what_the_generator_writes(path: Path) -> None:
    fresh = generate.transaction_vectors() if path == generate.TRANSACTIONS_FILE else generate.certificate_vectors()
    assert path.read_text() == generate.render(fresh), "run `python -m tests.vectors.generate`"


@pytest.mark.parametrize("vector", VECTORS["keys"], ids=lambda v: v["private_key"][-8:])
def test_key_vectors(vector: dict[str, str]) -> None:
    key = SigningKey.from_hex(vector["private_key"])
    assert key.public_key.hex() == vector["public_key"]
    assert key.account_id.hex() == vector["account"]
    assert hashlib.sha256(key.public_key).digest()[:20].hex() == vector["account"]


@pytest.mark.parametrize("vector", VECTORS["transactions"], ids=lambda v: v["name"])
def test_transaction_vectors(vector: dict[str, Any]) -> None:
    key = SigningKey.from_hex(vector["private_key"])
    args = ARGS_TYPES[vector["args_type"]].FromString(bytes.fromhex(vector["args"]))
    tx = build_transaction(
        key,
        chain_id=vector["chain_id"],
        nonce=vector["nonce"],
        valid_until=vector["valid_until"],
        module=vector["module"],
        method=vector["method"],
        args=args,
    )
    assert tx.body.hex() == vector["body"]
    assert tx.signature.hex() == vector["signature"]
    assert transaction_hash(tx).hex() == vector["tx_hash"]
    assert hashlib.sha256(tx.body).hexdigest() == vector["tx_hash"]
    assert tx.SerializeToString(deterministic=True).hex() == vector["transaction"]

    # The vector alone is enough to check it: decode, recover, compare.
    sent = types_pb2.Transaction.FromString(bytes.fromhex(vector["transaction"]))
    body = verify_transaction(sent)
    assert body.sender.hex() == vector["sender"] == key.account_id.hex()
    assert (body.chain_id, body.nonce, body.valid_until) == (vector["chain_id"], vector["nonce"], vector["valid_until"])
    assert (body.call.module, body.call.method, body.call.args.hex()) == (
        vector["module"],
        vector["method"],
        vector["args"],
    )
    assert recover_signer(sent) == key.public_key
    assert int.from_bytes(sent.signature[32:64], "big") <= CURVE_ORDER // 2


def test_body_encoding_by_hand() -> None:
    """The first vector's body, written out field by field in protobuf wire format."""
    vector = VECTORS["transactions"][0]
    chain_id = vector["chain_id"].encode()
    args = bytes.fromhex(vector["args"])
    call = b"\x10\x02" + b"\x1a" + bytes([len(args)]) + args  # method = 2 (module 0 is omitted), args
    expected = (
        b"\x0a" + bytes([len(chain_id)]) + chain_id  # 1: chain_id
        + b"\x12\x14" + bytes.fromhex(vector["sender"])  # 2: sender, 20 bytes
        + b"\x20\x64"  # 4: valid_until = 100 (3: nonce = 0 is omitted)
        + b"\x2a" + bytes([len(call)]) + call  # 5: call
    )  # fmt: skip
    assert vector["nonce"] == 0
    assert vector["valid_until"] == 100
    assert expected.hex() == vector["body"]


def test_args_as_bytes_or_message_give_the_same_transaction() -> None:
    key = SigningKey.from_hex("02" * 32)
    args = system_pb2.GrantRole(account=b"\x07" * 20, role="issuer")
    common: dict[str, Any] = {"chain_id": "c", "nonce": 3, "valid_until": 9, "module": 0, "method": 0}
    assert build_transaction(key, args=args, **common) == build_transaction(
        key, args=args.SerializeToString(), **common
    )


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"chain_id": ""}, "chain_id must not be empty"),
        ({"nonce": -1}, "nonce must be between 0 and"),
        ({"nonce": MAX_U64 + 1}, "nonce must be between 0 and"),
        ({"nonce": True}, "nonce must be an int, got bool"),
        ({"valid_until": MAX_U64 + 1}, "valid_until must be between 0 and"),
        ({"module": MAX_U32 + 1}, "module must be between 0 and"),
        ({"method": -1}, "method must be between 0 and"),
        ({"sender": b"\x01" * 19}, "sender must be a 20-byte account id, got 19 bytes"),
    ],
)
def test_encode_rejects_out_of_range_fields(changes: dict[str, Any], message: str) -> None:
    fields: dict[str, Any] = {
        "chain_id": "c",
        "sender": b"\x01" * 20,
        "nonce": 0,
        "valid_until": 1,
        "module": 0,
        "method": 2,
        "args": b"",
    }
    fields.update(changes)
    with pytest.raises(ValueError, match=message):
        encode_tx_body(**fields)


def _remark(key: SigningKey, nonce: int = 0) -> types_pb2.Transaction:
    return build_transaction(
        key, chain_id="c", nonce=nonce, valid_until=10, module=0, method=2, args=system_pb2.Remark(note=b"x")
    )


def test_verify_rejects_a_changed_body() -> None:
    key = SigningKey.from_hex("03" * 32)
    tx = _remark(key)
    body = decode_body(tx)
    body.nonce = 1
    tampered = types_pb2.Transaction(body=body.SerializeToString(), signature=tx.signature)
    with pytest.raises(SignatureError, match=f"but the sender is {key.account_id.hex()}"):
        verify_transaction(tampered)


def test_verify_rejects_a_signature_by_another_key() -> None:
    sender, other = SigningKey.from_hex("03" * 32), SigningKey.from_hex("04" * 32)
    tx = _remark(sender)
    forged = types_pb2.Transaction(body=tx.body, signature=other.sign_recoverable(tx.body))
    assert account_id_from_public_key(recover_public_key(forged.body, forged.signature)) == other.account_id
    with pytest.raises(SignatureError, match=f"signed by account {other.account_id.hex()}"):
        verify_transaction(forged)


def test_verify_rejects_malformed_transactions() -> None:
    tx = _remark(SigningKey.from_hex("03" * 32))
    with pytest.raises(SignatureError, match="must be 65 bytes, got 64"):
        verify_transaction(types_pb2.Transaction(body=tx.body, signature=tx.signature[:64]))
    with pytest.raises(ValueError, match=r"does not decode as dcrm\.v1\.TxBody"):
        verify_transaction(types_pb2.Transaction(body=b"\xff\xff", signature=tx.signature))


# -- events ---------------------------------------------------------------------------------------------

SYSTEM_EVENTS = [
    system_pb2.RoleGranted(account=b"\x01" * 20, role="issuer", granted_by=b"\x02" * 20),
    system_pb2.RoleRevoked(account=b"\x01" * 20, role="issuer", revoked_by=b"\x02" * 20),
    system_pb2.Remarked(sender=b"\x01" * 20, note_hash=hashlib.sha256(b"hi").digest()),
]


@pytest.mark.parametrize("message", SYSTEM_EVENTS, ids=lambda m: m.DESCRIPTOR.name)
def test_decode_system_events(message: Any) -> None:
    event = types_pb2.Event(module="system", name=message.DESCRIPTOR.name, data=message.SerializeToString())
    decoded = decode_event(event)
    assert type(decoded) is type(message)
    assert decoded == message


def test_event_types_name_their_messages() -> None:
    for (module, name), message_type in EVENT_TYPES.items():
        assert message_type.DESCRIPTOR.full_name == f"dcrm.v1.{module}.{name}"
    assert set(EVENT_TYPES) >= {("system", "RoleGranted"), ("system", "RoleRevoked"), ("system", "Remarked")}


def test_decode_unknown_and_malformed_events() -> None:
    with pytest.raises(UnknownEvent, match=r"no message type is known for event vault\.Anchored"):
        decode_event(types_pb2.Event(module="vault", name="Anchored", data=b""))
    with pytest.raises(EventError, match=r"does not decode as dcrm\.v1\.system\.Remarked"):
        decode_event(types_pb2.Event(module="system", name="Remarked", data=b"\x0a\x05ab"))
