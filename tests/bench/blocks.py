"""What the runtime benchmarks share: signing calls with counted nonces, and timing one block.

A block's time is apply_block plus the write of its result into the store; the transactions are decoded before
the clock starts.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

from google.protobuf.message import Message

from dcrm.client.keys import SigningKey
from dcrm.client.transactions import build_transaction
from dcrm.runtime import BlockContext, BlockResult, SignedTransaction
from dcrm.v1 import types_pb2
from tests.support.runtime_harness import BLOCK_TIME_MS, RuntimeHarness

__all__ = ["NonceSigner", "apply_timed"]


class NonceSigner:
    """Signs calls of one module for the harness's chain, counting each key's nonces itself (from 0), so a
    benchmark can sign many blocks ahead of applying them."""

    def __init__(self, harness: RuntimeHarness, module: int, call_index: Mapping[type[Message], int]) -> None:
        self.harness = harness
        self.module = module
        self.call_index = call_index
        self.nonces: dict[bytes, int] = {}

    def sign(self, key: SigningKey, args: Message) -> types_pb2.Transaction:
        nonce = self.nonces.get(key.account_id, 0)
        self.nonces[key.account_id] = nonce + 1
        return build_transaction(
            key,
            chain_id=self.harness.genesis.chain_id,
            nonce=nonce,
            valid_until=50_000,
            module=self.module,
            method=self.call_index[type(args)],
            args=args,
        )


def apply_timed(
    harness: RuntimeHarness, decoded: list[SignedTransaction], *, timestamp_ms: int | None = None
) -> tuple[float, BlockResult]:
    """Apply `decoded` as the harness's next block (at `timestamp_ms`, else a block time after the last) and write
    its result: the seconds that took, and the result. Raises RuntimeError when any call failed."""
    harness.timestamp_ms = timestamp_ms or harness.timestamp_ms + BLOCK_TIME_MS
    ctx = BlockContext(harness.genesis.chain_id, harness.height + 1, harness.timestamp_ms, b"\x00" * 20)
    started = time.perf_counter()
    result = harness.runtime.apply_block(harness.store, ctx, decoded)
    harness.store.write(result.writes)
    elapsed = time.perf_counter() - started
    harness.height += 1
    failed = [receipt.error for receipt in result.receipts if not receipt.success]
    if failed:
        raise RuntimeError(f"{len(failed)} benchmark calls failed, first: {failed[0]}")
    return elapsed, result
