"""Write the golden vectors shared by the SDK and runtime tests: `python -m tests.vectors.generate`.

transactions.json: fixed private keys -> public key and account id; fixed transactions -> exact TxBody bytes,
transaction hash and signature. certificates.json: a header, its block hash and a commit certificate by four
validators. Signatures are deterministic (RFC 6979), so the output never changes unless the encoding does;
tests/client/test_transactions.py fails when the committed files differ from what this script writes.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from google.protobuf.message import Message

from dcrm.client.certificates import block_hash, sign_vote
from dcrm.client.keys import SigningKey
from dcrm.client.transactions import build_transaction, transaction_hash
from dcrm.v1 import system_pb2, types_pb2

VECTORS_DIR = Path(__file__).resolve().parent
TRANSACTIONS_FILE = VECTORS_DIR / "transactions.json"
CERTIFICATES_FILE = VECTORS_DIR / "certificates.json"

CHAIN_ID = "dcrm-vectors"
# The smallest valid scalar, a repeated byte, and the largest valid scalar (curve order - 1).
PRIVATE_KEYS = (
    "0000000000000000000000000000000000000000000000000000000000000001",
    "0101010101010101010101010101010101010101010101010101010101010101",
    "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364140",
)
VALIDATOR_KEYS = tuple(f"{index:02x}" * 32 for index in range(0x11, 0x15))
MAX_U64 = 2**64 - 1


def _key_vector(key: SigningKey) -> dict[str, str]:
    return {"private_key": key.to_hex(), "public_key": key.public_key.hex(), "account": key.account_id.hex()}


def _tx_vector(
    name: str, key: SigningKey, *, nonce: int, valid_until: int, module: int, method: int, args: Message
) -> dict[str, Any]:
    tx = build_transaction(
        key, chain_id=CHAIN_ID, nonce=nonce, valid_until=valid_until, module=module, method=method, args=args
    )
    return {
        "name": name,
        "private_key": key.to_hex(),
        "chain_id": CHAIN_ID,
        "sender": key.account_id.hex(),
        "nonce": nonce,
        "valid_until": valid_until,
        "module": module,
        "method": method,
        "args_type": args.DESCRIPTOR.full_name,
        "args": args.SerializeToString(deterministic=True).hex(),
        "body": tx.body.hex(),
        "tx_hash": transaction_hash(tx).hex(),
        "signature": tx.signature.hex(),
        "transaction": tx.SerializeToString(deterministic=True).hex(),
    }


def transaction_vectors() -> dict[str, Any]:
    """The content of transactions.json."""
    keys = [SigningKey.from_hex(secret) for secret in PRIVATE_KEYS]
    admin, user, last = keys
    return {
        "about": (
            "account = sha256(33-byte compressed public key)[:20]; body = serialized dcrm.v1.TxBody; "
            "tx_hash = sha256(body); signature = 65-byte recoverable secp256k1 (r || s || recovery id) "
            "over sha256(body), RFC 6979; transaction = serialized dcrm.v1.Transaction{body, signature}"
        ),
        "keys": [_key_vector(key) for key in keys],
        "transactions": [
            _tx_vector(
                "system.remark",
                user,
                nonce=0,
                valid_until=100,
                module=0,
                method=2,
                args=system_pb2.Remark(note=b"hello, dcrm"),
            ),
            _tx_vector(
                "system.remark empty note",
                user,
                nonce=1,
                valid_until=1,
                module=0,
                method=2,
                args=system_pb2.Remark(),
            ),
            _tx_vector(
                "system.grant_role",
                admin,
                nonce=7,
                valid_until=1_000,
                module=0,
                method=0,
                args=system_pb2.GrantRole(account=user.account_id, role="issuer"),
            ),
            _tx_vector(
                "system.revoke_role",
                admin,
                nonce=8,
                valid_until=1_000,
                module=0,
                method=1,
                args=system_pb2.RevokeRole(account=user.account_id, role="issuer"),
            ),
            _tx_vector(
                "largest nonce and valid_until",
                last,
                nonce=MAX_U64,
                valid_until=MAX_U64,
                module=0,
                method=2,
                args=system_pb2.Remark(note=bytes(range(256))),
            ),
        ],
    }


def certificate_vectors() -> dict[str, Any]:
    """The content of certificates.json."""
    validators = [SigningKey.from_hex(secret) for secret in VALIDATOR_KEYS]
    header = types_pb2.BlockHeader(
        chain_id=CHAIN_ID,
        height=42,
        parent_hash=bytes(range(32)),
        state_root=bytes(range(32, 64)),
        transactions_root=bytes(range(64, 96)),
        proposer=validators[0].account_id,
        timestamp_ms=1_700_000_000_000,
        view=0,
        receipts_root=bytes(range(96, 128)),
    ).SerializeToString(deterministic=True)
    hashed = block_hash(header)
    body = types_pb2.VoteBody(
        kind=types_pb2.VoteBody.COMMIT, chain_id=CHAIN_ID, height=42, view=0, block_hash=hashed
    ).SerializeToString(deterministic=True)
    votes = [sign_vote(key, body) for key in validators[:3]]
    certificate = types_pb2.CommitCertificate(height=42, block_hash=hashed, votes=votes)
    return {
        "about": (
            "block_hash = sha256(header bytes); each vote signs sha256(serialized dcrm.v1.VoteBody) with a "
            "65-byte recoverable signature; 3 of these 4 validators (2f+1, f=1) form the certificate"
        ),
        "chain_id": CHAIN_ID,
        "validators": [_key_vector(key) for key in validators],
        "header": header.hex(),
        "block_hash": hashed.hex(),
        "vote_body": body.hex(),
        "votes": [
            {"signer": key.account_id.hex(), "signature": vote.signature.hex()}
            for key, vote in zip(validators[:3], votes, strict=True)
        ],
        "certificate": certificate.SerializeToString(deterministic=True).hex(),
    }


def render(vectors: dict[str, Any]) -> str:
    """The exact text of a vectors file."""
    return json.dumps(vectors, indent=2) + "\n"


def main() -> int:
    TRANSACTIONS_FILE.write_text(render(transaction_vectors()))
    CERTIFICATES_FILE.write_text(render(certificate_vectors()))
    print(f"wrote {TRANSACTIONS_FILE} and {CERTIFICATES_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
