"""The network seam between a validator's consensus driver and the other validators.

A `Transport` moves opaque payloads between peers named by `PeerId`, the libp2p peer id of their network key:

- `send` / `broadcast`: direct messages on a channel (a short tag such as "consensus"), reliable and in order per
  peer while the connection lasts. A message queued when the connection drops is lost: consensus retransmits.
- `publish` / `subscribe`: bulk bundles (transaction bundles, proposals) gossiped on a topic. Never one message
  per transaction, and nothing safety- or liveness-critical may depend on a gossip message arriving.
- `request`: request/response with a deadline (catch-up: fetch blocks with their certificates).

Handlers registered with `on_message`, `on_request`, `subscribe` and `on_peer_event` never run on the caller's
thread nor inside the network's event loop: each transport delivers on its own threads, one for messages, gossip
and peer events (in arrival order), one for requests (so serving catch-up never stalls consensus messages).
A handler that blocks holds back further deliveries, and senders then wait for room (back-pressure).

Every method may be called from any thread. `memory.MemoryTransport` is the in-memory twin for tests and
simulation; `libp2p_transport.Libp2pTransport` is the real one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import NewType, Protocol

__all__ = [
    "MAX_TAG_BYTES",
    "BoundAddress",
    "GossipHandler",
    "MessageHandler",
    "MessageTooLarge",
    "PeerEventHandler",
    "PeerId",
    "PeerNotConnected",
    "RequestFailed",
    "RequestHandler",
    "Transport",
    "TransportClosed",
    "TransportError",
    "TransportStats",
    "TransportTimeout",
    "check_tag",
]

PeerId = NewType("PeerId", str)
"""A libp2p peer id in its base58 text form (`12D3KooW...` for an ed25519 key)."""

MAX_TAG_BYTES = 64
"""Longest channel, protocol or topic name, in UTF-8 bytes: tags travel with every frame."""

MessageHandler = Callable[[PeerId, bytes], None]
"""Called with (sender, payload) for each direct message on the channel it was registered for."""

RequestHandler = Callable[[PeerId, bytes], bytes]
"""Called with (requester, payload); returns the response. An exception becomes a `RequestFailed` at the
requester, with the exception's text."""

GossipHandler = Callable[[PeerId, bytes], None]
"""Called with (publisher, payload) for each gossip message on the topic; the publisher is authenticated by
its signature, whichever peer relayed the message."""

PeerEventHandler = Callable[[PeerId, bool], None]
"""Called with (peer, True) when `send` to that peer becomes possible and (peer, False) when it stops."""


class TransportError(Exception):
    """Base of the errors a transport raises."""


class TransportClosed(TransportError):
    """The transport is not started, or has stopped."""


class PeerNotConnected(TransportError):
    """The peer is not connected now (never was, went away, or is not in the allowlist)."""

    def __init__(self, peer: PeerId) -> None:
        super().__init__(f"peer {peer} is not connected")
        self.peer = peer


class MessageTooLarge(TransportError, ValueError):
    """The payload exceeds the configured limit; nothing was sent."""

    def __init__(self, what: str, size: int, limit: int) -> None:
        super().__init__(f"{what} payload of {size} bytes exceeds the limit of {limit} bytes")
        self.size = size
        self.limit = limit


class TransportTimeout(TransportError, TimeoutError):
    """A deadline passed: no room to queue the message (the peer is not keeping up), or no response in time."""


class RequestFailed(TransportError):
    """The peer answered a request with an error: no handler for the protocol, or the handler raised."""


@dataclass(frozen=True, slots=True)
class BoundAddress:
    """Where a started transport listens. A memory transport reports host "memory" and a unique port."""

    host: str
    port: int
    peer_id: PeerId

    @property
    def multiaddr(self) -> str:
        return f"/ip4/{self.host}/tcp/{self.port}/p2p/{self.peer_id}"


