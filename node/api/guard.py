"""The gRPC server interceptor in front of every service: client-certificate policy, per-client limits, metrics.

For each call, in order:

1. Access (`AccessPolicy`): with `api.require_client_cert = "writes"`, SubmitTransaction, SubmitBatch and
   SubmitAndWait need a verified client certificate; with `"all"`, every method does. dcrm.v1.Admin methods
   always need one when the node has a client CA (`api.client_ca`); without one, Admin serves loopback
   clients only. A missing certificate is UNAUTHENTICATED, a non-loopback admin caller PERMISSION_DENIED.
2. The client address's token bucket (`limits.peer_requests_per_second`, `limits.peer_burst`), then, for
   server streams, a stream slot (`limits.max_streams` per address, and half the worker threads in all, so
   streams never take every thread from unary calls). Refusals are RESOURCE_EXHAUSTED naming the limit.
3. The call runs; its method, status code and duration go to the metrics.

A "verified client certificate" is one the TLS handshake checked against `api.client_ca`: grpcio cannot
make a client certificate optional on one port (with `require_client_auth=False` it never asks for one),
so the node opens a second port, `api.mtls_port`, that requires one, and the policy looks at the
connection's auth context (`x509_pem_cert`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import grpc

from dcrm.node.api.rejections import Rejections
from dcrm.node.config import ApiConfig, LimitsConfig
from dcrm.node.limits import KeyedBuckets, StreamSlots
from dcrm.node.metrics import NodeMetrics

__all__ = [
    "ADMIN_SERVICE",
    "WRITE_METHODS",
    "AccessPolicy",
    "ApiGuard",
    "has_client_certificate",
    "is_loopback",
    "peer_address",
]

NODE_SERVICE = "dcrm.v1.Node"
ADMIN_SERVICE = "dcrm.v1.Admin"
WRITE_METHODS = frozenset(f"/{NODE_SERVICE}/{name}" for name in ("SubmitTransaction", "SubmitBatch", "SubmitAndWait"))

Behaviour = Callable[[Any, grpc.ServicerContext], Any]


def peer_address(peer: str) -> str:
    """The client's address without its port: "ipv4:10.0.0.7:53211" -> "ipv4:10.0.0.7"."""
    kind, _, rest = peer.partition(":")
    if kind == "ipv4":
        return f"{kind}:{rest.rpartition(':')[0] or rest}"
    if kind == "ipv6":
        return f"{kind}:{rest.rpartition(']')[0]}]" if rest.startswith("[") else peer
    return peer


def is_loopback(peer: str) -> bool:
    """True for 127.0.0.0/8, ::1, IPv4-mapped loopback, and Unix sockets."""
    return peer.startswith(("ipv4:127.", "ipv6:[::1]", "ipv6:[::ffff:127.", "unix:"))


def has_client_certificate(context: grpc.ServicerContext) -> bool:
    """True when the connection presented a client certificate that the TLS handshake verified."""
    return bool(context.auth_context().get("x509_pem_cert"))


@dataclass(frozen=True)
class Denial:
    code: grpc.StatusCode
    reason: str
    message: str


class AccessPolicy:
    """Which calls need a verified client certificate, or a loopback client (see the module docstring)."""

    def __init__(self, config: ApiConfig) -> None:
        self.tls = config.tls_cert is not None
        self.client_ca = config.client_ca is not None
        self.policy = config.require_client_cert

    def check(self, method: str, context: grpc.ServicerContext) -> Denial | None:
        name = method.rsplit("/", 1)[-1]
        if method.startswith(f"/{ADMIN_SERVICE}/"):
            if self.client_ca:
                if has_client_certificate(context):
                    return None
                return Denial(
                    grpc.StatusCode.UNAUTHENTICATED,
                    "client_cert",
                    f"{name} is an admin method: it needs a client certificate signed by the node's client CA "
                    "(api.client_ca); connect to the node's mutual-TLS port (api.mtls_port) with one",
                )
            if is_loopback(context.peer()):
                return None
            return Denial(
                grpc.StatusCode.PERMISSION_DENIED,
                "admin_not_loopback",
                f"{name} is an admin method, served only to clients on the node's own host while the node has "
                "no client CA (api.client_ca)",
            )
        needs_certificate = self.policy == "all" or (self.policy == "writes" and method in WRITE_METHODS)
        if needs_certificate and not has_client_certificate(context):
            return Denial(
                grpc.StatusCode.UNAUTHENTICATED,
                "client_cert",
                f'{name} needs a verified client certificate (api.require_client_cert = "{self.policy}"); '
                "connect to the node's mutual-TLS port (api.mtls_port) with a certificate signed by its client CA",
            )
        return None


