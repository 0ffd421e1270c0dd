"""Pending transactions: bounded, deduplicated, ordered by nonce per sender, fair across senders.

Thread-safe: gRPC handler threads add, the block producer selects and removes.
"""

from __future__ import annotations

import enum
import heapq
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from dcrm.runtime import SignedTransaction

__all__ = ["Mempool", "MempoolRejected", "MempoolRejection"]


class MempoolRejection(enum.Enum):
    DUPLICATE = "duplicate"
    NONCE_TAKEN = "nonce_taken"
    FULL = "full"
    SENDER_FULL = "sender_full"


class MempoolRejected(Exception):
    def __init__(self, reason: MempoolRejection, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass(frozen=True, slots=True)
class MempoolLimits:
    max_transactions: int
    max_per_sender: int


class Mempool:
    def __init__(self, max_transactions: int, max_per_sender: int) -> None:
        self.limits = MempoolLimits(max_transactions, max_per_sender)
        self._lock = threading.Lock()
        self._by_hash: dict[bytes, SignedTransaction] = {}
        # sender -> nonce -> tx; dict insertion order of senders gives first-come fairness.
        self._by_sender: dict[bytes, dict[int, SignedTransaction]] = {}
        self._expiry: list[tuple[int, bytes]] = []  # (valid_until, tx hash) min-heap
        self._has_work = threading.Condition(self._lock)

    def __len__(self) -> int:
        return len(self._by_hash)

    def __contains__(self, tx_hash: bytes) -> bool:
        return tx_hash in self._by_hash

    def get(self, tx_hash: bytes) -> SignedTransaction | None:
        """A pending transaction, already decoded and signature-checked."""
        return self._by_hash.get(tx_hash)

    def add(self, tx: SignedTransaction) -> None:
        """Admit a validated transaction, or raise MempoolRejected saying why not."""
        with self._lock:
            if tx.hash in self._by_hash:
                raise MempoolRejected(MempoolRejection.DUPLICATE, f"transaction {tx.hash.hex()} is already pending")
            pending = self._by_sender.get(tx.sender)
            if pending is not None and tx.nonce in pending:
                raise MempoolRejected(
                    MempoolRejection.NONCE_TAKEN,
                    f"sender {tx.sender.hex()} already has a pending transaction with nonce {tx.nonce}",
                )
            if len(self._by_hash) >= self.limits.max_transactions:
                raise MempoolRejected(
                    MempoolRejection.FULL,
                    f"mempool is full ({self.limits.max_transactions} transactions); retry later",
                )
            if pending is not None and len(pending) >= self.limits.max_per_sender:
                raise MempoolRejected(
                    MempoolRejection.SENDER_FULL,
                    f"sender {tx.sender.hex()} has {len(pending)} pending transactions, "
                    f"at most {self.limits.max_per_sender} allowed",
                )
            if pending is None:
                pending = self._by_sender[tx.sender] = {}
            pending[tx.nonce] = tx
            self._by_hash[tx.hash] = tx
            heapq.heappush(self._expiry, (tx.body.valid_until, tx.hash))
            self._has_work.notify_all()

    def wait_for_work(self, timeout: float) -> bool:
        """Block until something is pending or `timeout` seconds pass; True if work is pending."""
        with self._lock:
            if not self._by_hash:
                self._has_work.wait(timeout)
            return bool(self._by_hash)

    def wake(self) -> None:
        with self._lock:
            self._has_work.notify_all()

    def candidates(self) -> Iterator[list[SignedTransaction]]:
        """A snapshot of each sender's pending transactions in nonce order, senders first-come first."""
        with self._lock:
            groups = [sorted(pending.values(), key=lambda tx: tx.nonce) for pending in self._by_sender.values()]
        yield from groups

    def remove(self, hashes: Iterable[bytes]) -> None:
        with self._lock:
            for tx_hash in hashes:
                self._remove_locked(tx_hash)
            # Committed transactions leave stale heap entries; rebuild before they dominate.
            if len(self._expiry) > 2 * len(self._by_hash) + 1024:
                self._expiry = [(tx.body.valid_until, tx.hash) for tx in self._by_hash.values()]
                heapq.heapify(self._expiry)

    def prune_expired(self, next_height: int) -> int:
        """Drop transactions whose valid_until is before `next_height`; returns how many."""
        removed = 0
        with self._lock:
            while self._expiry and self._expiry[0][0] < next_height:
                _, tx_hash = heapq.heappop(self._expiry)
                if self._remove_locked(tx_hash):
                    removed += 1
        return removed

    def _remove_locked(self, tx_hash: bytes) -> bool:
        tx = self._by_hash.pop(tx_hash, None)
        if tx is None:
            return False
        pending = self._by_sender[tx.sender]
        del pending[tx.nonce]
        if not pending:
            del self._by_sender[tx.sender]
        return True
