"""The validators' transport on py-libp2p 0.8.1. The only module of the node that imports trio or libp2p.

Threads
-------
- `net-loop-<id>` runs `trio.run`: the libp2p host, GossipSub and every network task of this transport.
- `net-deliver-<id>` runs message, gossip and peer-event handlers, in arrival order (an `Inbox`).
- `net-serve-<id>` runs request handlers (a second `Inbox`, so serving catch-up never delays consensus messages).
- Callers, on any thread: the `Transport` methods check and encode in the caller's thread. `send` and
  `broadcast` then take a place in the peer's outbox (a `threading.Condition`; they wait there while it is full)
  and hand the frame to trio with `TrioToken.run_sync_soon`, which keeps call order, so a sender does not wait
  for a round trip into trio. `request`, `publish` and `topic_peers` cross with `trio.from_thread.run(...,
  trio_token=...)` and block until done. None may be called from the trio thread; handlers never run on it.

Inbound data never waits inside trio for a consumer: a trio task offers a closure to an `Inbox` and goes on
reading. The sender cannot overrun the inbox because the receiver grants credit (CREDIT frames, see
`framing`) only for messages its handlers have finished; the inbox thread hands finished credits back to trio
in batches with `TrioToken.run_sync_soon` (non-blocking, thread-safe) and trio writes them to the sender. A slow
consumer therefore makes `send` wait in the sender's thread: back-pressure end to end, nothing dropped.

Direct streams: on each connection, each side opens one persistent stream per protocol (`/dcrm/msg/1.0.0` for
messages, `/dcrm/req/1.0.0` for requests) and only writes to it; a stream per message would cost 4x
(FIELD-NOTES). Credit for the peer's messages and answers to its requests travel on our own streams (`_Link`).
Queued frames are written in batches of up to 64 KiB. When any of the four streams fails, the connection is
closed and both sides start over on a new one, so credit never outlives the streams it was granted on.

py-libp2p traps configured away (FIELD-NOTES and the library source)
--------------------------------------------------------------------
- The default host also accepts plaintext, TLS and secio: the security options hold Noise only, wrapped in
  `_AllowlistSecurity`, which closes a connection whose authenticated peer id is not in the allowlist (logged,
  counted) before any muxer, stream or pubsub code sees it.
- Three connections per peer by default, and `connect` takes ~250 ms: `ConnectionConfig(max_connections_per_peer
  =1)`. To keep two peers from dialling each other at once, the lower peer id dials first; the higher one dials
  only after the peer has stayed unreachable for a grace period; a duplicate that still happens is closed.
- A py-libp2p stream is not full-duplex: a read waiting for data holds the stream's lock and blocks writes to
  it. Each side therefore writes only its own outbound streams and reads only the peer's.
- A failed dial puts the peer in a 60 s negative cache and later dials fail at once: unblocked before each dial.
- The swarm's auto-connector dials whatever the peerstore holds, toward 150 connections: stopped at start.
- GossipSub spam protection caps a topic at 10 msg/s and drops with a warning: disabled
  (`spam_protection_enabled=False`); so is IP-diversity eclipse protection (every validator may share a host in
  tests, and the allowlist already decides who is in the mesh).
- Per-peer pubsub outbound queues hold 32 RPCs and drop the rest: `publish` waits until every queue has room.
- A pubsub RPC over 1 MiB vanishes: payloads over `max_gossip_bytes` raise MessageTooLarge before publishing.
- Message ids are sender + seqno, the seqno counter starting at `int(time.time())`: a validator restarted within
  seconds reused ids its peers had seen and its gossip was dropped. The counter starts at `time.time_ns()`.
- A peer that reconnects before pubsub processed its disconnection keeps a dead pubsub stream and never
  hears our subscriptions: the stale stream is dropped when the new link comes up.
- Subscription channels hold 32 messages: a task drains each into the bounded gossip delivery queue at once;
  what does not fit is dropped and counted (gossip is best effort; consensus never relies on it).
- Drops the library still makes are logged by it; a logging filter counts them (`TransportStats.library_dropped`).

Cooling-off (`disconnect(peer, seconds, reason)`): the link and every connection to the peer are closed, the
security gate refuses the peer id after the handshake until the period ends (counted in `banned_refused`),
its gossip is rejected, and this side does not dial it meanwhile.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import ipaddress
import itertools
import logging
import threading
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Hashable
from typing import TypeVar, TypeVarTuple, Unpack

import multiaddr
import trio
from libp2p import new_host
from libp2p.abc import (
    IHost,
    IMuxedConn,
    INetConn,
    INetStream,
    INetwork,
    INotifee,
    IRawConnection,
    ISecureConn,
    ISecureTransport,
)
from libp2p.crypto.ed25519 import Ed25519PrivateKey
from libp2p.crypto.keys import KeyPair
from libp2p.crypto.x25519 import create_new_key_pair as new_x25519_key_pair
from libp2p.custom_types import TMuxerOptions, TProtocol
from libp2p.exceptions import BaseLibp2pError
from libp2p.network.config import ConnectionConfig
from libp2p.network.swarm import Swarm
from libp2p.peer.id import ID
from libp2p.peer.peerinfo import PeerInfo
from libp2p.pubsub.gossipsub import PROTOCOL_ID_V11, PROTOCOL_ID_V12, GossipSub
from libp2p.pubsub.pb import rpc_pb2
from libp2p.pubsub.pubsub import Pubsub
from libp2p.pubsub.rpc_queue import OutBoundQueueSize
from libp2p.pubsub.subscription import TrioSubscriptionAPI
from libp2p.rcmgr import Direction
from libp2p.security.exceptions import HandshakeFailure
from libp2p.security.noise.transport import PROTOCOL_ID as NOISE_PROTOCOL_ID
from libp2p.security.noise.transport import Transport as NoiseTransport
from libp2p.stream_muxer.mplex.mplex import MPLEX_PROTOCOL_ID, Mplex
from libp2p.stream_muxer.yamux.yamux import PROTOCOL_ID as YAMUX_PROTOCOL_ID
from libp2p.stream_muxer.yamux.yamux import Yamux
from libp2p.tools.anyio_service import background_trio_service

from dcrm.node.network.config import NetworkConfig, PeerEntry
from dcrm.node.network.dispatch import Counters, Handlers, outcome_of_response
from dcrm.node.network.framing import (
    FRAME_OVERHEAD,
    Credit,
    FrameDecoder,
    FrameError,
    Message,
    Request,
    Response,
    ResponseStatus,
    credit_frame,
    decode_body,
    message_frame,
    request_frame,
    response_frame,
)
from dcrm.node.network.inbox import Inbox
from dcrm.node.network.peer_key import PeerKey
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
    TransportError,
    TransportStats,
    TransportTimeout,
    check_tag,
)

__all__ = ["MESSAGE_PROTOCOL", "REQUEST_PROTOCOL", "Libp2pTransport"]

logger = logging.getLogger(__name__)

MESSAGE_PROTOCOL = TProtocol("/dcrm/msg/1.0.0")
REQUEST_PROTOCOL = TProtocol("/dcrm/req/1.0.0")
_GOSSIP_PROTOCOLS = [PROTOCOL_ID_V12, PROTOCOL_ID_V11]
_READ_CHUNK = 256 * 1024
_WRITE_BATCH_BYTES = 64 * 1024
_GOSSIP_QUEUE_RESERVE = 8  # of the library's 32 outbound RPCs per peer, kept for control messages and relays
_GOSSIP_ROOM_POLL_SECONDS = 0.002  # the library signals no event when a queue drains; poll while waiting
_GOSSIP_KEY = "gossip"
_LINK_STABLE_SECONDS = 2.0
# What a dropped or reset connection raises from libp2p and trio calls; anything else is a bug and is logged.
_CONNECTION_ERRORS = (BaseLibp2pError, trio.BrokenResourceError, trio.ClosedResourceError, OSError, EOFError)
_Args = TypeVarTuple("_Args")
_Result = TypeVar("_Result")


# --- counting the drops py-libp2p only logs ---------------------------------------------------------------


class _LibraryDropCounter(logging.Filter):
    """Counts the records py-libp2p writes when it drops a pubsub message (process-wide: the library's loggers
    are shared by every host in the process). Outbound queue overflow is logged at DEBUG, so that one logger
    is lowered to DEBUG and everything else it says is filtered out."""

    _signatures = ("Dropping outbound RPC", "fail to deliver message to subscription")

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self.count = 0

    def filter(self, record: logging.LogRecord) -> bool:
        message = str(record.msg)
        if any(message.startswith(signature) for signature in self._signatures):
            with self._lock:
                self.count += 1
                count = self.count
            if count % 100 == 1:  # the first of each hundred, in our own log: seen, not a flood
                logger.warning("py-libp2p dropped a pubsub message (%d so far): %s", count, record.getMessage())
            return False
        return record.levelno >= logging.WARNING or record.name != "libp2p.pubsub.rpc_queue"


_library_drops = _LibraryDropCounter()
_library_drops_installed = threading.Lock()


def _install_library_drop_counter() -> None:
    with _library_drops_installed:
        queue_logger = logging.getLogger("libp2p.pubsub.rpc_queue")
        if _library_drops not in queue_logger.filters:
            queue_logger.setLevel(logging.DEBUG)
            queue_logger.addFilter(_library_drops)
            logging.getLogger("libp2p.pubsub.pubsub").addFilter(_library_drops)


# --- connection gating ------------------------------------------------------------------------------------


class _AllowlistSecurity(ISecureTransport):
    """Noise, then the allowlist: a peer is known only once the handshake has authenticated its key."""

    def __init__(self, noise: NoiseTransport, node: _Node) -> None:
        self._noise = noise
        self._node = node

    async def secure_inbound(self, conn: IRawConnection) -> ISecureConn:
        return await self._admit(await self._noise.secure_inbound(conn))

    async def secure_outbound(self, conn: IRawConnection, peer_id: ID) -> ISecureConn:
        return await self._admit(await self._noise.secure_outbound(conn, peer_id))

    async def _admit(self, secured: ISecureConn) -> ISecureConn:
        remote = secured.get_remote_peer()
        peer = self._node.allowed_ids.get(remote)
        if peer is not None and self._node.ban_remaining(peer) > 0:
            self._node.counters.add("banned_refused")
            logger.debug("%s refused a connection from %s: in its cooling-off period", self._node.peer_id, peer)
            await secured.close()
            raise HandshakeFailure(f"peer {remote} is in its cooling-off period")
        if peer is not None:
            return secured
        self._node.counters.add("connections_refused")
        logger.warning("%s refused a connection from peer %s: not in the allowlist", self._node.peer_id, remote)
        await secured.close()
        raise HandshakeFailure(f"peer {remote} is not in the allowlist")


class _ConnectionWatcher(INotifee):
    def __init__(self, node: _Node) -> None:
        self._node = node

    async def connected(self, network: INetwork, conn: INetConn) -> None:
        self._node.connection_changed(conn, opened=True)

    async def disconnected(self, network: INetwork, conn: INetConn) -> None:
        self._node.connection_changed(conn, opened=False)

    async def opened_stream(self, network: INetwork, stream: INetStream) -> None:
        return None

    async def closed_stream(self, network: INetwork, stream: INetStream) -> None:
        return None

    async def listen(self, network: INetwork, multiaddr: multiaddr.Multiaddr) -> None:
        return None

    async def listen_close(self, network: INetwork, multiaddr: multiaddr.Multiaddr) -> None:
        return None


# --- small trio helpers -----------------------------------------------------------------------------------


class _Signal:
    """A re-armable wake-up: `fire` wakes every current waiter."""

    def __init__(self) -> None:
        self._event = trio.Event()

    def fire(self) -> None:
        self._event.set()
        self._event = trio.Event()

    async def wait(self) -> None:
        await self._event.wait()


async def _first_to_finish(what: str, *tasks: Callable[[], Awaitable[None]]) -> None:
    """Run `tasks` until one returns or fails, then cancel the rest. Connection errors end it quietly."""
    async with trio.open_nursery() as nursery:

        async def run(task: Callable[[], Awaitable[None]]) -> None:
            try:
                await task()
            except FrameError as error:
                logger.warning("%s: protocol violation, closing: %s", what, error)
            except _CONNECTION_ERRORS as error:
                logger.debug("%s ended: %r", what, error)
            except Exception:
                logger.exception("%s failed; the connection's streams are closed and will be reopened", what)
            finally:
                nursery.cancel_scope.cancel()

        for task in tasks:
            nursery.start_soon(run, task)


async def _read_frames(stream: INetStream, decoder: FrameDecoder) -> list[bytes] | None:
    """The next complete frame bodies, or None at the end of the stream."""
    while True:
        data = await stream.read(_READ_CHUNK)
        if not data:
            return None
        bodies = decoder.feed(data)
        if bodies:
            return bodies


async def _reset_quietly(stream: INetStream) -> None:
    with trio.move_on_after(1.0) as scope:
        scope.shield = True
        try:
            await stream.reset()
        except Exception as error:  # resetting a stream the peer already dropped: nothing left to do
            logger.debug("reset of a dead stream failed: %r", error)


# --- one link per connected peer -------------------------------------------------------------------------


class _Room:
    """Room in one link's outbox, shared by the callers' threads and the trio thread. A caller takes a place
    before it hands a frame over (waiting while there is none: back-pressure); the trio writer gives places
    back as it writes frames out."""

    def __init__(self, peer: PeerId, capacity: int) -> None:
        self._peer = peer
        self._capacity = capacity
        self._free = capacity
        self._closed = False
        self._changed = threading.Condition()

    def take(self, timeout: float) -> None:
        """Raises TransportTimeout when no place frees up in time, PeerNotConnected when the link ends."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while not self._free and not self._closed:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TransportTimeout(f"peer {self._peer} is not keeping up: {self._capacity} messages wait")
                self._changed.wait(remaining)
            if self._closed:
                raise PeerNotConnected(self._peer)
            self._free -= 1

    def give_back(self, count: int) -> None:
        with self._changed:
            self._free += count
            self._changed.notify(count)

    def close(self) -> None:
        with self._changed:
            self._closed = True
            self._changed.notify_all()


