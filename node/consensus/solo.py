"""Single-validator consensus: the one validator proposes, votes and commits each block itself.

It still signs a commit certificate (one vote is 2f+1 when n = 1), so clients verify blocks the same
way as on a PBFT network.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence

from dcrm.client.keys import SigningKey
from dcrm.node.chain import Chain
from dcrm.node.config import ConsensusConfig
from dcrm.node.consensus.block_assembly import assemble_block, sign_vote
from dcrm.node.mempool import Mempool
from dcrm.runtime import SignedTransaction
from dcrm.v1 import types_pb2

__all__ = ["SoloEngine"]

log = logging.getLogger(__name__)


def wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


class SoloEngine:
    """Builds a block whenever transactions wait (after a short gathering window) or when idle too long."""

    def __init__(
        self,
        chain: Chain,
        mempool: Mempool,
        key: SigningKey,
        config: ConsensusConfig,
        clock_ms: Callable[[], int] = wall_clock_ms,
    ) -> None:
        if chain.validators != [key.public_key]:
            raise ValueError(
                f"this node's validator key {key.public_key.hex()} is not the single validator of the chain"
            )
        self.chain = chain
        self.mempool = mempool
        self.key = key
        self.config = config
        self.clock_ms = clock_ms
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.on_commit: list[Callable[[int, list[bytes]], None]] = []

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="solo-consensus", daemon=True)
        self._thread.start()

    def notify_transactions(self, admitted: Sequence[SignedTransaction] = ()) -> None:
        del admitted  # the only validator: nothing to forward
        self.mempool.wake()

    def peers(self) -> list[str]:
        return []

    def stop(self) -> None:
        self._stopping.set()
        self.mempool.wake()
        if self._thread is not None:
            self._thread.join()

    def _run(self) -> None:
        idle_seconds = self.config.idle_block_ms / 1000
        gather_seconds = self.config.block_interval_ms / 1000
        # At genesis nothing is certified yet: commit a first block at once so verified reads work.
        last_block = time.monotonic() - (idle_seconds if self.chain.head.height == 0 else 0.0)
        while not self._stopping.is_set():
            remaining = max(0.0, idle_seconds - (time.monotonic() - last_block))
            if self.mempool.wait_for_work(min(remaining, 0.5)) and not self._stopping.is_set():
                # Let a burst of submissions gather so blocks are full rather than many and tiny.
                self._stopping.wait(gather_seconds)
            elif time.monotonic() - last_block < idle_seconds:
                continue
            if self._stopping.is_set():
                break
            try:
                self.produce_block()
            except Exception:
                log.exception("block production failed; retrying")
                self._stopping.wait(1.0)
            last_block = time.monotonic()

    def produce_block(self) -> int:
        """Assemble, sign and import one block; returns its height."""
        chain = self.chain
        head = chain.head
        self.mempool.prune_expired(head.height + 1)
        started = time.perf_counter()
        assembled = assemble_block(
            chain.runtime,
            chain.kv,
            self.mempool,
            parent=head.header,
            parent_hash=head.block_hash,
            proposer=self.key.account_id,
            timestamp_ms=self.clock_ms(),
            view=0,
            max_transactions=self.config.max_block_transactions,
        )
        height = assembled.header.height
        vote = sign_vote(
            self.key, types_pb2.VoteBody.COMMIT, assembled.header.chain_id, height, 0, assembled.block_hash
        )
        certificate = types_pb2.CommitCertificate(height=height, block_hash=assembled.block_hash, votes=[vote])
        chain.import_block(assembled.header, assembled.block, certificate, assembled.result)
        hashes = [tx.hash for tx in assembled.result.transactions]
        self.mempool.remove([*hashes, *assembled.dropped])
        for callback in self.on_commit:
            callback(height, hashes)
        log.debug(  # Chain.import_block writes the INFO line of every committed block
            "produced block %d with %d transactions in %.1f ms (%s)",
            height,
            len(hashes),
            (time.perf_counter() - started) * 1000,
            assembled.block_hash.hex()[:16],
            extra={"height": height, "transactions": len(hashes)},
        )
        return height
