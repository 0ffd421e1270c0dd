"""The node serves the standard gRPC health and reflection services."""

from __future__ import annotations

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from tests.support.node_process import NodeProcess


def test_health_reports_serving(node: NodeProcess) -> None:
    with grpc.insecure_channel(node.endpoint) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        for service in ("", "dcrm.v1.Node"):
            response = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=10)
            assert response.status == health_pb2.HealthCheckResponse.SERVING
        with pytest.raises(grpc.RpcError) as caught:
            stub.Check(health_pb2.HealthCheckRequest(service="dcrm.v1.NoSuch"), timeout=10)
        assert caught.value.code() == grpc.StatusCode.NOT_FOUND


def test_reflection_lists_the_node_service(node: NodeProcess) -> None:
    with grpc.insecure_channel(node.endpoint) as channel:
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        request = reflection_pb2.ServerReflectionRequest(list_services="")
        responses = list(stub.ServerReflectionInfo(iter([request]), timeout=10))
    names = {service.name for service in responses[0].list_services_response.service}
    assert {"dcrm.v1.Node", "grpc.health.v1.Health"} <= names
