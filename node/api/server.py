"""Start the gRPC server: the Node service, standard health checking and reflection."""

from __future__ import annotations

from concurrent import futures

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from dcrm.node.api.servicer import NodeServicer
from dcrm.node.config import ApiConfig
from dcrm.v1 import node_pb2, node_pb2_grpc

__all__ = ["ApiServer", "start_api_server"]

SERVICE_NAME = node_pb2.DESCRIPTOR.services_by_name["Node"].full_name


class ApiServer:
    def __init__(self, server: grpc.Server, port: int, health_servicer: health.HealthServicer) -> None:
        self.server = server
        self.port = port
        self.health = health_servicer

    def stop(self, grace_seconds: float) -> None:
        self.health.enter_graceful_shutdown()
        self.server.stop(grace_seconds).wait()


def start_api_server(servicer: NodeServicer, config: ApiConfig) -> ApiServer:
    """Bind and start; returns once the server is serving, with the port it bound (config.port may be 0)."""
    options = [
        ("grpc.max_receive_message_length", config.max_message_bytes),
        ("grpc.max_send_message_length", config.max_message_bytes),
        ("grpc.so_reuseport", 0),
    ]
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=config.worker_threads), options=options)
    node_pb2_grpc.add_NodeServicer_to_server(servicer, server)
    health_servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection((SERVICE_NAME, reflection.SERVICE_NAME, health.SERVICE_NAME), server)
    port = server.add_insecure_port(f"{config.host}:{config.port}")
    if port == 0:
        raise OSError(f"could not bind the gRPC API to {config.host}:{config.port}")
    server.start()
    health_servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    health_servicer.set(SERVICE_NAME, health_pb2.HealthCheckResponse.SERVING)
    return ApiServer(server, port, health_servicer)
