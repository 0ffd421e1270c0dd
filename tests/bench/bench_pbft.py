"""Benchmark: the four-validator devnet (PBFT over libp2p, four processes on this machine).

Committed tx/s with pre-signed transactions through the batch RPC (spread over all nodes, counted from the
blocks), p50/p99 submit-to-commit latency at half that load, and the time from SIGKILL of the next leader
to the next commit seen on a surviving node.

    python -m tests.bench.bench_pbft --transactions 20000 --out bench-results
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from dcrm.client import Client
from tests.bench.bench_node import ceiling, latency
from tests.support.network_processes import LocalNetwork, local_network
from tests.support.node_process import wait_until

__all__ = ["run"]

NODE_ENV = {"DCRM_MEMPOOL_MAX_TRANSACTIONS": "200000", "DCRM_MEMPOOL_MAX_BATCH": "5000"}
FAILOVER_TRIALS = 3


def _head(endpoint: str) -> int:
    with Client(endpoint, timeout=5) as client:
        return client.status().height


def _one_failover(net: LocalNetwork, accounts: list[bytes]) -> float:
    """Kill the leader of the next height just after a commit; ms until a survivor commits that height."""
    watcher = net.nodes[0]
    start_height = _head(watcher.endpoint)
    wait_until(lambda: _head(watcher.endpoint) > start_height, 30, "a fresh commit", interval=0.005)
    head = _head(watcher.endpoint)
    leader = accounts[(head + 1) % len(accounts)]
    victim = next(node for node in net.nodes if node.validator.account_id == leader)
    survivor = next(node for node in net.nodes if node is not victim)
    killed = time.perf_counter()
    victim.kill()
    wait_until(lambda: _head(survivor.endpoint) > head, 60, "the commit after the kill", interval=0.005)
    elapsed_ms = (time.perf_counter() - killed) * 1000
    victim.start()
    wait_until(lambda: _head(victim.endpoint) >= head + 1, 60, "the killed leader back")
    return elapsed_ms


def failover(net: LocalNetwork) -> dict[str, Any]:
    with Client(net.nodes[0].endpoint) as client:
        accounts = [validator.account for validator in client.status().validators]
    samples = [_one_failover(net, accounts) for _ in range(FAILOVER_TRIALS)]
    return {"trials": len(samples), "median_ms": round(statistics.median(samples)), "max_ms": round(max(samples))}


def run(transactions: int = 20_000, latency_seconds: int = 10) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        net = local_network(Path(folder) / "chain", validators=4)
        for node in net.nodes:
            node.env = dict(NODE_ENV)
        net.start()
        try:
            endpoints = [node.endpoint for node in net.nodes]
            top = ceiling(endpoints, transactions)
            half = latency(endpoints, max(1, top["committed_tx_per_s"] // 2), latency_seconds)
            leader_failover = failover(net)
        finally:
            net.kill_all()
    return {"validators": 4, "ceiling": top, "half_load_latency": half, "leader_failover": leader_failover}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--transactions", type=int, default=20_000)
    parser.add_argument("--latency-seconds", type=int, default=10)
    parser.add_argument("--out", type=Path, default=Path("bench-results"))
    options = parser.parse_args()
    figures = run(options.transactions, options.latency_seconds)
    options.out.mkdir(parents=True, exist_ok=True)
    (options.out / "pbft.json").write_text(json.dumps(figures, indent=2))
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
