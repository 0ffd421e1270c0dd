"""Keys and pre-signed transactions for load tools: deterministic, so runs repeat, and signed before the clock
starts, so client-side signing is never what a measurement measures.

A workload names what each pre-signed transaction calls:

- "remark": system.Remark, the cheapest transaction (no state but the nonce);
- "create-did": identity.CreateDid with one secp256k1 key, a new customer's onboarding write.

Each sender signs `nonces_per_sender` transactions with nonces 0, 1, ...: senders are fresh accounts, so no
nonce has to be read from the chain first.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from google.protobuf.message import Message

from dcrm.client import SigningKey, build_transaction, identity, system
from dcrm.client.identity import verification_method
from dcrm.v1 import identity_pb2, system_pb2, types_pb2

__all__ = [
    "WORKLOADS",
    "derived_key",
    "interleave_by_nonce",
    "sign_sender_transactions",
    "workload_call",
]

WORKLOADS = ("remark", "create-did")
REMARK_NOTE = b"dcrm loadtest"


def derived_key(*label: str | int) -> SigningKey:
    """A secp256k1 key fixed by `label` (for example ("user", seed, worker, index)): sha256 of the label text,
    rehashed in the negligible case that the digest is not a valid scalar."""
    digest = hashlib.sha256("/".join(["dcrm-loadtest", *map(str, label)]).encode()).digest()
    while True:
        try:
            return SigningKey(digest)
        except ValueError:
            digest = hashlib.sha256(digest).digest()


def workload_call(workload: str, key: SigningKey, nonce: int) -> tuple[int, int, Message]:
    """(module index, call index, arguments) of the `workload`'s transaction number `nonce` from `key`.

    Raises ValueError for an unknown workload.
    """
    if workload == "remark":
        return system.MODULE_INDEX, system.REMARK, system_pb2.Remark(note=REMARK_NOTE)
    if workload == "create-did":
        salt = hashlib.sha256(key.account_id + nonce.to_bytes(8, "big")).digest()[:16]
        method = verification_method("key-1", key.public_key, authentication=True, assertion_method=True)
        return (
            identity.MODULE_INDEX,
            identity.CREATE_DID,
            identity_pb2.CreateDid(salt=salt, verification_methods=[method]),
        )
    raise ValueError(f"unknown workload {workload!r}; choose one of {', '.join(WORKLOADS)}")


def sign_sender_transactions(
    keys: Sequence[SigningKey],
    *,
    chain_id: str,
    valid_until: int,
    nonces_per_sender: int,
    workload: str = "remark",
    first_nonce: int = 0,
) -> list[list[types_pb2.Transaction]]:
    """Per key, `nonces_per_sender` signed transactions of `workload` in nonce order from `first_nonce`."""
    signed: list[list[types_pb2.Transaction]] = []
    for key in keys:
        transactions = []
        for nonce in range(first_nonce, first_nonce + nonces_per_sender):
            module, method, args = workload_call(workload, key, nonce)
            transactions.append(
                build_transaction(
                    key,
                    chain_id=chain_id,
                    nonce=nonce,
                    valid_until=valid_until,
                    module=module,
                    method=method,
                    args=args,
                )
            )
        signed.append(transactions)
    return signed


def interleave_by_nonce(
    per_sender: Sequence[Sequence[types_pb2.Transaction]], batch_size: int
) -> list[list[types_pb2.Transaction]]:
    """Batches of at most `batch_size` that carry many senders each, every sender's nonces in order:
    all senders' first transactions, then all their second ones, and so on."""
    depth = max((len(transactions) for transactions in per_sender), default=0)
    flat = [transactions[nonce] for nonce in range(depth) for transactions in per_sender if nonce < len(transactions)]
    return [flat[start : start + batch_size] for start in range(0, len(flat), batch_size)]
