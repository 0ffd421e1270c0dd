"""What the PBFT driver tolerates from a peer before it sends it away for a while.

Every payload a peer sends on the consensus channel, every catch-up request and every transaction bundle passes
through a `PeerGuard` on the transport's threads, before anything is queued for the driver. An offence is a
payload no honest validator sends:

- **undecodable**: bytes that are not a `ConsensusMessage` carrying a proposal, vote, view change or certified
  blocks (or not a `CatchUpRequest`, not a transaction bundle); also any consensus message from a peer that maps
  to no validator account;
- **oversized**: a message over `max_message_bytes`, a vote over `max_vote_bytes` (a vote holds no block), a
  catch-up request over `max_request_bytes`;
- **flood**: messages and requests beyond `messages_per_second` (burst `message_burst`) per peer; honest traffic
  is a few messages per height and peer, plus retransmissions every `retransmit_ms`;
- **replayed**: the same bytes more often than `copies_per_second` (burst `copy_burst`); an honest validator
  repeats a signed message once per retransmit interval.

An offending payload is dropped: the core never sees it and the driver's queue cannot be flooded. Offences
are counted per peer in a token bucket of `tolerated_offences`, refilled at `offences_forgiven_per_second`, so
a rare accident is forgiven and a stream of them is not: when the bucket is empty the guard calls `on_ban(peer,
cooling_off_seconds, reason)` (the driver disconnects the peer through the transport) and drops whatever the
peer still sends until the period ends. The clock is injected; nothing here touches the network itself.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from google.protobuf.message import DecodeError

from dcrm.node.limits import TokenBucket
from dcrm.node.network.transport import PeerId
from dcrm.v1 import consensus_pb2

__all__ = ["BanHandler", "PeerGuard", "PeerPolicy"]

log = logging.getLogger(__name__)

BanHandler = Callable[[PeerId, float, str], None]
"""Called with (peer, seconds, reason) when a peer used up its tolerance."""

# The kinds of consensus message a validator sends on the consensus channel (catch-up requests have their own
# protocol).
_CONSENSUS_KINDS = frozenset({"proposal", "vote", "view_change", "certified_blocks"})


@dataclass(frozen=True)
class PeerPolicy:
    """Limits per peer; the defaults leave honest validators several times the room they use."""

    max_message_bytes: int = 16 << 20  # the transport's own default limit on a direct message
    max_vote_bytes: int = 4096  # a signed vote is under 200 bytes
    max_request_bytes: int = 64  # a CatchUpRequest is one varint
    messages_per_second: float = 1_000.0  # consensus messages and catch-up requests together
    message_burst: float = 2_000.0
    copies_per_second: float = 4.0  # the same bytes again (retransmissions come every 500 ms)
    copy_burst: float = 8.0
    tolerated_offences: float = 32.0
    offences_forgiven_per_second: float = 0.5
    cooling_off_seconds: float = 60.0
    remembered_payloads: int = 4_096  # digests kept per peer to spot replays

    def __post_init__(self) -> None:
        for name in ("max_message_bytes", "max_vote_bytes", "max_request_bytes", "remembered_payloads"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}: expected a positive number, got {getattr(self, name)}")
        for name in ("messages_per_second", "copies_per_second", "cooling_off_seconds"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name}: expected a positive number, got {getattr(self, name)}")
        if self.message_burst < 1 or self.copy_burst < 1 or self.tolerated_offences < 1:
            raise ValueError("message_burst, copy_burst and tolerated_offences must be at least 1")
        if self.offences_forgiven_per_second < 0:
            raise ValueError("offences_forgiven_per_second must not be negative")


@dataclass
class _PeerRecord:
    messages: TokenBucket
    tolerance: TokenBucket
    copies: OrderedDict[bytes, TokenBucket] = field(default_factory=OrderedDict)
    offences: Counter[str] = field(default_factory=Counter)
    banned_until: float = 0.0


class PeerGuard:
    """Thread-safe: the transport's delivery and request threads call it at once."""

    def __init__(self, policy: PeerPolicy, on_ban: BanHandler, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.policy = policy
        self._on_ban = on_ban
        self._clock = clock
        self._lock = threading.Lock()
        self._peers: dict[PeerId, _PeerRecord] = {}
        self.bans: Counter[PeerId] = Counter()

    def consensus_message(self, peer: PeerId, payload: bytes) -> bool:
        """Whether the payload may go to the core; counts an offence when it may not."""
        policy = self.policy
        with self._lock:
            record, now = self._record(peer), self._clock()
            if record.banned_until > now:
                return False
            flood = not record.messages.take(now)
            ban = self._offend(peer, record, now, "flood") if flood else None
        if flood:
            return self._ban(peer, ban)
        if len(payload) > policy.max_message_bytes:
            return self.offence(peer, "oversized")
        try:
            message = consensus_pb2.ConsensusMessage.FromString(payload)
        except DecodeError:
            return self.offence(peer, "undecodable")
        kind = message.WhichOneof("message")
        if kind not in _CONSENSUS_KINDS:
            return self.offence(peer, "undecodable")
        if kind == "vote" and len(payload) > policy.max_vote_bytes:
            return self.offence(peer, "oversized")
        digest = hashlib.blake2b(payload, digest_size=16).digest()
        with self._lock:
            record, now = self._record(peer), self._clock()
            copies = record.copies.get(digest)
            if copies is None:
                copies = TokenBucket(policy.copies_per_second, policy.copy_burst, policy.copy_burst, now)
                record.copies[digest] = copies
                if len(record.copies) > policy.remembered_payloads:
                    record.copies.popitem(last=False)
            else:
                record.copies.move_to_end(digest)
            if copies.take(now):
                return True
            ban = self._offend(peer, record, now, "replayed")
        return self._ban(peer, ban)

    def catch_up_request(self, peer: PeerId, payload: bytes) -> consensus_pb2.CatchUpRequest | None:
        """The decoded request, or None (an offence, or the peer is cooling off)."""
        with self._lock:
            record, now = self._record(peer), self._clock()
            if record.banned_until > now:
                return None
            flood = not record.messages.take(now)
            ban = self._offend(peer, record, now, "flood") if flood else None
        if flood:
            self._ban(peer, ban)
            return None
        if len(payload) > self.policy.max_request_bytes:
            self.offence(peer, "oversized")
            return None
        try:
            return consensus_pb2.CatchUpRequest.FromString(payload)
        except DecodeError:
            self.offence(peer, "undecodable")
            return None

    def catch_up_answer(self, peer: PeerId, payload: bytes) -> bool:
        """Whether the answer to our own catch-up request may go to the core: certified blocks, or an offence."""
        try:
            message = consensus_pb2.ConsensusMessage.FromString(payload)
        except DecodeError:
            return self.offence(peer, "undecodable catch-up answer")
        if message.WhichOneof("message") != "certified_blocks":
            return self.offence(peer, "undecodable catch-up answer")
        return True

    def offence(self, peer: PeerId, kind: str) -> bool:
        """Count one offence of `kind` (a short phrase) by `peer`; always False (the payload is dropped)."""
        with self._lock:
            record, now = self._record(peer), self._clock()
            if record.banned_until > now:
                return False
            ban = self._offend(peer, record, now, kind)
        return self._ban(peer, ban)

    def offences(self, peer: PeerId) -> Counter[str]:
        """Offences by kind since the peer's last ban (a copy)."""
        with self._lock:
            record = self._peers.get(peer)
            return Counter() if record is None else Counter(record.offences)

    def _record(self, peer: PeerId) -> _PeerRecord:
        record = self._peers.get(peer)
        if record is None:
            policy, now = self.policy, self._clock()
            record = _PeerRecord(
                TokenBucket(policy.messages_per_second, policy.message_burst, policy.message_burst, now),
                TokenBucket(
                    policy.offences_forgiven_per_second, policy.tolerated_offences, policy.tolerated_offences, now
                ),
            )
            self._peers[peer] = record
        return record

    def _offend(self, peer: PeerId, record: _PeerRecord, now: float, kind: str) -> str | None:
        """With the lock held: count the offence; when the peer's tolerance is used up, start its cooling-off
        and return the reason to ban it for (the caller calls `_ban` once the lock is released)."""
        record.offences[kind] += 1
        if record.tolerance.take(now):
            log.debug("offence by %s: %s", peer, kind)
            return None
        summary = ", ".join(f"{count} {name}" for name, count in record.offences.most_common())
        record.banned_until = now + self.policy.cooling_off_seconds
        record.offences.clear()
        record.copies.clear()
        record.tolerance.tokens = record.tolerance.burst
        record.messages.tokens = record.messages.burst
        self.bans[peer] += 1
        return f"offences on the consensus channels: {summary}"

    def _ban(self, peer: PeerId, reason: str | None) -> bool:
        if reason is not None:
            self._on_ban(peer, self.policy.cooling_off_seconds, reason)
        return False
