"""Start the gRPC server: the Node service, the Admin service, standard health checking and reflection.

Plaintext by default; with `api.tls_cert`/`api.tls_key` the port serves TLS. With `api.client_ca` as well,
the main port asks for client certificates only when `api.require_client_cert = "all"`; otherwise a second
port, `api.mtls_port`, requires one (grpcio cannot make a client certificate optional on one port), and
node/api/guard.py decides per method whether the connection's verified certificate is needed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent import futures
from typing import Any

import grpc
from google.protobuf import message_factory
from google.protobuf.message import DecodeError, Message
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from dcrm.node.api.servicer import NodeServicer
from dcrm.node.config import ApiConfig
from dcrm.v1 import admin_pb2, admin_pb2_grpc, node_pb2

__all__ = ["ApiServer", "server_credentials", "start_api_server"]

SERVICE_NAME = node_pb2.DESCRIPTOR.services_by_name["Node"].full_name
ADMIN_SERVICE_NAME = admin_pb2.DESCRIPTOR.services_by_name["Admin"].full_name


class ApiServer:
    def __init__(
        self, server: grpc.Server, port: int, health_servicer: health.HealthServicer, mtls_port: int | None = None
    ) -> None:
        self.server = server
        self.port = port
        self.mtls_port = mtls_port  # the port that requires a client certificate, when one is open
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


def server_credentials(config: ApiConfig, *, require_client_auth: bool) -> grpc.ServerCredentials:
    """TLS credentials from the configured PEM files. Raises OSError when one cannot be read."""
    assert config.tls_cert is not None
    assert config.tls_key is not None
    pair = (config.tls_key.read_bytes(), config.tls_cert.read_bytes())
    root = config.client_ca.read_bytes() if config.client_ca is not None else None
    return grpc.ssl_server_credentials([pair], root_certificates=root, require_client_auth=require_client_auth)


def _bind(server: grpc.Server, address: str, credentials: grpc.ServerCredentials | None) -> int:
    port = server.add_insecure_port(address) if credentials is None else server.add_secure_port(address, credentials)
    if port == 0:
        raise OSError(f"could not bind the gRPC API to {address}")
    return port


def start_api_server(
    servicer: NodeServicer,
    config: ApiConfig,
    *,
    admin: admin_pb2_grpc.AdminServicer | None = None,
    interceptors: Sequence[grpc.ServerInterceptor] = (),
    max_concurrent_calls: int | None = None,
) -> ApiServer:
    """Bind and start; returns once the server is serving, with the port it bound (config.port may be 0).

    `max_concurrent_calls` bounds the calls running or waiting for a worker thread (beyond it grpc refuses
    with RESOURCE_EXHAUSTED), so queued calls cannot grow memory without bound.
    """
    options = [
        ("grpc.max_receive_message_length", config.max_message_bytes),
        ("grpc.max_send_message_length", config.max_message_bytes),
        ("grpc.so_reuseport", 0),
    ]
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=config.worker_threads),
        options=options,
        interceptors=list(interceptors),
        maximum_concurrent_rpcs=max_concurrent_calls,
    )
    server.add_generic_rpc_handlers((_decoding_handlers(servicer),))
    services = [SERVICE_NAME, reflection.SERVICE_NAME, health.SERVICE_NAME]
    if admin is not None:
        admin_pb2_grpc.add_AdminServicer_to_server(admin, server)
        services.append(ADMIN_SERVICE_NAME)
    health_servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection(services, server)
    mtls_port: int | None = None
    if config.tls_cert is None:
        port = _bind(server, f"{config.host}:{config.port}", None)
    else:
        require_all = config.client_ca is not None and config.require_client_cert == "all"
        port = _bind(
            server, f"{config.host}:{config.port}", server_credentials(config, require_client_auth=require_all)
        )
        if config.client_ca is not None and not require_all:
            mutual = server_credentials(config, require_client_auth=True)
            mtls_port = _bind(server, f"{config.host}:{config.mtls_port}", mutual)
    server.start()
    health_servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    health_servicer.set(SERVICE_NAME, health_pb2.HealthCheckResponse.SERVING)
    return ApiServer(server, port, health_servicer, mtls_port)
