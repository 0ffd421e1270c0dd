"""`make bench`: every benchmark in turn; prints each figure and saves them as JSON under --out.

Figures are measurements, not assertions; the aims they are compared with are printed beside them.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.bench import (
    bench_consent,
    bench_consent_grpc,
    bench_identity,
    bench_node,
    bench_pbft,
    bench_runtime,
    bench_state,
    bench_tokens,
)

BENCHMARKS: dict[str, Callable[[], Any]] = {
    "runtime": lambda: bench_runtime.run(blocks=5, block_size=3_000),
    "state": lambda: bench_state.run(keys=1_000_000, blocks=5, sync=True),
    "node": lambda: bench_node.run(transactions=40_000, latency_seconds=10),
    "identity": lambda: bench_identity.run(blocks=5, block_size=2_000),
    "consent": lambda: bench_consent.run(blocks=3, block_size=2_000, checks=20_000),
    "tokens": lambda: bench_tokens.run(blocks=3, block_size=3_000),
    "consent_grpc": lambda: bench_consent_grpc.run(seconds=10, processes=3, threads=4, batch=100),
    "pbft": lambda: bench_pbft.run(transactions=20_000, latency_seconds=10),
}

AIMS = {
    "runtime": "(a) apply >= 20,000 tx/s",
    "state": "(b) 3,000 writes into 1,000,000 keys <= 150 ms",
    "node": "(c) one validator >= 5,000 committed tx/s",
    "identity": "create_did, update_did, revoke apply >= 5,000 tx/s (c); resolve >= 5,000 queries/s",
    "consent": "grant, withdraw apply >= 5,000 tx/s (c); check >= 5,000 queries/s in the runtime",
    "tokens": "mint, transfer (spread, hot key, expiring lots) apply >= 5,000 tx/s (c)",
    "consent_grpc": "one node answers >= 5,000 unverified consent checks/s through gRPC (check; check_many of 100)",
    "pbft": "four validators >= 2,000 committed tx/s; p99 <= 1 s at half load; leader failover <= 2 s",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("bench-results"))
    parser.add_argument("--only", choices=sorted(BENCHMARKS), action="append")
    options = parser.parse_args()
    options.out.mkdir(parents=True, exist_ok=True)
    summary: dict[str, Any] = {"machine": {"python": platform.python_version(), "cpu": platform.processor()}}
    for name, bench in BENCHMARKS.items():
        if options.only and name not in options.only:
            continue
        print(f"== {name}: aim {AIMS.get(name, '-')}", flush=True)
        started = time.perf_counter()
        figures = bench()
        summary[name] = figures
        (options.out / f"{name}.json").write_text(json.dumps(figures, indent=2))
        print(json.dumps(figures, indent=2), f"\n({time.perf_counter() - started:.0f} s)", flush=True)
    (options.out / "summary.json").write_text(json.dumps(summary, indent=2))
    print(f"saved under {options.out}/")


if __name__ == "__main__":
    main()
