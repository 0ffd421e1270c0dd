"""Random and mutated bytes into every gRPC method: a precise status, never UNKNOWN/INTERNAL, node unharmed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dcrm.client import Client
from dcrm.v1 import node_pb2
from tests.support.node_process import NodeProcess, local_node

SERVICE = node_pb2.DESCRIPTOR.services_by_name["Node"]
FORBIDDEN = {grpc.StatusCode.UNKNOWN, grpc.StatusCode.INTERNAL}
# Streams answer valid requests for future heights by waiting; a short deadline ends them.
STREAM_DEADLINE_SECONDS = 0.3


@pytest.fixture(scope="module")
def running_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeProcess]:
    node = local_node(Path(tmp_path_factory.mktemp("garbage")) / "chain")
    node.start()
    try:
        yield node
    finally:
        node.kill()


def call_raw(channel: grpc.Channel, method: str, payload: bytes) -> grpc.StatusCode:
    descriptor = SERVICE.methods_by_name[method]
    path = f"/{SERVICE.full_name}/{method}"
    try:
        # Raw bytes in, raw bytes out: no serializers, so the payload reaches the server as it is.
        if descriptor.server_streaming:
            streaming: Any = channel.unary_stream(path)
            for _ in streaming(payload, timeout=STREAM_DEADLINE_SECONDS):
                pass
        else:
            unary: Any = channel.unary_unary(path)
            unary(payload, timeout=10)
    except grpc.RpcError as error:
        code: grpc.StatusCode = error.code()
        return code
    return grpc.StatusCode.OK


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(method=st.sampled_from(sorted(SERVICE.methods_by_name)), payload=st.binary(max_size=300))
def test_garbage_never_gets_unknown_or_internal(running_node: NodeProcess, method: str, payload: bytes) -> None:
    with grpc.insecure_channel(running_node.endpoint) as channel:
        code = call_raw(channel, method, payload)
    assert code not in FORBIDDEN, f"{method} answered {code} to {payload!r}"


def test_node_survives_and_state_is_unchanged(running_node: NodeProcess) -> None:
    with grpc.insecure_channel(running_node.endpoint) as channel:
        for method in sorted(SERVICE.methods_by_name):
            for payload in (b"\xff" * 64, b"\x0a\x05\x0a\x03\xff\xff\xff", b"\x12" + b"\x80" * 10):
                assert call_raw(channel, method, payload) not in FORBIDDEN
    with Client(running_node.endpoint) as client:
        status = client.status()
        assert status.mempool_size == 0
        assert client.system.nonce(running_node.admin.account_id) == 0
