"""Shared fixtures: the runtime suite runs on both KV backends."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from dcrm.runtime.state.kv import KVStore
from tests.support.runtime_harness import kv_backend


@pytest.fixture(params=["memory", "leveldb"])
def store(request: pytest.FixtureRequest) -> Iterator[KVStore]:
    with kv_backend(request.param) as kv:
        yield kv
