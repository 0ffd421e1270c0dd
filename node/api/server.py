"""Start the gRPC server: the Node service, standard health checking and reflection."""

from __future__ import annotations

from collections.abc import Callable
from concurrent import futures
from typing import Any

import grpc
from google.protobuf import message_factory
from google.protobuf.message import DecodeError, Message
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from dcrm.node.api.servicer import NodeServicer
from dcrm.node.config import ApiConfig
from dcrm.v1 import node_pb2

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


def _decoding_handlers(servicer: NodeServicer) -> grpc.GenericRpcHandler:
    """The Node service with requests decoded inside the handler.

    grpc's own deserializer turns undecodable bytes into INTERNAL; here they get INVALID_ARGUMENT naming the
    message type, as every other bad input does.
    """
    service = node_pb2.DESCRIPTOR.services_by_name["Node"]
    handlers: dict[str, grpc.RpcMethodHandler[Any, Any]] = {}
    for method in service.methods:
        request_type = message_factory.GetMessageClass(method.input_type)
        behaviour = _decoding(getattr(servicer, method.name), request_type)
        make = grpc.unary_stream_rpc_method_handler if method.server_streaming else grpc.unary_unary_rpc_method_handler
        handlers[method.name] = make(behaviour, response_serializer=_serialize)
    return grpc.method_handlers_generic_handler(service.full_name, handlers)


def _serialize(message: Message) -> bytes:
    return message.SerializeToString()


def _decoding(implementation: Callable[[Any, grpc.ServicerContext], Any], request_type: type[Message]) -> Any:
    def behaviour(raw: bytes, context: grpc.ServicerContext) -> Any:
        request = request_type()
        try:
            request.ParseFromString(raw)
        except DecodeError as error:
            context.abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"request does not decode as {request_type.DESCRIPTOR.full_name}: {error}",
            )
        return implementation(request, context)

    return behaviour


def start_api_server(servicer: NodeServicer, config: ApiConfig) -> ApiServer:
    """Bind and start; returns once the server is serving, with the port it bound (config.port may be 0)."""
    options = [
        ("grpc.max_receive_message_length", config.max_message_bytes),
        ("grpc.max_send_message_length", config.max_message_bytes),
        ("grpc.so_reuseport", 0),
    ]
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=config.worker_threads), options=options)
    server.add_generic_rpc_handlers((_decoding_handlers(servicer),))
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