class _Answer:
    def __init__(self) -> None:
        self.done = trio.Event()
        self.status = ResponseStatus.OK
        self.payload = b""
        self.error: TransportError | None = None


class _Link:
    """What this node and one peer share on one connection.

    Four streams, each written by one side only: a py-libp2p stream is not full-duplex (a read waiting for
    data holds a lock that blocks writes to the same stream), so each side writes on its own outbound streams
    and only reads the peer's. Our message stream carries our messages and the credit we grant for the
    peer's; our request stream carries our requests, our responses to the peer's requests, and request credit.
    """

    def __init__(self, peer: PeerId, connection: object, node: _Node) -> None:
        config = node.config
        self.peer = peer
        self.connection = connection  # the muxed connection; streams from the peer must arrive on it
        self._node = node
        self._message_window = config.message_window
        self._request_window = config.request_window
        self.ready = False  # both sides' streams are up and credit has come: `send` may queue
        self.closed = False
        self.first_credit = trio.Event()
        self.ended = trio.Event()
        self._handler_scopes: list[trio.CancelScope] = []
        # messages we send
        self._outbox: deque[bytes] = deque()
        self.room = _Room(peer, config.send_queue)
        self._message_credits = 0
        self._in_hand = 0
        self._message_writer = _Signal()
        # messages we receive
        self._messages_outstanding = 0
        self._message_credit_owed = config.message_window  # the first grant
        # requests
        self._request_credits = 0
        self._request_credit_arrived = _Signal()
        self._request_ids = itertools.count(1)
        self._pending: dict[int, _Answer] = {}
        self._requests_outstanding = 0
        self._request_credit_owed = config.request_window
        self._request_stream_frames: deque[bytes] = deque()  # requests and responses, in order
        self._request_writer = _Signal()

    # called by the node's API methods

    def accept(self, frame: bytes) -> None:
        """Take a message frame a caller has a place for (see `_Room`); in the trio thread."""
        if self.closed:
            self.room.give_back(1)
            self._node.counters.add("messages_dropped")
            logger.warning("a message for %s was not sent: the connection ended", self.peer)
            return
        self._outbox.append(frame)
        self._message_writer.fire()

    async def request(self, protocol: str, payload: bytes, deadline: float) -> tuple[ResponseStatus, bytes]:
        with trio.move_on_at(deadline):
            while self._request_credits == 0 and not self.closed:
                await self._request_credit_arrived.wait()
        if self.closed:
            raise PeerNotConnected(self.peer)
        if self._request_credits == 0:
            raise TransportTimeout(f"peer {self.peer} already serves as many of our requests as it accepts")
        self._request_credits -= 1
        request_id = next(self._request_ids)
        answer = _Answer()
        self._pending[request_id] = answer
        try:
            self._request_stream_frames.append(request_frame(request_id, protocol, payload))
            self._request_writer.fire()
            with trio.move_on_at(deadline):
                await answer.done.wait()
        finally:
            self._pending.pop(request_id, None)
        if answer.error is not None:
            raise answer.error
        if not answer.done.is_set():
            raise TransportTimeout(f"no response from {self.peer} to {protocol!r} in time")
        return answer.status, answer.payload

    # called from the delivery threads' releases and the request handlers' answers

    def messages_finished(self, count: int) -> None:
        self._messages_outstanding -= count
        self._message_credit_owed += count
        self._message_writer.fire()

    def respond(self, frame: bytes) -> None:
        self._requests_outstanding -= 1
        self._request_stream_frames.append(frame)  # the response itself frees the requester's credit
        self._request_writer.fire()

    # the tasks

    async def write_messages(self, stream: INetStream) -> None:
        """Write queued messages as credit allows, and the credit we owe, in batches of up to 64 KiB."""
        counters = self._node.counters
        while True:
            while not self._message_credit_owed and not (self._message_credits and self._outbox):
                await self._message_writer.wait()
            chunks: list[bytes] = []
            if self._message_credit_owed:
                chunks.append(credit_frame(self._message_credit_owed))
                self._message_credit_owed = 0
            size = sent = 0
            while self._message_credits and self._outbox and size < _WRITE_BATCH_BYTES:
                frame = self._outbox.popleft()
                chunks.append(frame)
                size += len(frame)
                sent += 1
                self._message_credits -= 1
            self._in_hand = sent
            if sent:
                self.room.give_back(sent)
            await stream.write(chunks[0] if len(chunks) == 1 else b"".join(chunks))
            self._in_hand = 0
            if sent:
                counters.add("messages_sent", sent)

    async def write_requests(self, stream: INetStream) -> None:
        while True:
            while not self._request_credit_owed and not self._request_stream_frames:
                await self._request_writer.wait()
            chunks: list[bytes] = []
            if self._request_credit_owed:
                chunks.append(credit_frame(self._request_credit_owed))
                self._request_credit_owed = 0
            size = 0
            while self._request_stream_frames and size < _WRITE_BATCH_BYTES:
                frame = self._request_stream_frames.popleft()
                chunks.append(frame)
                size += len(frame)
            await stream.write(chunks[0] if len(chunks) == 1 else b"".join(chunks))

    async def read_messages(self, stream: INetStream) -> None:
        """The peer's message stream: its messages for our handlers, and credit for ours."""
        decoder = FrameDecoder(self._node.config.max_message_bytes + FRAME_OVERHEAD)
        while (bodies := await _read_frames(stream, decoder)) is not None:
            for body in bodies:
                frame = decode_body(body)
                if isinstance(frame, Message):
                    if self._messages_outstanding >= self._message_window:
                        raise FrameError(f"{self.peer} sent more messages than the {self._message_window} granted")
                    self._messages_outstanding += 1
                    self._node.deliver_message(self, frame)
                elif isinstance(frame, Credit):
                    self._message_credits += frame.count
                    self._message_writer.fire()
                    self.first_credit.set()
                else:
                    raise FrameError(f"unexpected {type(frame).__name__} on a message stream")

    async def read_requests(self, stream: INetStream) -> None:
        """The peer's request stream: its requests for our handlers, its answers to ours, request credit."""
        decoder = FrameDecoder(self._node.config.max_message_bytes + FRAME_OVERHEAD)
        while (bodies := await _read_frames(stream, decoder)) is not None:
            for body in bodies:
                frame = decode_body(body)
                if isinstance(frame, Request):
                    if self._requests_outstanding >= self._request_window:
                        raise FrameError(f"{self.peer} sent more requests than the {self._request_window} granted")
                    self._requests_outstanding += 1
                    self._node.serve_request(self, frame)
                elif isinstance(frame, Response):
                    self._request_credits += 1  # a response frees the slot its request took
                    answer = self._pending.get(frame.request_id)
                    if answer is not None:
                        answer.status, answer.payload = frame.status, frame.payload
                        answer.done.set()
                    self._request_credit_arrived.fire()
                elif isinstance(frame, Credit):
                    self._request_credits += frame.count
                    self._request_credit_arrived.fire()
                else:
                    raise FrameError(f"unexpected {type(frame).__name__} on a request stream")

    async def serve_inbound(self, what: str, read: Callable[[INetStream], Awaitable[None]], stream: INetStream) -> None:
        """Read one of the peer's streams until it ends or the link does; either way the link ends."""
        with trio.CancelScope() as scope:
            self._handler_scopes.append(scope)
            if self.closed:
                scope.cancel()
            await _first_to_finish(f"{what} from {self.peer}", lambda: read(stream))
        self.ended.set()

    def close(self) -> None:
        """End the link: count the messages that were queued and not written, fail waiting requests."""
        if self.closed:
            return
        self.closed = True
        self.ended.set()
        dropped = self._in_hand + len(self._outbox)
        self._outbox.clear()
        if dropped:
            self._node.counters.add("messages_dropped", dropped)
            logger.warning("%d messages queued for %s were not sent: the connection ended", dropped, self.peer)
        for answer in self._pending.values():
            answer.error = PeerNotConnected(self.peer)
            answer.done.set()
        for scope in self._handler_scopes:
            scope.cancel()
        self.room.close()
        self._request_credit_arrived.fire()


