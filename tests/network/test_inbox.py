"""The delivery thread: order, bounded room, idle hook, and a clean stop."""

from __future__ import annotations

import functools
import threading

from dcrm.node.network.inbox import Inbox


def test_items_run_in_order_on_the_inbox_thread_and_stop_drains_the_queue() -> None:
    entered, gate = threading.Event(), threading.Event()
    ran: list[tuple[int, str]] = []
    idle = threading.Event()
    inbox = Inbox("test-inbox", capacity=3, on_idle=idle.set)
    inbox.start()

    def first() -> None:
        entered.set()
        gate.wait(10)

    assert inbox.offer(first)
    assert entered.wait(10)  # the thread holds the first item: the queue is empty again

    def record(index: int) -> None:
        ran.append((index, threading.current_thread().name))

    for index in range(3):
        assert inbox.offer(functools.partial(record, index))
    assert not inbox.offer(lambda: None), "a full inbox refuses instead of blocking the producer"
    gate.set()
    assert idle.wait(10), "the idle hook runs once the queue is empty"
    inbox.stop(timeout=10)
    assert ran == [(0, "test-inbox"), (1, "test-inbox"), (2, "test-inbox")]
    assert not inbox.offer(lambda: None)


def test_a_failing_item_does_not_stop_the_thread() -> None:
    ran: list[str] = []
    inbox = Inbox("test-inbox", capacity=4)
    inbox.start()

    def fails() -> None:
        raise RuntimeError("handler bug")

    inbox.offer(fails)
    inbox.offer(lambda: ran.append("after"))
    inbox.stop(timeout=10)
    assert ran == ["after"]
