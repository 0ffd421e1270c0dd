"""Admission-control building blocks: token buckets keyed by account or client address, stream slots.

Time comes from an injected monotonic clock (seconds), so tests drive it by hand; nothing here reads the
wall clock. Every table is bounded: a key whose bucket has refilled is the same as an absent key and is
dropped, and when a table is still full the least recently used keys go first.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

__all__ = ["DEFAULT_MAX_KEYS", "KeyedBuckets", "StreamSlots", "TokenBucket"]

K = TypeVar("K", bound=Hashable)

DEFAULT_MAX_KEYS = 100_000


@dataclass(slots=True)
class TokenBucket:
    """`rate` tokens per second up to `burst`; `take` spends one if there is one."""

    rate: float
    burst: float
    tokens: float
    updated: float

    def refill(self, now: float) -> None:
        if now > self.updated:
            self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
            self.updated = now

    def take(self, now: float, count: float = 1.0) -> bool:
        self.refill(now)
        if self.tokens >= count:
            self.tokens -= count
            return True
        return False


class KeyedBuckets(Generic[K]):
    """One token bucket per key (account, client address), thread-safe, with a bounded table.

    A rate of 0 turns the limit off: `take` always succeeds and nothing is stored.
    """

    def __init__(
        self,
        rate: float,
        burst: float,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = DEFAULT_MAX_KEYS,
    ) -> None:
        if rate < 0 or burst < 1 or max_keys < 1:
            raise ValueError(f"rate must be >= 0, burst >= 1 and max_keys >= 1, got {rate}, {burst}, {max_keys}")
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._max_keys = max_keys
        self._lock = threading.Lock()
        self._buckets: OrderedDict[K, TokenBucket] = OrderedDict()

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    def __len__(self) -> int:
        return len(self._buckets)

    def take(self, key: K) -> bool:
        """Spend one token of `key`'s bucket; False when it is empty (the caller refuses the request)."""
        if not self.enabled:
            return True
        now = self._clock()
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                if len(self._buckets) >= self._max_keys:
                    self._make_room(now)
                bucket = self._buckets[key] = TokenBucket(self.rate, self.burst, self.burst, now)
            else:
                self._buckets.move_to_end(key)
            return bucket.take(now)

    def _make_room(self, now: float) -> None:
        """Drop refilled buckets (they equal absent ones), then the least recently used, down to 90 % of the
        bound, so that a flood of new keys pays for one sweep per tenth of the table, not one per key."""
        for key in [key for key, bucket in self._buckets.items() if _refilled(bucket, now)]:
            del self._buckets[key]
        target = self._max_keys - max(1, self._max_keys // 10)
        while len(self._buckets) > target:
            self._buckets.popitem(last=False)


def _refilled(bucket: TokenBucket, now: float) -> bool:
    bucket.refill(now)
    return bucket.tokens >= bucket.burst


class StreamSlots(Generic[K]):
    """Counts open streams per key and in total; `acquire` refuses past either bound."""

    def __init__(self, per_key: int, total: int) -> None:
        if per_key < 1 or total < 1:
            raise ValueError(f"per_key and total must be >= 1, got {per_key}, {total}")
        self.per_key = per_key
        self.total = total
        self._lock = threading.Lock()
        self._open: dict[K, int] = {}
        self._count = 0

    @property
    def count(self) -> int:
        return self._count

    def open_for(self, key: K) -> int:
        return self._open.get(key, 0)

    def acquire(self, key: K) -> str | None:
        """Take a slot for `key`; returns None, or which bound was hit ("per_key" or "total")."""
        with self._lock:
            if self._open.get(key, 0) >= self.per_key:
                return "per_key"
            if self._count >= self.total:
                return "total"
            self._open[key] = self._open.get(key, 0) + 1
            self._count += 1
            return None

    def release(self, key: K) -> None:
        with self._lock:
            remaining = self._open.get(key, 0) - 1
            if remaining <= 0:
                self._open.pop(key, None)
            else:
                self._open[key] = remaining
            self._count = max(0, self._count - 1)