@dataclass(frozen=True, slots=True)
class TransportStats:
    """Counters since start. Every message the transport had to give up on is counted in a `*_dropped` field
    (and logged): nothing is lost silently."""

    messages_sent: int = 0
    messages_received: int = 0
    messages_dropped: int = 0  # queued for a peer whose connection then ended
    requests_sent: int = 0
    requests_served: int = 0
    gossip_published: int = 0
    gossip_received: int = 0
    gossip_dropped: int = 0  # arrived while the gossip delivery queue was full
    gossip_rejected: int = 0  # published or relayed by a peer outside the allowlist
    library_dropped: int = 0  # drops py-libp2p logged in this process (all transports in it together)
    connections_refused: int = 0  # peers outside the allowlist that tried to connect
    connections_opened: int = 0  # sessions established (a reconnect counts again)
    peers_banned: int = 0  # `disconnect` calls: peers sent away for a cooling-off period
    banned_refused: int = 0  # connections refused because the peer is in its cooling-off period
    unhandled: int = 0  # deliveries for a channel or topic with no handler
    handler_errors: int = 0  # handlers that raised


class Transport(Protocol):
    """What a consensus driver needs from the network. See the module docstring for threads and ordering."""

    @property
    def peer_id(self) -> PeerId:
        """This node's own peer id."""
        ...

    def on_message(self, channel: str, handler: MessageHandler) -> None:
        """Deliver direct messages on `channel` to `handler` (replacing an earlier one)."""
        ...

    def on_request(self, protocol: str, handler: RequestHandler) -> None:
        """Answer requests for `protocol` with `handler` (replacing an earlier one)."""
        ...

    def subscribe(self, topic: str, handler: GossipHandler) -> None:
        """Receive gossip on `topic` (before or after `start`)."""
        ...

    def on_peer_event(self, handler: PeerEventHandler) -> None:
        """Add a handler for connect and disconnect events."""
        ...

    def start(self, timeout: float = 30.0) -> BoundAddress:
        """Start listening and connecting to the allowed peers; returns once ready, with the bound address.

        Raises TransportError when the transport cannot start within `timeout` seconds.
        """
        ...

    def stop(self) -> None:
        """Close every connection and stop the delivery threads; idempotent."""
        ...

    def send(self, peer: PeerId, channel: str, payload: bytes, timeout: float | None = None) -> None:
        """Queue `payload` for `peer`, in order after earlier sends to it. Waits while the peer's queue is full.

        Raises PeerNotConnected, MessageTooLarge, TransportTimeout (no room before `timeout`, default the
        configured send timeout), TransportClosed.
        """
        ...

    def broadcast(self, channel: str, payload: bytes, timeout: float | None = None) -> frozenset[PeerId]:
        """Send to every connected allowed peer; returns the peers it was queued for. A peer whose queue stays
        full past `timeout` is skipped (and counted in `messages_dropped`) rather than holding up the rest.

        Raises MessageTooLarge, TransportClosed.
        """
        ...

    def publish(self, topic: str, payload: bytes, timeout: float | None = None) -> None:
        """Gossip `payload` to the topic's subscribers. Waits while the outbound gossip queues are full.

        Raises MessageTooLarge, TransportTimeout, TransportClosed.
        """
        ...

    def request(self, peer: PeerId, protocol: str, payload: bytes, timeout: float) -> bytes:
        """Send a request and wait for its response.

        Raises PeerNotConnected (also when the connection ends before the answer), MessageTooLarge,
        TransportTimeout, RequestFailed, TransportClosed.
        """
        ...

    def disconnect(self, peer: PeerId, seconds: float, reason: str) -> None:
        """Close the connection to `peer` and refuse it, both ways, for `seconds` (a misbehaving peer's
        cooling-off); afterwards it may connect again. Logged at WARNING with `reason`, counted in
        `peers_banned`. A second call while the period runs extends it. A peer outside the allowlist is
        refused anyway: nothing to do.
        """
        ...

    def peers(self) -> frozenset[PeerId]:
        """The allowed peers that `send` can reach now."""
        ...

    def topic_peers(self, topic: str) -> frozenset[PeerId]:
        """The connected peers known to be subscribed to `topic`."""
        ...

    def stats(self) -> TransportStats:
        """A snapshot of the counters."""
        ...


def check_tag(kind: str, tag: str) -> bytes:
    """The UTF-8 bytes of a channel, protocol or topic name. Raises ValueError when empty or too long."""
    encoded = tag.encode("utf-8")
    if not 0 < len(encoded) <= MAX_TAG_BYTES:
        raise ValueError(f"{kind} name must be 1 to {MAX_TAG_BYTES} UTF-8 bytes, got {len(encoded)}: {tag!r}")
    return encoded
