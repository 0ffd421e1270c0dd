"""The in-memory twin of the libp2p transport, for tests and simulation.

A `MemoryNetwork` is a switchboard in one process. Two started transports are connected when each lists the
other in its allowlist and the link between them is not cut (`cut` / `heal`); anything else is refused and
logged, as libp2p refuses a peer outside the allowlist. Behaviour matches `Libp2pTransport` where a driver can
see it: handlers run on each transport's own delivery threads, messages from one peer arrive in order, a sender
waits when the receiver holds `message_window + send_queue` undelivered messages from it, gossip reaches connected
subscribers only and is dropped (and counted) when a receiver's gossip queue is full, requests fail with
PeerNotConnected when the link goes down before the answer. Restart a node by stopping its transport and
starting a new one with the same peer id. `disconnect` takes the link down and keeps it down, both ways, until
the cooling-off period ends (a timer thread brings it back); a banned peer that starts meanwhile is refused.
"""

from __future__ import annotations

import concurrent.futures
import itertools
import logging
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from dcrm.node.network.config import GOSSIP_LIBRARY_LIMIT
from dcrm.node.network.dispatch import Counters, Handlers, outcome_of_response
from dcrm.node.network.framing import ResponseStatus
from dcrm.node.network.inbox import Inbox
from dcrm.node.network.transport import (
    BoundAddress,
    GossipHandler,
    MessageHandler,
    MessageTooLarge,
    PeerEventHandler,
    PeerId,
    PeerNotConnected,
    RequestHandler,
    TransportClosed,
    TransportStats,
    TransportTimeout,
    check_tag,
)

__all__ = ["MemoryNetwork", "MemoryTransport"]

logger = logging.getLogger(__name__)


@dataclass
class _Link:
    """One direction of a connection, sender to receiver, for as long as it lasts."""

    receiver: MemoryTransport
    credits: threading.Semaphore
    request_slots: threading.Semaphore
    pending: set[concurrent.futures.Future[tuple[ResponseStatus, bytes]]] = field(default_factory=set)


class MemoryNetwork:
    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._running: dict[PeerId, MemoryTransport] = {}
        self._cut: set[frozenset[PeerId]] = set()
        self._refused: set[tuple[PeerId, PeerId]] = set()
        self._bans: dict[tuple[PeerId, PeerId], float] = {}  # (who banned, whom) -> end, time.monotonic()
        self._ports = itertools.count(1)

    def cut(self, a: PeerId, b: PeerId) -> None:
        """Break the link between two peers (both directions) until `heal`."""
        with self._lock:
            self._cut.add(frozenset((a, b)))
            self._refresh()

    def heal(self, a: PeerId, b: PeerId) -> None:
        with self._lock:
            self._cut.discard(frozenset((a, b)))
            self._refresh()

    def _attach(self, transport: MemoryTransport) -> int:
        with self._lock:
            if transport.peer_id in self._running:
                raise RuntimeError(f"peer {transport.peer_id} is already running on this network")
            self._running[transport.peer_id] = transport
            now = time.monotonic()
            for (by, banned), end in self._bans.items():  # a banned peer coming back is an attempt to connect
                if banned == transport.peer_id and end > now and by in self._running:
                    self._running[by]._refuse_banned(banned)
            self._refresh()
            return next(self._ports)

    def _detach(self, transport: MemoryTransport) -> None:
        with self._lock:
            if self._running.get(transport.peer_id) is transport:
                del self._running[transport.peer_id]
                self._refresh()

    def _ban(self, by: PeerId, peer: PeerId, seconds: float) -> None:
        with self._lock:
            end = max(self._bans.get((by, peer), 0.0), time.monotonic() + seconds)
            self._bans[(by, peer)] = end
            self._refresh()
        self._refresh_after(seconds)

    def _refresh_after(self, seconds: float) -> None:
        timer = threading.Timer(seconds, self._ban_over)
        timer.daemon = True
        timer.start()

    def _ban_over(self) -> None:
        with self._lock:
            self._refresh()
            now = time.monotonic()
            remaining = [end - now for end in self._bans.values()]
        if remaining:  # a ban was extended, or the timer woke a moment early
            self._refresh_after(min(remaining))

    def _banned(self, a: PeerId, b: PeerId, now: float) -> bool:
        return self._bans.get((a, b), 0.0) > now or self._bans.get((b, a), 0.0) > now

    def _refresh(self) -> None:
        """Connect the pairs that may talk and disconnect the others; called with the lock held."""
        now = time.monotonic()
        self._bans = {pair: end for pair, end in self._bans.items() if end > now}
        for transport in self._running.values():
            for peer in transport.allowed:
                other = self._running.get(peer)
                if (
                    other is None
                    or frozenset((transport.peer_id, peer)) in self._cut
                    or self._banned(transport.peer_id, peer, now)
                ):
                    transport._link_down(peer)
                elif transport.peer_id not in other.allowed:
                    if (peer, transport.peer_id) not in self._refused:  # log once per attempt, not per refresh
                        self._refused.add((peer, transport.peer_id))
                        other._refuse(transport.peer_id)
                    transport._link_down(peer)
                else:
                    transport._link_up(other)
        self._refused = {pair for pair in self._refused if pair[0] in self._running and pair[1] in self._running}


