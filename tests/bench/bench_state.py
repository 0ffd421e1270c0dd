"""Benchmark: commit blocks of state writes into the authenticated state tree stored in LevelDB.

Bulk-loads N keys (32-byte keys, 100-byte values) into a temporary LevelDB, then times blocks of 3,000 writes
(half updates of existing keys, half inserts): the new root, then the node writes persisted in one WriteBatch.

    python -m tests.bench.bench_state --keys 1000000 --blocks 5 --out bench-results
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import statistics
import tempfile
import time
from collections.abc import Iterator
from hashlib import sha256
from pathlib import Path
from typing import Any

import plyvel

from dcrm.runtime.state.kv import prefix_upper_bound
from dcrm.runtime.state.smt import SparseMerkleTree

__all__ = ["run"]

BLOCK_WRITES = 3_000
VALUE_BYTES = 100
LOAD_CHUNK = 100_000
WRITE_BUFFER_BYTES = 64 << 20  # as the node's LevelDB store
PREFIX = b"T"
SEED = 20_240_601


class _Reader:
    """The KVReader seam over a plyvel database."""

    def __init__(self, db: Any) -> None:
        self._db = db

    def get(self, key: bytes) -> bytes | None:
        value: bytes | None = self._db.get(key)
        return value

    def iterate(self, prefix: bytes, start: bytes = b"") -> Iterator[tuple[bytes, bytes]]:
        yield from self._db.iterator(start=prefix + start, stop=prefix_upper_bound(prefix))


def _key(index: int) -> bytes:
    return sha256(b"bench-state-key" + index.to_bytes(8, "big")).digest()


def _persist(db: Any, writes: dict[bytes, bytes | None], *, sync: bool) -> None:
    with db.write_batch(sync=sync) as batch:
        for key, record in writes.items():
            if record is None:
                batch.delete(key)
            else:
                batch.put(key, record)


def _bulk_load(db: Any, keys: int, rng: random.Random) -> float:
    """Insert `keys` keys in chunks of neighbouring key paths, so each chunk builds its own subtrees."""
    started = time.perf_counter()
    ordered = sorted(range(keys), key=lambda index: sha256(_key(index)).digest())
    for low in range(0, keys, LOAD_CHUNK):
        chunk = [(_key(index), rng.randbytes(VALUE_BYTES)) for index in ordered[low : low + LOAD_CHUNK]]
        _root, writes = SparseMerkleTree(_Reader(db), PREFIX).update(chunk)
        _persist(db, writes, sync=False)
    return time.perf_counter() - started


def _block(rng: random.Random, keys: int, first_new: int) -> list[tuple[bytes, bytes]]:
    updates = [(_key(index), rng.randbytes(VALUE_BYTES)) for index in rng.sample(range(keys), BLOCK_WRITES // 2)]
    inserts = [(_key(first_new + offset), rng.randbytes(VALUE_BYTES)) for offset in range(BLOCK_WRITES // 2)]
    return updates + inserts


def _ms(samples: list[float]) -> dict[str, float]:
    return {
        "median_ms": round(statistics.median(samples) * 1000, 1),
        "max_ms": round(max(samples) * 1000, 1),
    }


def run(keys: int, blocks: int, *, sync: bool = False) -> dict[str, object]:
    """Load `keys` keys, commit `blocks` blocks of 3,000 writes, and return timings and sizes.

    `sync` makes each block's WriteBatch wait for the disk, as the node's store does by default.
    """
    if keys < BLOCK_WRITES or blocks < 1:
        raise ValueError(f"need at least {BLOCK_WRITES} keys and one block")
    rng = random.Random(SEED)
    with tempfile.TemporaryDirectory(prefix="dcrm-bench-state-") as folder:
        db = plyvel.DB(folder, create_if_missing=True, write_buffer_size=WRITE_BUFFER_BYTES)
        try:
            load_s = _bulk_load(db, keys, rng)
            gc.collect()  # the load's garbage is not the blocks' to pay for
            compute: list[float] = []
            persist: list[float] = []
            total: list[float] = []
            node_writes: list[int] = []
            write_bytes: list[int] = []
            reader = _Reader(db)
            for block in range(blocks):
                changes = _block(rng, keys, keys + block * BLOCK_WRITES)
                started = time.perf_counter()
                _root, writes = SparseMerkleTree(reader, PREFIX).update(changes)
                computed = time.perf_counter()
                _persist(db, writes, sync=sync)
                done = time.perf_counter()
                compute.append(computed - started)
                persist.append(done - computed)
                total.append(done - started)
                node_writes.append(len(writes))
                write_bytes.append(sum(len(key) + len(record or b"") for key, record in writes.items()))
            # The tree keeps value hashes only: prove the last key written, whose value is at hand.
            proof_key, proof_value = changes[-1]
            proof = SparseMerkleTree(reader, PREFIX).prove(proof_key, proof_value)
        finally:
            db.close()
    return {
        "keys": keys,
        "blocks": blocks,
        "block_writes": BLOCK_WRITES,
        "sync": sync,
        "bulk_load_s": round(load_s, 1),
        "block_total": _ms(total),
        "block_compute": _ms(compute),
        "block_persist": _ms(persist),
        "node_writes_per_block": statistics.median(node_writes),
        "write_batch_bytes_per_block": statistics.median(write_bytes),
        "inclusion_proof_bytes": proof.ByteSize(),
        "inclusion_proof_steps": len(proof.steps),
    }


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, print the block figures and write them to OUT/state.json."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--keys", type=int, default=100_000, help="state size before the blocks (default 100,000)")
    parser.add_argument("--blocks", type=int, default=5, help="blocks to time (default 5)")
    parser.add_argument("--sync", action="store_true", help="fsync each block's WriteBatch")
    parser.add_argument("--out", type=Path, default=Path("bench-results"), help="folder for state.json")
    args = parser.parse_args(argv)
    result = run(args.keys, args.blocks, sync=args.sync)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "state.json").write_text(json.dumps(result, indent=2) + "\n")
    total = result["block_total"]
    assert isinstance(total, dict)
    print(
        f"state tree, {args.keys:,} keys, {args.blocks} blocks of {BLOCK_WRITES:,} writes: "
        f"median {total['median_ms']} ms, max {total['max_ms']} ms per block (root + WriteBatch)"
    )
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