class ApiGuard(grpc.ServerInterceptor):
    """Wraps every unary and server-streaming handler with access checks, limits and metrics."""

    def __init__(
        self,
        api: ApiConfig,
        limits: LimitsConfig,
        rejections: Rejections,
        metrics: NodeMetrics | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.access = AccessPolicy(api)
        self.requests: KeyedBuckets[str] = KeyedBuckets(limits.peer_requests_per_second, limits.peer_burst, clock=clock)
        self.streams: StreamSlots[str] = StreamSlots(limits.max_streams, max(1, api.worker_threads // 2))
        self.rejections = rejections
        self.metrics = metrics
        self._clock = clock

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler[Any, Any] | None],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any] | None:
        handler = continuation(handler_call_details)
        if handler is None or handler.request_streaming:
            return handler
        method: str = handler_call_details.method
        if handler.response_streaming:
            assert handler.unary_stream is not None
            return grpc.unary_stream_rpc_method_handler(
                self._stream(method, handler.unary_stream),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        assert handler.unary_unary is not None
        return grpc.unary_unary_rpc_method_handler(
            self._unary(method, handler.unary_unary),
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )

    # -- checks ------------------------------------------------------------------------------------

    def _refuse(self, context: grpc.ServicerContext, method: str, denial: Denial) -> None:
        self.rejections.record(denial.reason, denial.message, method=method, peer=context.peer())
        context.abort(denial.code, denial.message)

    def _admit(self, method: str, context: grpc.ServicerContext) -> str:
        """Access and the client's rate; aborts the call when refused. Returns the client's address."""
        denial = self.access.check(method, context)
        if denial is not None:
            self._refuse(context, method, denial)
        address = peer_address(context.peer())
        if not self.requests.take(address):
            self._refuse(
                context,
                method,
                Denial(
                    grpc.StatusCode.RESOURCE_EXHAUSTED,
                    "peer_rate",
                    f"client {address} exceeds limits.peer_requests_per_second "
                    f"({self.requests.rate:g} calls/s, burst {self.requests.burst:g}); retry later",
                ),
            )
        return address

    def _finish(self, method: str, context: grpc.ServicerContext, started: float, failed: bool) -> None:
        if self.metrics is None:
            return
        code = context.code()  # type: ignore[attr-defined]
        if isinstance(code, grpc.StatusCode):
            name = code.name
        elif not failed:
            name = "OK"
        else:
            name = "UNKNOWN" if context.is_active() else "CANCELLED"
        self.metrics.call_finished(method.lstrip("/"), name, self._clock() - started)

    # -- wrappers ----------------------------------------------------------------------------------

    def _unary(self, method: str, behaviour: Behaviour) -> Behaviour:
        def guarded(request: Any, context: grpc.ServicerContext) -> Any:
            started = self._clock()
            failed = True
            try:
                self._admit(method, context)
                response = behaviour(request, context)
                failed = False
                return response
            finally:
                self._finish(method, context, started, failed)

        return guarded

    def _stream(self, method: str, behaviour: Behaviour) -> Behaviour:
        def guarded(request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
            started = self._clock()
            failed = True
            acquired = False
            address = ""
            try:
                address = self._admit(method, context)
                bound = self.streams.acquire(address)
                if bound is not None:
                    self._refuse(context, method, self._stream_denial(address, bound))
                acquired = True
                if self.metrics is not None:
                    self.metrics.grpc_active_streams.inc()
                yield from behaviour(request, context)
                failed = False
            finally:
                if acquired:
                    self.streams.release(address)
                    if self.metrics is not None:
                        self.metrics.grpc_active_streams.dec()
                self._finish(method, context, started, failed)

        return guarded

    def _stream_denial(self, address: str, bound: str) -> Denial:
        if bound == "per_key":
            message = (
                f"client {address} already has {self.streams.open_for(address)} open streams, "
                f"at most limits.max_streams = {self.streams.per_key}; close one first"
            )
            return Denial(grpc.StatusCode.RESOURCE_EXHAUSTED, "peer_streams", message)
        message = (
            f"the node serves at most {self.streams.total} streams at once (half of api.worker_threads); retry later"
        )
        return Denial(grpc.StatusCode.RESOURCE_EXHAUSTED, "node_streams", message)