class MemoryTransport:
    """Implements `Transport` on a `MemoryNetwork`."""

    def __init__(
        self,
        network: MemoryNetwork,
        peer_id: PeerId,
        allowed: Iterable[PeerId],
        *,
        max_message_bytes: int = 16 << 20,
        max_gossip_bytes: int = GOSSIP_LIBRARY_LIMIT - 64 * 1024,
        message_window: int = 256,
        send_queue: int = 256,
        request_window: int = 16,
        gossip_delivery_queue: int = 256,
        send_timeout: float = 10.0,
        stop_timeout: float = 5.0,
    ) -> None:
        self._network = network
        self._peer_id = peer_id
        self.allowed = frozenset(allowed) - {peer_id}
        self._max_message_bytes = max_message_bytes
        self._max_gossip_bytes = max_gossip_bytes
        self._in_flight = message_window + send_queue  # what libp2p holds: the receiver's window + our queue
        self._request_window = request_window
        self._gossip_queue = gossip_delivery_queue
        self._send_timeout = send_timeout
        self._stop_timeout = stop_timeout
        self._counters = Counters()
        self._handlers = Handlers(self._counters)
        self._lock = threading.Lock()
        self._links: dict[PeerId, _Link] = {}
        self._gossip_pending = 0
        peers = max(len(self.allowed), 1)
        self._messages = Inbox(f"net-deliver-{peer_id[-6:]}", peers * (self._in_flight + 4) + gossip_delivery_queue)
        self._requests = Inbox(f"net-serve-{peer_id[-6:]}", peers * request_window)
        self._started = False
        self._stopped = False

    @property
    def peer_id(self) -> PeerId:
        return self._peer_id

    @property
    def network(self) -> MemoryNetwork:
        """The switchboard this transport is on: tests cut and heal its links."""
        return self._network

    def on_message(self, channel: str, handler: MessageHandler) -> None:
        self._handlers.on_message(channel, handler)

    def on_request(self, protocol: str, handler: RequestHandler) -> None:
        self._handlers.on_request(protocol, handler)

    def subscribe(self, topic: str, handler: GossipHandler) -> None:
        self._handlers.on_topic(topic, handler)

    def on_peer_event(self, handler: PeerEventHandler) -> None:
        self._handlers.on_peer_event(handler)

    def start(self, timeout: float = 30.0) -> BoundAddress:
        if self._started:
            raise TransportClosed("a transport starts once; make a new one to restart a node")
        self._started = True
        self._messages.start()
        self._requests.start()
        port = self._network._attach(self)
        return BoundAddress("memory", port, self._peer_id)

    def stop(self) -> None:
        if not self._started or self._stopped:
            return
        self._stopped = True
        self._network._detach(self)
        for peer in self.peers():  # as libp2p does, tell our own handlers the links are gone
            self._link_down(peer)
        self._messages.stop(self._stop_timeout)
        self._requests.stop(self._stop_timeout)

    def send(self, peer: PeerId, channel: str, payload: bytes, timeout: float | None = None) -> None:
        check_tag("channel", channel)
        self._check_size("message", payload, self._max_message_bytes)
        link = self._link(peer)
        if not link.credits.acquire(timeout=self._send_timeout if timeout is None else timeout):
            raise TransportTimeout(f"peer {peer} has {self._in_flight} messages from us undelivered")
        receiver = link.receiver

        def deliver() -> None:
            try:
                receiver._handlers.deliver_message(self._peer_id, channel, payload)
            finally:
                link.credits.release()

        if not receiver._messages.offer(deliver):
            link.credits.release()
            self._counters.add("messages_dropped")
            logger.error("message to %s dropped: its delivery queue is stopped or full", peer)
            return
        self._counters.add("messages_sent")

    def broadcast(self, channel: str, payload: bytes, timeout: float | None = None) -> frozenset[PeerId]:
        check_tag("channel", channel)
        self._check_size("message", payload, self._max_message_bytes)
        deadline = time.monotonic() + (self._send_timeout if timeout is None else timeout)
        reached = set()
        for peer in self.peers():
            try:
                self.send(peer, channel, payload, timeout=max(deadline - time.monotonic(), 0.0))
            except (PeerNotConnected, TransportTimeout) as error:
                self._counters.add("messages_dropped")
                logger.warning("broadcast on %r skipped %s: %s", channel, peer, error)
                continue
            reached.add(peer)
        return frozenset(reached)

    def publish(self, topic: str, payload: bytes, timeout: float | None = None) -> None:
        check_tag("topic", topic)
        self._check_size("gossip", payload, self._max_gossip_bytes)
        self._require_running()
        for peer in self.topic_peers(topic):
            with self._lock:
                link = self._links.get(peer)
            if link is not None:
                link.receiver._receive_gossip(self._peer_id, topic, payload)
        self._counters.add("gossip_published")

    def request(self, peer: PeerId, protocol: str, payload: bytes, timeout: float) -> bytes:
        check_tag("protocol", protocol)
        self._check_size("request", payload, self._max_message_bytes)
        deadline = time.monotonic() + timeout
        link = self._link(peer)
        if not link.request_slots.acquire(timeout=timeout):
            raise TransportTimeout(f"peer {peer} is serving {self._request_window} requests from us already")
        receiver = link.receiver
        answer: concurrent.futures.Future[tuple[ResponseStatus, bytes]] = concurrent.futures.Future()

        def serve() -> None:
            try:
                result = receiver._handlers.serve_request(self._peer_id, protocol, payload, self._max_message_bytes)
                if not answer.done():
                    answer.set_result(result)
            finally:
                link.request_slots.release()

        with self._lock:
            link.pending.add(answer)
        try:
            if not receiver._requests.offer(serve):
                link.request_slots.release()
                raise PeerNotConnected(peer)
            self._counters.add("requests_sent")
            try:
                status, response = answer.result(timeout=max(deadline - time.monotonic(), 0.0))
            except concurrent.futures.TimeoutError:
                raise TransportTimeout(f"no response from {peer} to {protocol!r} within {timeout} s") from None
        finally:
            with self._lock:
                link.pending.discard(answer)
        return outcome_of_response(peer, protocol, status, response)

    def disconnect(self, peer: PeerId, seconds: float, reason: str) -> None:
        if not seconds > 0:
            raise ValueError(f"a cooling-off period must be positive, got {seconds}")
        if peer not in self.allowed:
            logger.debug("%s: disconnect %s ignored: not in the allowlist", self._peer_id, peer)
            return
        self._counters.add("peers_banned")
        logger.warning("%s disconnects %s for %.1f s: %s", self._peer_id, peer, seconds, reason)
        self._network._ban(self._peer_id, peer, seconds)

    def peers(self) -> frozenset[PeerId]:
        with self._lock:
            return frozenset(self._links)

    def topic_peers(self, topic: str) -> frozenset[PeerId]:
        with self._lock:
            links = dict(self._links)
        return frozenset(peer for peer, link in links.items() if topic in link.receiver._handlers.topics())

    def stats(self) -> TransportStats:
        return self._counters.snapshot()

    def _require_running(self) -> None:
        if not self._started or self._stopped:
            raise TransportClosed(f"transport {self._peer_id} is not running")

    def _check_size(self, what: str, payload: bytes, limit: int) -> None:
        if len(payload) > limit:
            raise MessageTooLarge(what, len(payload), limit)

    def _link(self, peer: PeerId) -> _Link:
        self._require_running()
        with self._lock:
            link = self._links.get(peer)
        if link is None:
            raise PeerNotConnected(peer)
        return link

    def _link_up(self, other: MemoryTransport) -> None:
        with self._lock:
            if other.peer_id in self._links:
                return
            self._links[other.peer_id] = _Link(
                other, threading.Semaphore(self._in_flight), threading.Semaphore(self._request_window)
            )
        self._counters.add("connections_opened")
        self._offer_peer_event(other.peer_id, True)

    def _link_down(self, peer: PeerId) -> None:
        with self._lock:
            link = self._links.pop(peer, None)
            pending = list(link.pending) if link is not None else []
        if link is None:
            return
        for answer in pending:
            if not answer.done():
                answer.set_exception(PeerNotConnected(peer))
        self._offer_peer_event(peer, False)

    def _offer_peer_event(self, peer: PeerId, connected: bool) -> None:
        if not self._messages.offer(lambda: self._handlers.deliver_peer_event(peer, connected)):
            logger.error(
                "%s: peer event (%s, connected=%s) not delivered: queue full or stopped", self._peer_id, peer, connected
            )

    def _refuse_banned(self, peer: PeerId) -> None:
        self._counters.add("banned_refused")
        logger.debug("%s refused a connection from %s: in its cooling-off period", self._peer_id, peer)

    def _refuse(self, peer: PeerId) -> None:
        self._counters.add("connections_refused")
        logger.warning("%s refused a connection from %s: not in the allowlist", self._peer_id, peer)

    def _receive_gossip(self, origin: PeerId, topic: str, payload: bytes) -> None:
        with self._lock:
            if self._gossip_pending >= self._gossip_queue:
                room = False
            else:
                self._gossip_pending += 1
                room = True
        if not room:
            self._counters.add("gossip_dropped")
            logger.warning(
                "gossip from %s on %r dropped: %d messages wait for the handler", origin, topic, self._gossip_queue
            )
            return

        def deliver() -> None:
            try:
                self._handlers.deliver_gossip(origin, topic, payload)
            finally:
                with self._lock:
                    self._gossip_pending -= 1

        if not self._messages.offer(deliver):
            with self._lock:
                self._gossip_pending -= 1
            self._counters.add("gossip_dropped")
