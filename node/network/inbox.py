"""Delivery to handlers on a dedicated thread, so consumers never run on a sender's thread or in the event loop.

An `Inbox` is a bounded FIFO of work items and the one thread that runs them in order. Producers offer items
without blocking: the transports bound what they offer (credits, request windows, the gossip queue size), so a
full inbox means a bug, which `offer` reports by returning False.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable

__all__ = ["Inbox", "WorkItem"]

logger = logging.getLogger(__name__)

WorkItem = Callable[[], None]


class _Stop:
    """Queued by `stop` behind everything already offered."""


_STOP = _Stop()


class Inbox:
    def __init__(self, name: str, capacity: int, on_idle: Callable[[], None] | None = None) -> None:
        """`on_idle` runs on the inbox thread whenever the queue has just become empty."""
        self._name = name
        self._capacity = capacity
        self._on_idle = on_idle
        self._queue: queue.Queue[WorkItem | _Stop] = queue.Queue(maxsize=capacity + 1)  # +1: room for _STOP
        self._offer_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stopped = False

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError(f"inbox {self._name} already started")
        self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
        self._thread.start()

    def offer(self, item: WorkItem) -> bool:
        """Queue `item` if there is room; never blocks."""
        with self._offer_lock:
            if self._stopped or self._queue.qsize() >= self._capacity:
                return False
            self._queue.put_nowait(item)
            return True

    def stop(self, timeout: float) -> None:
        """Run what is queued, then end the thread; waits up to `timeout` seconds. Idempotent."""
        with self._offer_lock:
            if self._stopped:
                return
            self._stopped = True
            self._queue.put_nowait(_STOP)
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
            if thread.is_alive():
                logger.warning("inbox %s: a handler is still running after %.1f s; leaving it", self._name, timeout)

    def on_inbox_thread(self) -> bool:
        return threading.current_thread() is self._thread

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if isinstance(item, _Stop):
                return
            try:
                item()
            except Exception:
                logger.exception("inbox %s: a work item failed", self._name)
            if self._on_idle is not None and self._queue.empty():
                try:
                    self._on_idle()
                except Exception:
                    logger.exception("inbox %s: the idle hook failed", self._name)
