"""Benchmark (a): runtime apply throughput without network, on the in-memory and the LevelDB store.

Blocks of pre-signed, pre-decoded system.remark transactions from distinct senders (each writes the
sender's nonce, the state tree is updated once per block) are applied and their writes committed.
Signature recovery happens at admission, not in apply; its rate is reported separately.

    python -m tests.bench.bench_runtime --blocks 5 --block-size 3000 --out bench-results
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any

from dcrm.client.keys import SigningKey
from dcrm.client.transactions import build_transaction
from dcrm.runtime import BlockContext
from dcrm.v1 import system_pb2, types_pb2
from tests.support.runtime_harness import CHAIN_ID, RuntimeHarness, kv_backend

__all__ = ["run"]


def _transactions(count: int, nonce: int) -> list[types_pb2.Transaction]:
    keys = [SigningKey((index + 10_000).to_bytes(32, "big")) for index in range(count)]
    return [
        build_transaction(
            key,
            chain_id=CHAIN_ID,
            nonce=nonce,
            valid_until=1_000,
            module=0,
            method=2,
            args=system_pb2.Remark(note=b"benchmark"),
        )
        for key in keys
    ]


def run(blocks: int = 5, block_size: int = 3_000) -> dict[str, Any]:
    """Apply `blocks` blocks of `block_size` transactions on each backend; returns the figures."""
    figures: dict[str, Any] = {"block_size": block_size, "blocks": blocks}
    signed_blocks = [_transactions(block_size, nonce) for nonce in range(blocks)]
    for backend in ("memory", "leveldb"):
        with kv_backend(backend) as store:
            harness = RuntimeHarness(store)
            started = time.perf_counter()
            decoded_blocks = [[harness.decode(tx) for tx in block] for block in signed_blocks]
            decode_seconds = time.perf_counter() - started
            rates = []
            for height, decoded in enumerate(decoded_blocks, start=1):
                ctx = BlockContext(CHAIN_ID, height, 1_700_000_000_000 + height, b"\x00" * 20)
                started = time.perf_counter()
                result = harness.runtime.apply_block(store, ctx, decoded)
                store.write(result.writes)
                rates.append(block_size / (time.perf_counter() - started))
            figures[backend] = {
                "apply_tx_per_s_median": round(statistics.median(rates)),
                "apply_tx_per_s_min": round(min(rates)),
                "decode_and_recover_tx_per_s": round(blocks * block_size / decode_seconds),
            }
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--blocks", type=int, default=5)
    parser.add_argument("--block-size", type=int, default=3_000)
    parser.add_argument("--out", type=Path, default=Path("bench-results"))
    options = parser.parse_args()
    figures = run(options.blocks, options.block_size)
    options.out.mkdir(parents=True, exist_ok=True)
    (options.out / "runtime.json").write_text(json.dumps(figures, indent=2))
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
