"""`Transport.disconnect(peer, seconds, reason)`: the cooling-off of a misbehaving peer, on both transports.

The peer is gone at once on both sides, cannot come back before the period ends (on libp2p it keeps
redialling and is refused after the handshake), and is connected again after it, with no help.
"""

from __future__ import annotations

import logging
import threading
import time

import pytest

from dcrm.node.network.memory import MemoryTransport
from dcrm.node.network.transport import PeerId, PeerNotConnected
from tests.network.conftest import ClusterFactory
from tests.network.support import wait_until

COOLING_OFF_SECONDS = 1.5


class Timeline:
    """Peer events with the monotonic time they were delivered at."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.events: list[tuple[PeerId, bool, float]] = []

    def __call__(self, peer: PeerId, connected: bool) -> None:
        with self._lock:
            self.events.append((peer, connected, time.monotonic()))

    def reconnected_at(self, peer: PeerId) -> float | None:
        """When `peer` connected again after its first disconnection. (Events arrive in order, but a handler
        added late may still receive the connection events of the set-up: only those after a disconnection
        count.)"""
        with self._lock:
            events = [(up, at) for who, up, at in self.events if who == peer]
        gone = next((index for index, (up, _) in enumerate(events) if not up), None)
        if gone is None:
            return None
        return next((at for up, at in events[gone:] if up), None)


def test_a_disconnected_peer_stays_away_for_the_period_then_comes_back(
    make_cluster: ClusterFactory, caplog: pytest.LogCaptureFixture
) -> None:
    judge, culprit, bystander = make_cluster(3)
    seen_by_judge, seen_by_culprit = Timeline(), Timeline()
    judge.on_peer_event(seen_by_judge)
    culprit.on_peer_event(seen_by_culprit)
    caplog.set_level(logging.WARNING)

    banned_at = time.monotonic()
    judge.disconnect(culprit.peer_id, COOLING_OFF_SECONDS, "sent 40 undecodable consensus messages")

    assert culprit.peer_id not in judge.peers()  # at once: `send` no longer reaches it
    with pytest.raises(PeerNotConnected):
        judge.send(culprit.peer_id, "test", b"x")
    wait_until(lambda: judge.peer_id not in culprit.peers(), "the culprit to see the connection end")
    assert judge.stats().peers_banned == 1
    assert any(
        record.levelno == logging.WARNING
        and culprit.peer_id in record.getMessage()
        and "undecodable" in record.getMessage()
        for record in caplog.records
    ), "the ban is logged at WARNING with its reason"
    # Only that one link: the others carry on.
    assert bystander.peer_id in judge.peers()
    assert bystander.peer_id in culprit.peers()

    if not isinstance(judge, MemoryTransport):  # libp2p: the culprit redials, and is refused meanwhile
        wait_until(lambda: judge.stats().banned_refused >= 1, "a refused reconnect during the cooling-off")

    wait_until(lambda: culprit.peer_id in judge.peers(), "the culprit back after the period", 20 + COOLING_OFF_SECONDS)
    wait_until(lambda: judge.peer_id in culprit.peers(), "the judge back on the culprit's side")
    ends = banned_at + COOLING_OFF_SECONDS
    for timeline, other in ((seen_by_judge, culprit.peer_id), (seen_by_culprit, judge.peer_id)):
        wait_until(lambda: timeline.reconnected_at(other) is not None, "the disconnection and reconnection events")  # noqa: B023
        reconnected = timeline.reconnected_at(other)
        assert reconnected is not None
        assert reconnected >= ends, f"reconnected {ends - reconnected:.3f} s before the period ended"
    judge.send(culprit.peer_id, "test", b"back")  # and `send` works again


def test_disconnecting_a_peer_outside_the_allowlist_does_nothing(make_cluster: ClusterFactory) -> None:
    first, second = make_cluster(2)
    first.disconnect(PeerId("12D3KooWNotAPeerOfThisNetwork000000000000000"), 5.0, "unknown")
    assert first.stats().peers_banned == 0
    assert second.peer_id in first.peers()
    with pytest.raises(ValueError, match="positive"):
        first.disconnect(second.peer_id, 0, "no period")
