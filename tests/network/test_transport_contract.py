"""One suite over both transports: what a consensus driver may rely on, whichever network it runs on."""

from __future__ import annotations

import threading

import pytest

from dcrm.node.network.transport import (
    MessageTooLarge,
    PeerId,
    PeerNotConnected,
    RequestFailed,
    TransportTimeout,
)
from tests.network.conftest import ClusterFactory
from tests.network.support import PeerEvents, Recorder, wait_until

pytestmark = pytest.mark.timeout(60)


def test_messages_arrive_in_order_on_a_delivery_thread(make_cluster: ClusterFactory) -> None:
    a, b = make_cluster(2)
    received = Recorder()
    b.on_message("consensus", received)
    for index in range(100):
        a.send(b.peer_id, "consensus", index.to_bytes(4, "big"))
    received.wait_for(100)
    assert received.payloads(a.peer_id) == [index.to_bytes(4, "big") for index in range(100)]
    assert threading.current_thread().name not in received.threads
    assert len(received.threads) == 1  # one delivery thread: order holds across handlers too
    assert a.stats().messages_sent == 100
    assert b.stats().messages_received == 100


def test_a_stuck_receiver_holds_the_sender_back_then_2000_messages_arrive_in_order(
    make_cluster: ClusterFactory,
) -> None:
    window, queue, total = 16, 32, 2000
    a, b = make_cluster(2, message_window=window, send_queue=queue)
    gate = threading.Event()
    received: list[int] = []

    def handler(peer: PeerId, payload: bytes) -> None:
        gate.wait(30)
        received.append(int.from_bytes(payload, "big"))

    b.on_message("votes", handler)
    sent = 0
    with pytest.raises(TransportTimeout):
        while sent < total:  # bounded: stops at the first timeout, or after every message
            a.send(b.peer_id, "votes", sent.to_bytes(4, "big"), timeout=0.5)
            sent += 1
    assert window <= sent <= window + queue + 1, "the sender must be held back by a bounded amount"
    gate.set()
    for index in range(sent, total):
        a.send(b.peer_id, "votes", index.to_bytes(4, "big"))
    wait_until(lambda: len(received) == total, f"{total} messages (have {len(received)})")
    assert received == list(range(total))
    assert a.stats().messages_dropped == 0
    assert b.stats().messages_received == total


def test_send_to_a_peer_that_is_not_connected_fails_at_once(make_cluster: ClusterFactory) -> None:
    (a,) = make_cluster(1)
    with pytest.raises(PeerNotConnected):
        a.send(PeerId("12D3KooWA4Xop1JaT3MHxwYMkCepYsv4iPVopMXwCz5iHYdBfeSB"), "consensus", b"x")


def test_broadcast_reaches_every_connected_peer(make_cluster: ClusterFactory) -> None:
    nodes = make_cluster(4)
    recorders = {node.peer_id: Recorder() for node in nodes}
    for node in nodes:
        node.on_message("consensus", recorders[node.peer_id])
    for node in nodes:
        reached = node.broadcast("consensus", node.peer_id.encode())
        assert reached == {other.peer_id for other in nodes if other is not node}
    for node in nodes:
        recorders[node.peer_id].wait_for(3)
        assert sorted(recorders[node.peer_id].payloads()) == sorted(
            other.peer_id.encode() for other in nodes if other is not node
        )


def test_request_response_and_its_failures(make_cluster: ClusterFactory) -> None:
    a, b = make_cluster(2)
    release = threading.Event()

    def blocks(peer: PeerId, payload: bytes) -> bytes:
        release.wait(10)
        return b"late"

    def fails(peer: PeerId, payload: bytes) -> bytes:
        raise ValueError("no such block")

    b.on_request("blocks", lambda peer, payload: b"blocks from " + payload + b" for " + peer.encode())
    b.on_request("fails", fails)
    b.on_request("slow", blocks)
    assert a.request(b.peer_id, "blocks", b"7", timeout=10) == b"blocks from 7 for " + a.peer_id.encode()
    with pytest.raises(RequestFailed, match="no such block"):
        a.request(b.peer_id, "fails", b"", timeout=10)
    with pytest.raises(RequestFailed, match="no handler"):
        a.request(b.peer_id, "unknown", b"", timeout=10)
    with pytest.raises(TransportTimeout):
        a.request(b.peer_id, "slow", b"", timeout=0.3)
    release.set()
    # Requests from several threads at once, each answered with its own payload.
    answers: dict[int, bytes] = {}

    def ask(index: int) -> None:
        answers[index] = a.request(b.peer_id, "blocks", str(index).encode(), timeout=20)

    threads = [threading.Thread(target=ask, args=(index,)) for index in range(40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert answers == {i: f"blocks from {i} for {a.peer_id}".encode() for i in range(40)}


def test_payloads_over_the_limits_raise_before_anything_is_sent(make_cluster: ClusterFactory) -> None:
    a, b = make_cluster(2, max_message_bytes=1000, max_gossip_bytes=500)
    with pytest.raises(MessageTooLarge):
        a.send(b.peer_id, "consensus", bytes(1001))
    with pytest.raises(MessageTooLarge):
        a.broadcast("consensus", bytes(1001))
    with pytest.raises(MessageTooLarge):
        a.request(b.peer_id, "blocks", bytes(1001), timeout=5)
    with pytest.raises(MessageTooLarge):
        a.publish("bundles", bytes(501))
    received = Recorder()
    b.on_message("consensus", received)
    a.send(b.peer_id, "consensus", bytes(1000))
    received.wait_for(1)
    assert a.stats().messages_sent == 1


def test_gossip_reaches_every_subscriber_but_not_the_publisher(make_cluster: ClusterFactory) -> None:
    nodes = make_cluster(3)
    recorders = [Recorder() for _ in nodes]
    for node, recorder in zip(nodes, recorders, strict=True):
        node.subscribe("bundles", recorder)
    publisher = nodes[0]
    wait_until(
        lambda: publisher.topic_peers("bundles") == {node.peer_id for node in nodes[1:]}, "both subscriptions known"
    )
    bundles = [f"bundle {index}".encode() * 100 for index in range(20)]
    for bundle in bundles:
        publisher.publish("bundles", bundle)
    for recorder in recorders[1:]:
        recorder.wait_for(20, "bundles")
        assert sorted(recorder.payloads(publisher.peer_id)) == sorted(bundles)
    assert recorders[0].count() == 0
    assert all(node.stats().gossip_dropped == 0 for node in nodes)


def test_deliveries_without_a_handler_and_failing_handlers_are_counted(make_cluster: ClusterFactory) -> None:
    a, b = make_cluster(2)
    received = Recorder()

    def flaky(peer: PeerId, payload: bytes) -> None:
        if payload == b"boom":
            raise RuntimeError("handler bug")
        received(peer, payload)

    b.on_message("consensus", flaky)
    a.send(b.peer_id, "nobody-listens", b"lost")
    a.send(b.peer_id, "consensus", b"boom")
    a.send(b.peer_id, "consensus", b"after")
    received.wait_for(1)
    wait_until(lambda: b.stats().unhandled == 1 and b.stats().handler_errors == 1, "the counters")
    assert received.payloads() == [b"after"]


def test_a_stopped_peer_is_reported_gone(make_cluster: ClusterFactory) -> None:
    a, b = make_cluster(2)
    events = PeerEvents()
    a.on_peer_event(events)
    b.stop()
    wait_until(lambda: (b.peer_id, False) in events.snapshot(), "the disconnect event")
    assert b.peer_id not in a.peers()
    with pytest.raises(PeerNotConnected):
        a.send(b.peer_id, "consensus", b"x")
