"""The in-memory twin: link control for tests and simulation, and the behaviour libp2p shows at the edges."""

from __future__ import annotations

import threading

import pytest

from dcrm.node.network.memory import MemoryNetwork, MemoryTransport
from dcrm.node.network.transport import PeerId, PeerNotConnected, TransportClosed
from tests.network.support import PeerEvents, Recorder, fully_connected, memory_cluster, wait_until

pytestmark = pytest.mark.timeout(30)

ALICE, BOB, CAROL = PeerId("alice"), PeerId("bob"), PeerId("carol")


def test_start_reports_a_unique_address_and_a_transport_starts_once() -> None:
    network = MemoryNetwork()
    first = MemoryTransport(network, ALICE, [BOB])
    second = MemoryTransport(network, BOB, [ALICE])
    try:
        assert first.start() != second.start()
        with pytest.raises(TransportClosed):
            first.start()
    finally:
        first.stop()
        second.stop()
    with pytest.raises(TransportClosed):
        first.send(BOB, "consensus", b"after stop")


def test_a_cut_link_disconnects_both_sides_until_healed() -> None:
    with memory_cluster(2) as (a, b):
        events = PeerEvents()
        a.on_peer_event(events)
        a.start()
        b.start()
        wait_until(lambda: fully_connected([a, b]), "the link")
        network = a.network
        network.cut(a.peer_id, b.peer_id)
        assert a.peers() == b.peers() == frozenset()
        with pytest.raises(PeerNotConnected):
            a.send(b.peer_id, "consensus", b"x")
        network.heal(a.peer_id, b.peer_id)
        assert a.peers() == {b.peer_id}
        wait_until(lambda: len(events.snapshot()) == 3, "three peer events")
        assert events.snapshot() == [(b.peer_id, True), (b.peer_id, False), (b.peer_id, True)]


def test_a_request_in_flight_fails_when_the_link_is_cut() -> None:
    with memory_cluster(2) as (a, b):
        a.start()
        b.start()
        entered, release = threading.Event(), threading.Event()

        def slow(peer: PeerId, payload: bytes) -> bytes:
            entered.set()
            release.wait(10)
            return b"too late"

        b.on_request("blocks", slow)
        outcome: list[BaseException] = []

        def ask() -> None:
            try:
                a.request(b.peer_id, "blocks", b"", timeout=10)
            except PeerNotConnected as error:
                outcome.append(error)

        asker = threading.Thread(target=ask)
        asker.start()
        assert entered.wait(10)
        a.network.cut(a.peer_id, b.peer_id)
        asker.join(10)
        release.set()
        assert len(outcome) == 1


def test_a_peer_outside_the_allowlist_is_refused_once_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    network = MemoryNetwork()
    alice = MemoryTransport(network, ALICE, [BOB])
    mallory = MemoryTransport(network, PeerId("mallory"), [ALICE])
    try:
        alice.start()
        mallory.start()
        assert mallory.peers() == alice.peers() == frozenset()
        with pytest.raises(PeerNotConnected):
            mallory.send(ALICE, "consensus", b"let me in")
        network.cut(BOB, CAROL)  # another refresh must not log the same refusal again
        assert alice.stats().connections_refused == 1
        assert "alice refused a connection from mallory: not in the allowlist" in caplog.text
    finally:
        alice.stop()
        mallory.stop()


def test_gossip_beyond_the_delivery_queue_is_dropped_and_counted() -> None:
    with memory_cluster(2, gossip_delivery_queue=4) as (a, b):
        a.start()
        b.start()
        gate = threading.Event()
        received = Recorder()

        def stuck(peer: PeerId, payload: bytes) -> None:
            gate.wait(10)
            received(peer, payload)

        b.subscribe("bundles", stuck)
        for index in range(10):
            a.publish("bundles", bytes([index]))
        gate.set()
        received.wait_for(4, "bundles")
        wait_until(lambda: b.stats().gossip_dropped == 6, "six drops counted")
        assert received.payloads() == [bytes([index]) for index in range(4)]


def test_a_restarted_node_is_a_new_transport_with_the_same_peer_id() -> None:
    network = MemoryNetwork()
    alice = MemoryTransport(network, ALICE, [BOB])
    bob = MemoryTransport(network, BOB, [ALICE])
    alice.start()
    bob.start()
    try:
        bob.stop()
        assert alice.peers() == frozenset()
        bob = MemoryTransport(network, BOB, [ALICE])
        received = Recorder()
        bob.on_message("consensus", received)
        bob.start()
        alice.send(BOB, "consensus", b"welcome back")
        received.wait_for(1)
    finally:
        alice.stop()
        bob.stop()
