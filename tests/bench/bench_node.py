"""Benchmark (c): one validator end to end through the batch RPC, measured from committed blocks.

Phase 1 (ceiling): pre-signed transactions are submitted with SubmitBatch from several client threads as
fast as the node admits them; committed tx/s is counted from the blocks a StreamBlocks follower sees.
Phase 2 (latency): the same node at half that rate, paced; submit-to-commit latency per transaction is the
time from its SubmitBatch call to the arrival of the block that includes it.

    python -m tests.bench.bench_node --transactions 40000 --out bench-results
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from dcrm.client import Client
from dcrm.client.keys import SigningKey
from dcrm.client.transactions import transaction_hash
from dcrm.v1 import types_pb2
from loadtest.blocks import BlockFollower
from loadtest.signing import interleave_by_nonce, sign_sender_transactions
from tests.support.node_process import local_node

__all__ = ["run"]

BATCH = 500
SUBMITTERS = 2
NONCES_PER_SENDER = 10
NODE_CONFIG = "[mempool]\nmax_transactions = 200000\nmax_batch = 5000\n"


def presign(first_sender: int, senders: int, chain_id: str) -> list[list[types_pb2.Transaction]]:
    """Per sender, NONCES_PER_SENDER remark transactions in nonce order."""
    keys = [SigningKey((first_sender + index).to_bytes(32, "big")) for index in range(senders)]
    return sign_sender_transactions(keys, chain_id=chain_id, valid_until=50_000, nonces_per_sender=NONCES_PER_SENDER)


def _submit_all(endpoint: str, batches: list[list[types_pb2.Transaction]], rejected: list[str]) -> None:
    with Client(endpoint, timeout=60) as client:
        for batch in batches:
            for result in client.submit_batch(batch):
                if not result.accepted:
                    rejected.append(result.message)


def _batches(per_sender: list[list[types_pb2.Transaction]]) -> list[list[types_pb2.Transaction]]:
    return interleave_by_nonce(per_sender, BATCH)


def ceiling(endpoints: Sequence[str], transactions: int) -> dict[str, Any]:
    """Submit pre-signed transactions as fast as admitted, spread over `endpoints`; count commits from blocks."""
    with Client(endpoints[0]) as client:
        chain_id, head = client.chain_id(), client.status().height
    senders = transactions // NONCES_PER_SENDER
    per_sender = presign(50_000, senders, chain_id)
    submitters = max(SUBMITTERS, len(endpoints))
    shares = [_batches(per_sender[i::submitters]) for i in range(submitters)]
    hashes = [transaction_hash(tx) for txs in per_sender for tx in txs]
    follower = BlockFollower(endpoints[0], head + 1, clock=time.perf_counter)
    rejected: list[str] = []
    started = time.perf_counter()
    threads = [
        threading.Thread(target=_submit_all, args=(endpoints[i % len(endpoints)], share, rejected))
        for i, share in enumerate(shares)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    submitted = time.perf_counter() - started
    follower.wait_for(hashes, 300)
    elapsed = max(follower.arrivals[tx_hash] for tx_hash in hashes) - started
    follower.close()
    return {
        "transactions": len(hashes),
        "rejected": len(rejected),
        "admitted_tx_per_s": round(len(hashes) / submitted),
        "committed_tx_per_s": round(len(hashes) / elapsed),
        "seconds": round(elapsed, 2),
    }


def latency(endpoints: Sequence[str], rate: int, seconds: int) -> dict[str, Any]:
    """Offer `rate` tx/s for `seconds`, ticks rotating over `endpoints`; submit-to-commit latency per tx."""
    with Client(endpoints[0]) as client:
        chain_id, head = client.chain_id(), client.status().height
    ticks_per_second = 10
    per_tick = max(1, rate // ticks_per_second)
    ticks = seconds * ticks_per_second
    senders = -(-per_tick * ticks // NONCES_PER_SENDER)
    batches = _batches(presign(200_000, senders, chain_id))
    flat = [tx for batch in batches for tx in batch][: per_tick * ticks]
    follower = BlockFollower(endpoints[0], head + 1, clock=time.perf_counter)
    submit_times: dict[bytes, float] = {}
    clients = [Client(endpoint, timeout=60) for endpoint in endpoints]
    try:
        start = time.perf_counter()
        for tick in range(ticks):
            chunk = flat[tick * per_tick : (tick + 1) * per_tick]
            delay = start + tick / ticks_per_second - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            sent = time.perf_counter()
            clients[tick % len(clients)].submit_batch(chunk)
            for tx in chunk:
                submit_times[transaction_hash(tx)] = sent
    finally:
        for client in clients:
            client.close()
    follower.wait_for(list(submit_times), 120)
    follower.close()
    latencies = sorted((follower.arrivals[h] - t) * 1000 for h, t in submit_times.items())
    return {
        "offered_tx_per_s": per_tick * ticks_per_second,
        "transactions": len(latencies),
        "p50_ms": round(statistics.median(latencies), 1),
        "p99_ms": round(latencies[int(len(latencies) * 0.99) - 1], 1),
        "max_ms": round(latencies[-1], 1),
    }


def run(transactions: int = 40_000, latency_seconds: int = 10) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        node = local_node(Path(folder) / "chain")
        node.extra_config = NODE_CONFIG
        node.start()
        try:
            top = ceiling([node.endpoint], transactions)
            half = latency([node.endpoint], max(1, top["committed_tx_per_s"] // 2), latency_seconds)
        finally:
            node.stop()
    return {"ceiling": top, "half_load_latency": half}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--transactions", type=int, default=40_000)
    parser.add_argument("--latency-seconds", type=int, default=10)
    parser.add_argument("--out", type=Path, default=Path("bench-results"))
    options = parser.parse_args()
    figures = run(options.transactions, options.latency_seconds)
    options.out.mkdir(parents=True, exist_ok=True)
    (options.out / "node.json").write_text(json.dumps(figures, indent=2))
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
