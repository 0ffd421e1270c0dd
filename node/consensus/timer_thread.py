"""Timers for a consensus driver: set by key, replaced when set again, fired on one background thread."""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

__all__ = ["TimerThread"]

K = TypeVar("K", bound=Hashable)


class TimerThread(Generic[K]):
    """Calls `fire(key)` once `delay_ms` after `set(key, delay_ms)`, unless the key was set again or cancelled."""

    def __init__(self, fire: Callable[[K], None], name: str = "timers") -> None:
        self._fire = fire
        self._lock = threading.Condition()
        self._heap: list[tuple[float, int, K]] = []
        self._current: dict[K, int] = {}  # key -> sequence number of its live entry
        self._sequence = itertools.count()
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def set(self, key: K, delay_ms: int) -> None:
        with self._lock:
            number = next(self._sequence)
            self._current[key] = number
            heapq.heappush(self._heap, (time.monotonic() + delay_ms / 1000, number, key))
            self._lock.notify()

    def cancel(self, key: K) -> None:
        with self._lock:
            self._current.pop(key, None)

    def stop(self) -> None:
        with self._lock:
            self._stopping = True
            self._lock.notify()
        if self._thread.is_alive():
            self._thread.join()

    def _run(self) -> None:
        while True:
            with self._lock:
                while not self._stopping and (not self._heap or self._heap[0][0] > time.monotonic()):
                    self._lock.wait(None if not self._heap else max(0.0, self._heap[0][0] - time.monotonic()))
                if self._stopping:
                    return
                _, number, key = heapq.heappop(self._heap)
                if self._current.get(key) != number:
                    continue  # replaced or cancelled
                del self._current[key]
            self._fire(key)
