"""What both transports do on their delivery threads: find the handler, call it, count the outcome."""

from __future__ import annotations

import dataclasses
import logging
import threading

from dcrm.node.network.framing import ResponseStatus
from dcrm.node.network.transport import (
    GossipHandler,
    MessageHandler,
    PeerEventHandler,
    PeerId,
    RequestFailed,
    RequestHandler,
    TransportStats,
    check_tag,
)

__all__ = ["Counters", "Handlers", "outcome_of_response"]

logger = logging.getLogger("dcrm.node.network")

_STAT_NAMES = frozenset(field.name for field in dataclasses.fields(TransportStats))


class Counters:
    """The mutable counters behind `TransportStats`; safe to bump from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values = dict.fromkeys(_STAT_NAMES, 0)

    def add(self, name: str, amount: int = 1) -> None:
        with self._lock:
            self._values[name] += amount  # KeyError on a misspelt name: a bug, not a silent no-op

    def snapshot(self, **overrides: int) -> TransportStats:
        with self._lock:
            values = dict(self._values)
        values.update(overrides)
        return TransportStats(**values)


class Handlers:
    """Handlers by channel, protocol and topic. Registration may happen on any thread at any time; delivery
    threads look handlers up when they deliver, so a late registration applies to what arrives after it."""

    def __init__(self, counters: Counters) -> None:
        self._counters = counters
        self._lock = threading.Lock()
        self._messages: dict[str, MessageHandler] = {}
        self._requests: dict[str, RequestHandler] = {}
        self._topics: dict[str, GossipHandler] = {}
        self._peer_events: list[PeerEventHandler] = []

    def on_message(self, channel: str, handler: MessageHandler) -> None:
        check_tag("channel", channel)
        with self._lock:
            self._messages[channel] = handler

    def on_request(self, protocol: str, handler: RequestHandler) -> None:
        check_tag("protocol", protocol)
        with self._lock:
            self._requests[protocol] = handler

    def on_topic(self, topic: str, handler: GossipHandler) -> None:
        check_tag("topic", topic)
        with self._lock:
            self._topics[topic] = handler

    def on_peer_event(self, handler: PeerEventHandler) -> None:
        with self._lock:
            self._peer_events.append(handler)

    def topics(self) -> list[str]:
        with self._lock:
            return list(self._topics)

    def deliver_message(self, peer: PeerId, channel: str, payload: bytes) -> None:
        with self._lock:
            handler = self._messages.get(channel)
        self._counters.add("messages_received")
        if handler is None:
            self._counters.add("unhandled")
            logger.warning("message from %s on channel %r, which has no handler: dropped", peer, channel)
            return
        self._call(handler, peer, payload, f"message handler for channel {channel!r}")

    def deliver_gossip(self, origin: PeerId, topic: str, payload: bytes) -> None:
        with self._lock:
            handler = self._topics.get(topic)
        self._counters.add("gossip_received")
        if handler is None:
            self._counters.add("unhandled")
            logger.warning("gossip from %s on topic %r, which has no handler: dropped", origin, topic)
            return
        self._call(handler, origin, payload, f"gossip handler for topic {topic!r}")

    def deliver_peer_event(self, peer: PeerId, connected: bool) -> None:
        with self._lock:
            handlers = list(self._peer_events)
        for handler in handlers:
            try:
                handler(peer, connected)
            except Exception:
                self._counters.add("handler_errors")
                logger.exception("peer event handler failed for %s (connected=%s)", peer, connected)

    def serve_request(
        self, peer: PeerId, protocol: str, payload: bytes, response_limit: int
    ) -> tuple[ResponseStatus, bytes]:
        """Run the request handler; the status and payload of the response to send back."""
        with self._lock:
            handler = self._requests.get(protocol)
        if handler is None:
            self._counters.add("unhandled")
            logger.warning("request from %s for protocol %r, which has no handler", peer, protocol)
            return ResponseStatus.NO_HANDLER, f"no handler for protocol {protocol!r}".encode()
        try:
            response = handler(peer, payload)
        except Exception as error:
            self._counters.add("handler_errors")
            logger.exception("request handler for protocol %r failed (request from %s)", protocol, peer)
            return ResponseStatus.HANDLER_FAILED, f"{type(error).__name__}: {error}".encode()[:4096]
        if len(response) > response_limit:
            self._counters.add("handler_errors")
            logger.error(
                "request handler for protocol %r returned %d bytes, over the limit of %d: not sent",
                protocol,
                len(response),
                response_limit,
            )
            return ResponseStatus.TOO_LARGE, f"response of {len(response)} bytes exceeds {response_limit}".encode()
        self._counters.add("requests_served")
        return ResponseStatus.OK, response

    def _call(self, handler: MessageHandler | GossipHandler, peer: PeerId, payload: bytes, what: str) -> None:
        try:
            handler(peer, payload)
        except Exception:
            self._counters.add("handler_errors")
            logger.exception("%s failed on a payload from %s", what, peer)


def outcome_of_response(peer: PeerId, protocol: str, status: ResponseStatus, payload: bytes) -> bytes:
    """The response payload, or RequestFailed carrying the peer's error text."""
    if status == ResponseStatus.OK:
        return payload
    reason = payload.decode("utf-8", "replace")
    raise RequestFailed(f"request {protocol!r} to {peer} failed ({status.name.lower()}): {reason}")
