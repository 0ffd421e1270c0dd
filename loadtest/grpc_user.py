"""Locust over gRPC: a call wrapper that reports every call to locust, and a User base class holding one.

Importing this module imports locust (which patches the standard library for gevent) and then switches
grpcio to gevent. Import it before any gRPC channel exists, or calls from locust's greenlets run one at a
time.

Every call made through `GrpcCalls.call` fires `events.request` with request_type "grpc", the given name,
the response time in milliseconds and, on failure, an exception whose text is the failure's reason: the
status code of a rejection at admission ("FAILED_PRECONDITION: nonce <n> ...") or the module error of a
committed transaction that failed ("tokens.InsufficientBalance: ..."). Hashes and numbers in messages are
replaced by placeholders, so each kind of failure is one row of locust's failure table.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import Any, TypeVar

import locust  # first: it patches the standard library for gevent, which grpcio's gevent mode needs
from grpc.experimental import gevent as grpc_gevent

from dcrm.client import DcrmError
from loadtest.reasons import describe_error

__all__ = ["REQUEST_TYPE", "CallFailed", "GrpcCalls", "GrpcUser", "init_gevent_once"]

REQUEST_TYPE = "grpc"

T = TypeVar("T")


@functools.cache
def init_gevent_once() -> None:
    """Switch grpcio to gevent (once per process)."""
    grpc_gevent.init_gevent()


init_gevent_once()


class CallFailed(Exception):
    """A call failed; the message is its reason. repr() is the reason alone, so locust's failure table (which
    shows repr) reads "PERMISSION_DENIED: ..." rather than "CallFailed('PERMISSION_DENIED: ...')"."""

    def __repr__(self) -> str:
        return str(self)


class GrpcCalls:
    """Times SDK calls and fires locust's `events.request` for each (`events` is `environment.events`)."""

    def __init__(self, events: Any, request_type: str = REQUEST_TYPE) -> None:
        self._events = events
        self._request_type = request_type

    def call(self, name: str, operation: Callable[[], T]) -> T | None:
        """Run `operation`; fire a request event named `name`; return its result, or None when it failed.

        A failure is any DcrmError (a rejection, a failed receipt, an unreachable node, a broken answer);
        other exceptions are bugs and propagate to locust.
        """
        started = time.perf_counter()
        try:
            result = operation()
        except DcrmError as error:
            self.fire(name, started, CallFailed(describe_error(error)))
            return None
        self.fire(name, started, None)
        return result

    def fire(self, name: str, started: float, exception: Exception | None) -> None:
        """Report one call that began at `started` (time.perf_counter()) and ends now."""
        self._events.request.fire(
            request_type=self._request_type,
            name=name,
            response_time=(time.perf_counter() - started) * 1000,
            response_length=0,
            exception=exception,
            context={},
        )


class GrpcUser(locust.User):
    """A locust user whose calls go through `self.calls` (a GrpcCalls on this environment's events)."""

    abstract = True

    def __init__(self, environment: Any) -> None:
        super().__init__(environment)
        self.calls = GrpcCalls(environment.events)
