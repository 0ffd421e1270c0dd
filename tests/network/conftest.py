"""Fixtures: clusters of connected transports, on the in-memory twin and on libp2p over loopback."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from dcrm.node.network.transport import Transport
from tests.network.support import Libp2pCluster, fully_connected, memory_cluster, wait_until

ClusterFactory = Callable[..., list[Transport]]


@pytest.fixture(params=["memory", "libp2p"])
def make_cluster(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ClusterFactory]:
    """`make_cluster(count, **limits)`: that many started, fully connected transports; all stopped afterwards.
    Limits are the keyword arguments both backends share (message_window, send_queue, max_message_bytes, ...)."""
    backend: str = request.param
    clusters = itertools.count()
    with ExitStack() as stack:

        def make(count: int, **limits: Any) -> list[Transport]:
            if backend == "memory":
                transports: list[Transport] = list(stack.enter_context(memory_cluster(count, **limits)))
                for transport in transports:
                    transport.start()
                wait_until(lambda: fully_connected(transports), "every node connected to every other")
                return transports
            cluster = Libp2pCluster(tmp_path / f"cluster-{next(clusters)}", count, **limits)
            stack.callback(cluster.stop)
            return list(cluster.transports)

        yield make
