"""Fixtures that start real node processes on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from dcrm.client import Client
from tests.support.node_process import NodeProcess, local_node


@pytest.fixture
def node(tmp_path: Path) -> Iterator[NodeProcess]:
    process = local_node(tmp_path / "chain")
    process.start()
    try:
        yield process
    finally:
        process.kill()


@pytest.fixture
def client(node: NodeProcess) -> Iterator[Client]:
    with Client(node.endpoint) as sdk:
        yield sdk