class _ReleaseBatcher:
    """On the delivery thread: gathers finished deliveries and hands them to trio in batches."""

    def __init__(self, node: _Node, batch: int) -> None:
        self._node = node
        self._batch = batch
        self._released: Counter[Hashable] = Counter()
        self._count = 0

    def note(self, key: Hashable) -> None:
        self._released[key] += 1
        self._count += 1
        if self._count >= self._batch:
            self.flush()

    def flush(self) -> None:
        if not self._count:
            return
        released, self._released, self._count = self._released, Counter(), 0
        self._node.call_soon(self._node.released, released)


def _dial_address(host: str, port: int) -> multiaddr.Multiaddr:
    try:
        ipaddress.IPv4Address(host)
    except ValueError:
        return multiaddr.Multiaddr(f"/dns4/{host}/tcp/{port}")
    return multiaddr.Multiaddr(f"/ip4/{host}/tcp/{port}")


# --- the trio side ----------------------------------------------------------------------------------------


class _Node:
    """Everything that runs in the trio thread. Its methods are called there only."""

    def __init__(
        self,
        config: NetworkConfig,
        key: PeerKey,
        handlers: Handlers,
        counters: Counters,
        deliveries: Inbox,
        services: Inbox,
    ) -> None:
        self.config = config
        self.peer_id = key.peer_id
        self.counters = counters
        self._key = key
        self._handlers = handlers
        self._deliveries = deliveries
        self._services = services
        self.entries: dict[PeerId, PeerEntry] = {entry.peer_id: entry for entry in config.peers}
        self.allowed_ids: dict[ID, PeerId] = {ID.from_base58(peer): peer for peer in self.entries}
        self._self_id = ID.from_base58(key.peer_id)
        self._gossip_members = frozenset(self.allowed_ids) | {self._self_id}
        self._links: dict[PeerId, _Link] = {}
        # The links `send` may use, read by callers' threads without entering trio (dict reads are atomic).
        self.routes: dict[PeerId, _Link] = {}
        self._gossip_pending = 0
        self._gossip_drops = 0
        self._token: trio.lowlevel.TrioToken | None = None
        self._nursery: trio.Nursery | None = None
        self._host: IHost | None = None
        self._pubsub: Pubsub | None = None
        self._subscribed: set[str] = set()
        self._banned_until: dict[PeerId, float] = {}  # time.monotonic(): read by the security gate too
        self.batcher = _ReleaseBatcher(self, batch=max(1, min(32, config.message_window // 4)))

    # Lifecycle

    async def serve(self, on_ready: Callable[[BoundAddress, trio.lowlevel.TrioToken], None]) -> None:
        self._token = trio.lowlevel.current_trio_token()
        self._connection_changed = {peer: _Signal() for peer in self.entries}
        self._link_changed = {peer: _Signal() for peer in self.entries}
        self._publish_lock = trio.Lock()
        self._stopping = trio.Event()
        host = self._new_host()
        router = GossipSub(
            protocols=_GOSSIP_PROTOCOLS,
            degree=self.config.gossip_degree,
            degree_low=max(1, self.config.gossip_degree * 2 // 3),
            degree_high=self.config.gossip_degree * 2,
            heartbeat_initial_delay=0.1,
            heartbeat_interval=self.config.gossip_heartbeat_seconds,
            spam_protection_enabled=False,
            eclipse_protection_enabled=False,
        )
        pubsub = Pubsub(host, router, strict_signing=True)
        # Message ids are sender + seqno; a counter from the wall clock in seconds repeats ids after a quick
        # restart, and peers drop those messages as seen. Nanoseconds keep growing across restarts.
        pubsub.counter = time.time_ns()
        self._host, self._pubsub = host, pubsub
        host.set_stream_handler(MESSAGE_PROTOCOL, self._serve_message_stream)
        host.set_stream_handler(REQUEST_PROTOCOL, self._serve_request_stream)
        host.get_network().register_notifee(_ConnectionWatcher(self))
        listen = multiaddr.Multiaddr(f"/ip4/{self.config.listen_host}/tcp/{self.config.listen_port}")
        async with host.run([listen]), background_trio_service(pubsub), background_trio_service(router):
            network = host.get_network()
            if isinstance(network, Swarm):
                # It dials peerstore entries toward 150 connections, logging at INFO every 30 s, and would
                # break the rule of who dials whom; `_keep_connected` owns dialling.
                await network.auto_connector.stop()
            await pubsub.wait_until_ready()
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                for peer in self.entries:
                    nursery.start_soon(self._keep_connected, peer)
                on_ready(self._bound_address(host), self._token)
                # After on_ready: a topic added during start is either in this list or subscribed by its caller.
                for topic in self._handlers.topics():
                    await self.subscribe(topic)
                await self._stopping.wait()
                nursery.cancel_scope.cancel()

    def request_stop(self) -> None:
        self._stopping.set()

    def call_soon(self, function: Callable[..., object], *args: object) -> bool:
        """Schedule `function(*args)` in the trio thread, from any thread, in call order; False once the loop
        has ended (nothing will run it)."""
        token = self._token
        if token is None:
            return False
        try:
            token.run_sync_soon(function, *args)
        except trio.RunFinishedError:
            return False
        return True

    def _new_host(self) -> IHost:
        seed_key = Ed25519PrivateKey.from_bytes(self._key.secret)
        key_pair = KeyPair(seed_key, seed_key.get_public_key())
        if ID.from_pubkey(key_pair.public_key) != self._self_id:
            raise TransportError(f"libp2p derives a different peer id from the key of {self.peer_id}")
        noise = NoiseTransport(key_pair, noise_privkey=new_x25519_key_pair().private_key)
        muxers: TMuxerOptions = (
            {MPLEX_PROTOCOL_ID: Mplex} if self.config.muxer == "mplex" else {TProtocol(YAMUX_PROTOCOL_ID): Yamux}
        )
        return new_host(
            key_pair=key_pair,
            sec_opt={NOISE_PROTOCOL_ID: _AllowlistSecurity(noise, self)},  # Noise only: no plaintext, no secio
            muxer_opt=muxers,
            connection_config=ConnectionConfig(max_connections_per_peer=1, dial_timeout=self.config.connect_timeout),
            listen_addrs=[multiaddr.Multiaddr(f"/ip4/{self.config.listen_host}/tcp/0")],
        )

    def _bound_address(self, host: IHost) -> BoundAddress:
        for address in host.get_transport_addrs():
            port = address.value_for_protocol("tcp")
            if port is not None:
                return BoundAddress(self.config.listen_host, int(port), self.peer_id)
        raise TransportError("the host reports no TCP listen address")

    # Cooling-off

    def ban_remaining(self, peer: PeerId) -> float:
        """Seconds left of the peer's cooling-off period (0 when it has none)."""
        return max(0.0, self._banned_until.get(peer, 0.0) - time.monotonic())

    def ban(self, peer: PeerId, seconds: float) -> None:
        """Close the peer's link and connections now; refuse and do not dial it until the period ends."""
        self._banned_until[peer] = max(self._banned_until.get(peer, 0.0), time.monotonic() + seconds)
        self.routes.pop(peer, None)  # `send` stops reaching it at once; the link's end tells the handlers
        link = self._links.get(peer)
        if link is not None:
            link.close()
        self._close_connections(peer)
        self._connection_changed[peer].fire()  # `_keep_connected` wakes up and waits out the period

    def _close_connections(self, peer: PeerId) -> None:
        if self._host is None or self._nursery is None:
            return
        for conn in self._host.get_network().get_connections(ID.from_base58(peer)):
            self._nursery.start_soon(conn.close)

    # Connections

    def connection_changed(self, conn: INetConn, *, opened: bool) -> None:
        peer = self.allowed_ids.get(conn.muxed_conn.peer_id)
        if peer is None:
            return
        self._connection_changed[peer].fire()
        if opened and self.ban_remaining(peer) > 0:  # secured just before the ban began
            self._close_connections(peer)
        elif opened:
            self._close_duplicate(peer, conn.muxed_conn.peer_id)

    def _close_duplicate(self, peer: PeerId, peer_libp2p_id: ID) -> None:
        """Both sides dialled at once: keep the connection the lower peer id dialled, on both sides alike."""
        assert self._host is not None
        connections = self._host.get_network().get_connections(peer_libp2p_id)
        if len(connections) < 2 or self._nursery is None:
            return
        dialled_by_higher = Direction.OUTBOUND if self.peer_id > peer else Direction.INBOUND
        duplicates = [conn for conn in connections if getattr(conn, "direction", None) == dialled_by_higher]
        if len(duplicates) == len(connections):
            return  # none dialled by the lower id: keep them, the library trims extras itself
        for conn in duplicates:
            logger.info("closing a duplicate connection with %s", peer)
            self._nursery.start_soon(conn.close)

    def _live_connection(self, peer_libp2p_id: ID) -> INetConn | None:
        assert self._host is not None
        for conn in self._host.get_network().get_connections(peer_libp2p_id):
            if not conn.is_closed:
                return conn
        return None

    async def _keep_connected(self, peer: PeerId) -> None:
        """Dial (when this side should), run a link while connected, back off and redial when it ends.

        Every pass of the loop waits for something: `host.connect` returns at once, without yielding to trio,
        while the swarm still lists a connection that is closing, and a loop on it would starve the thread.
        """
        peer_libp2p_id = ID.from_base58(peer)
        host_port = self.entries[peer].host_port
        addresses = [] if host_port is None else [_dial_address(*host_port)]
        dials_first = self.peer_id < peer
        grace = 2 * self.config.reconnect_max_delay
        delay = self.config.reconnect_min_delay
        unreachable_since = trio.current_time()
        while True:
            cooling_off = self.ban_remaining(peer)
            if cooling_off > 0:
                await trio.sleep(cooling_off)
                unreachable_since = trio.current_time()
                continue
            connection = self._live_connection(peer_libp2p_id)
            if connection is None:
                waited = trio.current_time() - unreachable_since
                if not addresses or (not dials_first and waited < grace):  # the peer dials us, or should
                    with trio.move_on_after(grace - waited if addresses else float("inf")):
                        await self._connection_changed[peer].wait()
                    continue
                if await self._dial(peer_libp2p_id, addresses):
                    connection = self._live_connection(peer_libp2p_id)
                if connection is None:
                    with trio.move_on_after(delay):
                        await self._connection_changed[peer].wait()
                    delay = min(delay * 2, self.config.reconnect_max_delay)
                    continue
            started = trio.current_time()
            await self._run_link(peer, peer_libp2p_id, connection)
            if trio.current_time() - started >= _LINK_STABLE_SECONDS:
                delay = self.config.reconnect_min_delay
            else:  # the link failed at once (the peer is starting or stopping): back off before the next try
                await trio.sleep(delay)
                delay = min(delay * 2, self.config.reconnect_max_delay)
            unreachable_since = trio.current_time()

    async def _dial(self, peer_libp2p_id: ID, addresses: list[multiaddr.Multiaddr]) -> bool:
        assert self._host is not None
        network = self._host.get_network()
        if isinstance(network, Swarm):
            network.unblock_peer(peer_libp2p_id)  # else one failed dial makes every dial fail for 60 s
        with trio.move_on_after(self.config.connect_timeout):
            try:
                await self._host.connect(PeerInfo(peer_libp2p_id, addresses))
                return True
            except Exception as error:  # refused, unreachable, handshake failed: all mean "try again later"
                logger.debug("dial %s failed: %r", peer_libp2p_id, error)
        return False

    async def _run_link(self, peer: PeerId, peer_libp2p_id: ID, connection: INetConn) -> None:
        assert self._host is not None
        link = _Link(peer, connection.muxed_conn, self)
        self._links[peer] = link
        self._link_changed[peer].fire()  # the peer's streams may be waiting for it
        streams: list[INetStream] = []
        try:
            with trio.fail_after(self.config.connect_timeout):
                for protocol in (MESSAGE_PROTOCOL, REQUEST_PROTOCOL):
                    streams.append(await self._host.new_stream(peer_libp2p_id, [protocol]))
            if any(stream.muxed_conn is not link.connection for stream in streams):
                raise TransportError("a stream opened on another connection")
        except Exception as error:  # the peer is not serving yet, or the connection just went: retried later
            logger.debug("opening streams to %s failed: %r", peer, error)
            await self._end_link(link, streams)
            return
        self._forget_stale_pubsub_stream(peer_libp2p_id, link.connection)

        async def announce_when_granted() -> None:
            # Ready once the peer's message stream has brought its first credit: from the connect event on,
            # `send` queues without waiting. A peer that never opens its streams ends the link (and is retried).
            with trio.move_on_after(self.config.connect_timeout):
                await link.first_credit.wait()
            if not link.first_credit.is_set():
                logger.debug("%s opened no streams to us in time: closing the connection", peer)
                return
            link.ready = True
            self.routes[peer] = link
            self.counters.add("connections_opened")
            logger.info("connected to %s", peer)
            self._offer_peer_event(peer, True)
            await trio.sleep_forever()

        try:
            await _first_to_finish(
                f"link with {peer}",
                lambda: link.write_messages(streams[0]),
                lambda: link.write_requests(streams[1]),
                link.ended.wait,
                announce_when_granted,
            )
        finally:
            await self._end_link(link, streams)

    def _forget_stale_pubsub_stream(self, peer_libp2p_id: ID, connection: object) -> None:
        """When a peer reconnects before pubsub has processed its disconnection, pubsub keeps the dead stream
        of the old connection (it sees a live connection and skips the cleanup) and never sends the peer our
        subscriptions. Dropping the stale peer makes pubsub open a stream on the live connection and say hello.
        `_handle_dead_peer` is private to py-libp2p (pinned at 0.8.1); nothing public does this."""
        assert self._pubsub is not None
        stream = self._pubsub.peers.get(peer_libp2p_id)
        if stream is not None and stream.muxed_conn is not connection:
            logger.debug("pubsub still held a stream of an old connection to %s: reopening", peer_libp2p_id)
            self._pubsub._handle_dead_peer(peer_libp2p_id)

    async def _end_link(self, link: _Link, streams: list[INetStream]) -> None:
        if self.routes.get(link.peer) is link:
            del self.routes[link.peer]
        link.close()
        if self._links.get(link.peer) is link:
            del self._links[link.peer]
        if link.ready:
            self._offer_peer_event(link.peer, False)
            logger.info("disconnected from %s", link.peer)
        for stream in streams:
            await _reset_quietly(stream)
        # Both sides start over on a fresh connection, so credit never outlives the streams it was granted on.
        connection = link.connection
        if isinstance(connection, IMuxedConn) and not connection.is_closed:
            with trio.move_on_after(1.0) as scope:
                scope.shield = True
                try:
                    await connection.close()
                except Exception as error:
                    logger.debug("closing the connection to %s failed: %r", link.peer, error)

    def _offer_peer_event(self, peer: PeerId, connected: bool) -> None:
        if not self._deliveries.offer(lambda: self._handlers.deliver_peer_event(peer, connected)):
            logger.error("peer event (%s, connected=%s) not delivered: the delivery queue is full", peer, connected)

    # Inbound streams

    async def _link_for(self, stream: INetStream) -> _Link | None:
        """The link the peer's stream belongs to, once our side has set it up (it may lag a little)."""
        peer = self.allowed_ids.get(stream.muxed_conn.peer_id)
        if peer is None:  # the security gate should have stopped it; never rely on a single check
            self.counters.add("connections_refused")
            logger.warning("refused a stream from %s: not in the allowlist", stream.muxed_conn.peer_id)
            return None
        if self.ban_remaining(peer) > 0:
            return None
        with trio.move_on_after(self.config.connect_timeout):
            while True:
                link = self._links.get(peer)
                if link is not None and link.connection is stream.muxed_conn and not link.closed:
                    return link
                await self._link_changed[peer].wait()
        logger.debug("a stream from %s arrived on a connection without a link: reset", peer)
        return None

    async def _serve_message_stream(self, stream: INetStream) -> None:
        link = await self._link_for(stream)
        if link is not None:
            await link.serve_inbound("messages", link.read_messages, stream)
        await _reset_quietly(stream)

    async def _serve_request_stream(self, stream: INetStream) -> None:
        link = await self._link_for(stream)
        if link is not None:
            await link.serve_inbound("requests", link.read_requests, stream)
        await _reset_quietly(stream)

    def deliver_message(self, link: _Link, frame: Message) -> None:
        peer, handlers, batcher = link.peer, self._handlers, self.batcher

        def deliver() -> None:
            try:
                handlers.deliver_message(peer, frame.channel, frame.payload)
            finally:
                batcher.note(link)

        if not self._deliveries.offer(deliver):  # credit bounds the queue, so this is a bug; count it if it happens
            link.messages_finished(1)
            self.counters.add("messages_dropped")
            logger.error("message from %s dropped: the delivery queue is full", peer)

    def serve_request(self, link: _Link, frame: Request) -> None:
        peer, handlers, limit = link.peer, self._handlers, self.config.max_message_bytes

        def serve() -> None:
            status, payload = handlers.serve_request(peer, frame.protocol, frame.payload, limit)
            self.call_soon(self._respond, link, response_frame(frame.request_id, status, payload))

        if not self._services.offer(serve):
            self._respond(link, response_frame(frame.request_id, ResponseStatus.HANDLER_FAILED, b"server busy"))

    def _respond(self, link: _Link, frame: bytes) -> None:
        if not link.closed:  # else the requester went away with the connection; nobody waits for this answer
            link.respond(frame)

    def released(self, released: Counter[Hashable]) -> None:
        """Deliveries the handlers finished: credit goes back to the senders, room to the gossip queue."""
        for key, count in released.items():
            if key == _GOSSIP_KEY:
                self._gossip_pending -= count
            elif isinstance(key, _Link) and not key.closed:
                key.messages_finished(count)

    # Gossip

    async def subscribe(self, topic: str) -> None:
        if topic in self._subscribed or self._pubsub is None or self._nursery is None:
            return
        self._subscribed.add(topic)
        self._pubsub.set_topic_validator(topic, self._validate_gossip, False)
        subscription = await self._pubsub.subscribe(topic)
        assert isinstance(subscription, TrioSubscriptionAPI)
        self._nursery.start_soon(self._drain_subscription, topic, subscription)

    def _validate_gossip(self, forwarder: ID, message: rpc_pb2.Message) -> bool:
        origin = ID(message.from_id)
        if origin in self._gossip_members and forwarder in self._gossip_members:
            banned = self.allowed_ids.get(origin)
            if banned is None or self.ban_remaining(banned) == 0:
                return True
            self.counters.add("gossip_rejected")
            return False  # from a peer in its cooling-off period, relayed by another
        self.counters.add("gossip_rejected")
        logger.warning("gossip from %s relayed by %s rejected: not in the allowlist", origin, forwarder)
        return False

    async def _drain_subscription(self, topic: str, subscription: TrioSubscriptionAPI) -> None:
        handlers, batcher, limit = self._handlers, self.batcher, self.config.gossip_delivery_queue
        while True:
            message = await subscription.get()
            origin = self.allowed_ids.get(ID(message.from_id))
            if origin is None:
                continue  # our own publication comes back to our subscription
            if self._gossip_pending >= limit:
                self._count_gossip_drop(origin, topic)
                continue
            self._gossip_pending += 1

            def deliver(origin: PeerId = origin, payload: bytes = message.data) -> None:
                try:
                    handlers.deliver_gossip(origin, topic, payload)
                finally:
                    batcher.note(_GOSSIP_KEY)

            if not self._deliveries.offer(deliver):
                self._gossip_pending -= 1
                self._count_gossip_drop(origin, topic)

    def _count_gossip_drop(self, origin: PeerId, topic: str) -> None:
        self.counters.add("gossip_dropped")
        self._gossip_drops += 1
        if self._gossip_drops % 100 == 1:  # the first of each hundred: enough to see it, not a flood
            logger.warning(
                "gossip from %s on %r dropped: %d messages already wait for the handler (%d drops so far)",
                origin,
                topic,
                self.config.gossip_delivery_queue,
                self._gossip_drops,
            )

    async def publish(self, topic: str, payload: bytes, timeout: float) -> None:
        assert self._pubsub is not None
        pubsub = self._pubsub
        room = OutBoundQueueSize - _GOSSIP_QUEUE_RESERVE
        async with self._publish_lock:  # one publication at a time, so the room it waited for is still there
            with trio.move_on_after(timeout) as waiting:
                while any(len(queue) > room for queue in pubsub.peer_queues.values()):
                    await trio.sleep(_GOSSIP_ROOM_POLL_SECONDS)
            if waiting.cancelled_caught:
                raise TransportTimeout(f"gossip queues to peers stayed full for {timeout} s")
            await pubsub.publish(topic, payload)
        self.counters.add("gossip_published")

    def topic_peers(self, topic: str) -> frozenset[PeerId]:
        assert self._pubsub is not None
        subscribed = self._pubsub.peer_topics.get(topic, set())
        return frozenset(peer for libp2p_id, peer in self.allowed_ids.items() if libp2p_id in subscribed)

    # Direct messages and requests

    def _ready_link(self, peer: PeerId) -> _Link:
        link = self._links.get(peer)
        if link is None or not link.ready or link.closed:
            raise PeerNotConnected(peer)
        return link

    async def request(self, peer: PeerId, protocol: str, payload: bytes, timeout: float) -> bytes:
        link = self._ready_link(peer)
        status, response = await link.request(protocol, payload, trio.current_time() + timeout)
        self.counters.add("requests_sent")
        return outcome_of_response(peer, protocol, status, response)


# --- the thread-safe facade -------------------------------------------------------------------------------


class Libp2pTransport:
    """Implements `Transport` on py-libp2p. See the module docstring for its threads."""

    def __init__(self, config: NetworkConfig, key: PeerKey) -> None:
        self._config = config
        self._key = key
        self._counters = Counters()
        self._handlers = Handlers(self._counters)
        short = key.peer_id[-6:]
        peers = max(len(config.peers), 1)
        self._deliveries = Inbox(
            f"net-deliver-{short}",
            capacity=peers * (config.message_window + 4) + config.gossip_delivery_queue,
            on_idle=self._flush_releases,
        )
        self._services = Inbox(f"net-serve-{short}", capacity=peers * config.request_window)
        self._node = _Node(config, key, self._handlers, self._counters, self._deliveries, self._services)
        self._token: trio.lowlevel.TrioToken | None = None
        self._thread: threading.Thread | None = None
        self._state_lock = threading.Lock()
        self._stopped = False

    @property
    def peer_id(self) -> PeerId:
        return self._key.peer_id

    def on_message(self, channel: str, handler: MessageHandler) -> None:
        self._handlers.on_message(channel, handler)

    def on_request(self, protocol: str, handler: RequestHandler) -> None:
        self._handlers.on_request(protocol, handler)

    def subscribe(self, topic: str, handler: GossipHandler) -> None:
        self._handlers.on_topic(topic, handler)
        if self._token is not None:  # already running: join the topic now; before start, `serve` joins it
            self._call(self._node.subscribe, topic)

    def on_peer_event(self, handler: PeerEventHandler) -> None:
        self._handlers.on_peer_event(handler)

    def start(self, timeout: float = 30.0) -> BoundAddress:
        with self._state_lock:
            if self._thread is not None:
                raise TransportClosed("a transport starts once; make a new one to restart a node")
            _install_library_drop_counter()
            ready: concurrent.futures.Future[BoundAddress] = concurrent.futures.Future()
            self._deliveries.start()
            self._services.start()
            self._thread = threading.Thread(
                target=self._run_loop, args=(ready,), name=f"net-loop-{self.peer_id[-6:]}", daemon=True
            )
            self._thread.start()
        try:
            bound = ready.result(timeout)
        except concurrent.futures.TimeoutError:
            self.stop()
            raise TransportError(f"the network did not start within {timeout} s") from None
        except Exception as error:
            self.stop()
            raise TransportError(f"the network cannot start: {error}") from error
        logger.info("network of %s listening on %s", self.peer_id, bound.multiaddr)
        return bound

    def stop(self) -> None:
        with self._state_lock:
            if self._stopped or self._thread is None:
                self._stopped = True
                return
            self._stopped = True
            thread, token = self._thread, self._token
        if token is not None:
            with contextlib.suppress(trio.RunFinishedError):
                trio.from_thread.run_sync(self._node.request_stop, trio_token=token)
        thread.join(self._config.stop_timeout)
        if thread.is_alive():
            logger.warning("the network loop of %s did not end within %.1f s", self.peer_id, self._config.stop_timeout)
        self._token = None
        self._deliveries.stop(self._config.stop_timeout)
        self._services.stop(self._config.stop_timeout)

    def send(self, peer: PeerId, channel: str, payload: bytes, timeout: float | None = None) -> None:
        # Without a round trip into trio: take a place in the link's outbox here (waiting while it is full),
        # then hand the frame over with run_sync_soon, which runs callbacks in the order they were scheduled.
        self._check_size("message", payload, self._config.max_message_bytes)
        frame = message_frame(channel, payload)
        self._require_running()
        link = self._node.routes.get(peer)
        if link is None:
            raise PeerNotConnected(peer)
        link.room.take(self._config.send_timeout if timeout is None else timeout)
        self._hand_over(link, frame)

    def broadcast(self, channel: str, payload: bytes, timeout: float | None = None) -> frozenset[PeerId]:
        self._check_size("message", payload, self._config.max_message_bytes)
        frame = message_frame(channel, payload)
        self._require_running()
        deadline = time.monotonic() + (self._config.send_timeout if timeout is None else timeout)
        links = list(self._node.routes.values())
        reached, waiting = set(), []
        for link in links:  # first those with room, so a slow peer cannot use up the others' deadline
            try:
                link.room.take(0)
            except TransportTimeout:
                waiting.append(link)
                continue
            except PeerNotConnected:
                continue
            self._hand_over(link, frame)
            reached.add(link.peer)
        for link in waiting:
            try:
                link.room.take(max(deadline - time.monotonic(), 0.0))
            except (TransportTimeout, PeerNotConnected) as error:
                self._counters.add("messages_dropped")
                logger.warning("broadcast on %r skipped %s: %s", channel, link.peer, error)
                continue
            self._hand_over(link, frame)
            reached.add(link.peer)
        return frozenset(reached)

    def _hand_over(self, link: _Link, frame: bytes) -> None:
        if not self._node.call_soon(link.accept, frame):
            link.room.give_back(1)
            raise TransportClosed(f"transport {self.peer_id} stopped")

    def publish(self, topic: str, payload: bytes, timeout: float | None = None) -> None:
        check_tag("topic", topic)
        self._check_size("gossip", payload, self._config.max_gossip_bytes)
        self._call(self._node.publish, topic, payload, self._config.publish_timeout if timeout is None else timeout)

    def request(self, peer: PeerId, protocol: str, payload: bytes, timeout: float) -> bytes:
        check_tag("protocol", protocol)
        self._check_size("request", payload, self._config.max_message_bytes)
        return self._call(self._node.request, peer, protocol, payload, timeout)

    def disconnect(self, peer: PeerId, seconds: float, reason: str) -> None:
        if not seconds > 0:
            raise ValueError(f"a cooling-off period must be positive, got {seconds}")
        if peer not in self._config.allowed:
            logger.debug("disconnect %s ignored: not in the allowlist", peer)
            return
        self._counters.add("peers_banned")
        logger.warning("%s disconnects %s for %.1f s: %s", self.peer_id, peer, seconds, reason)
        self._call_sync(self._node.ban, peer, seconds)

    def peers(self) -> frozenset[PeerId]:
        self._require_running()
        return frozenset(self._node.routes)

    def topic_peers(self, topic: str) -> frozenset[PeerId]:
        return self._call_sync(self._node.topic_peers, topic)

    def stats(self) -> TransportStats:
        return self._counters.snapshot(library_dropped=_library_drops.count)

    def _run_loop(self, ready: concurrent.futures.Future[BoundAddress]) -> None:
        def on_ready(bound: BoundAddress, token: trio.lowlevel.TrioToken) -> None:
            self._token = token
            ready.set_result(bound)

        try:
            trio.run(self._node.serve, on_ready)
        except BaseException as error:
            if not ready.done():
                ready.set_exception(error)
            else:
                logger.exception("the network loop of %s ended with an error", self.peer_id)
        finally:
            self._token = None
            if not ready.done():
                ready.set_exception(TransportError("the network loop ended before it was ready"))

    def _flush_releases(self) -> None:
        self._node.batcher.flush()

    def _check_size(self, what: str, payload: bytes, limit: int) -> None:
        if len(payload) > limit:
            raise MessageTooLarge(what, len(payload), limit)

    def _require_running(self) -> None:
        if self._token is None or self._stopped:
            raise TransportClosed(f"transport {self.peer_id} is not running")

    def _call(self, function: Callable[[Unpack[_Args]], Awaitable[_Result]], *args: *_Args) -> _Result:
        token = self._token
        if token is None or self._stopped:
            raise TransportClosed(f"transport {self.peer_id} is not running")
        try:
            return trio.from_thread.run(function, *args, trio_token=token)
        except (trio.RunFinishedError, trio.Cancelled):
            raise TransportClosed(f"transport {self.peer_id} stopped") from None

    def _call_sync(self, function: Callable[[Unpack[_Args]], _Result], *args: *_Args) -> _Result:
        token = self._token
        if token is None or self._stopped:
            raise TransportClosed(f"transport {self.peer_id} is not running")
        try:
            return trio.from_thread.run_sync(function, *args, trio_token=token)
        except trio.RunFinishedError:
            raise TransportClosed(f"transport {self.peer_id} stopped") from None
