"""Benchmark: the identity module's main calls applied through the runtime, on MemoryKV and LevelDB.

For each backend: blocks of create_did (fresh DIDs), update_did (a key rotation: add + remove, one version),
update_credential_status (revocations on one issuer's list, the hot key of a busy issuer) and the resolve
and resolve_at queries. Transactions are signed and decoded before the clock starts; a block's time is
apply_block plus the write of its result into the store.

    python -m tests.bench.bench_identity --blocks 3 --block-size 1000
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from typing import Any

from dcrm.runtime.modules.identity.did import derive_did
from dcrm.v1 import identity_pb2, types_pb2
from tests.bench.blocks import apply_timed
from tests.support.identity import (
    CREATE_DID,
    CREATE_STATUS_LIST,
    LIST_SIZE,
    MODULE,
    REGISTER_ISSUER,
    UPDATE_CREDENTIAL_STATUS,
    UPDATE_DID,
    add_key,
    key_method,
    remove_key,
)
from tests.support.runtime_harness import RuntimeHarness, deterministic_key, kv_backend

__all__ = ["run"]

SENDERS = 50
ADMIN = deterministic_key(0)
ISSUER = deterministic_key(5_000)
QUERIES = 2_000


def _blocks(harness: RuntimeHarness, blocks: list[list[types_pb2.Transaction]]) -> dict[str, float]:
    decoded = [[harness.decode(tx) for tx in block] for block in blocks]
    seconds = sum(apply_timed(harness, block)[0] for block in decoded)
    count = sum(len(block) for block in decoded)
    return {"transactions": count, "seconds": round(seconds, 4), "tx_per_s": round(count / seconds)}


def _queries(harness: RuntimeHarness, method: str, requests: list[bytes]) -> dict[str, float]:
    started = time.perf_counter()
    for request in requests:
        harness.runtime.query(harness.store, "identity", method, request)
    seconds = time.perf_counter() - started
    return {"queries": len(requests), "seconds": round(seconds, 4), "per_s": round(len(requests) / seconds)}


def _scenario(backend: str, blocks: int, block_size: int) -> dict[str, Any]:
    senders = [deterministic_key(10_000 + n) for n in range(SENDERS)]
    with kv_backend(backend) as store:
        harness = RuntimeHarness(store)
        figures: dict[str, Any] = {}
        salts: list[tuple[int, bytes]] = []

        def create(number: int) -> types_pb2.Transaction:
            sender = senders[number % SENDERS]
            salt = number.to_bytes(8, "big")
            salts.append((number % SENDERS, salt))
            args = identity_pb2.CreateDid(salt=salt, verification_methods=[key_method(sender)])
            return harness.sign(sender, MODULE, CREATE_DID, args)

        figures["create_did"] = _blocks(harness, _signed(blocks, block_size, create))
        dids = [derive_did(senders[owner].account_id, salt) for owner, salt in salts]

        def rotate(number: int) -> types_pb2.Transaction:
            owner = salts[number][0]
            new_key = senders[(owner + 1) % SENDERS]
            args = identity_pb2.UpdateDid(did=dids[number], operations=[add_key(new_key, "key-2"), remove_key("key-1")])
            return harness.sign(senders[owner], MODULE, UPDATE_DID, args)

        figures["update_did"] = _blocks(harness, _signed(blocks, block_size, rotate))

        issuer_did = derive_did(ISSUER.account_id, b"issuer")
        setup = identity_pb2.CreateDid(salt=b"issuer", verification_methods=[key_method(ISSUER)])
        harness.apply([harness.sign(ISSUER, MODULE, CREATE_DID, setup)])
        harness.apply([harness.sign(ADMIN, MODULE, REGISTER_ISSUER, identity_pb2.RegisterIssuer(did=issuer_did))])
        new_list = identity_pb2.CreateStatusList(
            issuer_did=issuer_did, list_id="rev", purpose=identity_pb2.REVOCATION, size=LIST_SIZE
        )
        harness.apply([harness.sign(ISSUER, MODULE, CREATE_STATUS_LIST, new_list)])

        def revoke(number: int) -> types_pb2.Transaction:
            args = identity_pb2.UpdateCredentialStatus(
                issuer_did=issuer_did, list_id="rev", index=number * 37 % LIST_SIZE, action=identity_pb2.REVOKE
            )
            return harness.sign(ISSUER, MODULE, UPDATE_CREDENTIAL_STATUS, args, valid_for=1_000)

        figures["revoke (one issuer, one list)"] = _blocks(harness, _signed(blocks, block_size, revoke))
        sample = dids[:QUERIES]
        figures["resolve"] = _queries(
            harness, "resolve", [identity_pb2.ResolveQuery(did=did).SerializeToString() for did in sample]
        )
        figures["resolve_at (past height)"] = _queries(
            harness,
            "resolve_at",
            [identity_pb2.ResolveAtQuery(did=did, height=blocks).SerializeToString() for did in sample],
        )
        list_query = identity_pb2.StatusListQuery(issuer_did=issuer_did, list_id="rev").SerializeToString()
        figures["status_list (16 KiB)"] = _queries(harness, "status_list", [list_query] * 200)
        return figures


def _signed(
    blocks: int, block_size: int, make: Callable[[int], types_pb2.Transaction]
) -> list[list[types_pb2.Transaction]]:
    return [[make(block * block_size + n) for n in range(block_size)] for block in range(blocks)]


def run(blocks: int = 3, block_size: int = 1_000, backends: tuple[str, ...] = ("memory", "leveldb")) -> dict[str, Any]:
    """Figures per backend and call: transactions, seconds, transactions per second (and queries per second)."""
    return {backend: _scenario(backend, blocks, block_size) for backend in backends}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--blocks", type=int, default=3)
    parser.add_argument("--block-size", type=int, default=1_000)
    options = parser.parse_args()
    figures = run(options.blocks, options.block_size)
    for backend, results in figures.items():
        for name, result in results.items():
            rate = result.get("tx_per_s", result.get("per_s"))
            unit = "tx/s" if "tx_per_s" in result else "queries/s"
            print(f"{backend:8} {name:32} {rate:>9,} {unit}")
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
