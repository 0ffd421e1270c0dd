"""One node for the load-tool tests: a single-validator chain on loopback, its port chosen at run time."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from dcrm.client import save_key
from tests.support.node_process import NodeProcess, local_node


@pytest.fixture(scope="module")
def loadtest_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeProcess]:
    node = local_node(tmp_path_factory.mktemp("loadtest") / "chain")
    node.start()
    try:
        yield node
    finally:
        node.stop()


@pytest.fixture(scope="module")
def admin_key_file(loadtest_node: NodeProcess, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("keys") / "admin.key"
    save_key(path, loadtest_node.admin)
    return path
