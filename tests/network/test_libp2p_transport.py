"""The libp2p transport in one process, on loopback: the traps of py-libp2p 0.8.1 stay configured away."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path

import multiaddr
import pytest
import trio
from libp2p import new_host
from libp2p.crypto.ed25519 import Ed25519PrivateKey
from libp2p.crypto.keys import KeyPair
from libp2p.peer.id import ID
from libp2p.peer.peerinfo import PeerInfo
from libp2p.security.insecure.transport import PLAINTEXT_PROTOCOL_ID, InsecureTransport

from dcrm.node.network.config import PeerEntry
from dcrm.node.network.libp2p_transport import Libp2pTransport
from dcrm.node.network.peer_key import PeerKey
from dcrm.node.network.transport import MessageTooLarge, PeerId, PeerNotConnected
from tests.network.support import Libp2pCluster, PeerEvents, Recorder, config_for_test, wait_until

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[Libp2pCluster]:
    cluster = Libp2pCluster(tmp_path, 2)
    yield cluster
    cluster.stop()


def test_start_reports_the_port_it_bound(pair: Libp2pCluster) -> None:
    for config in pair.configs:
        assert config.listen_port > 0  # the cluster records what start() reported for port 0
    first = pair.transports[0]
    assert pair.configs[1].peers == (PeerEntry(first.peer_id, f"127.0.0.1:{pair.configs[0].listen_port}"),)


def test_a_peer_outside_the_allowlist_cannot_deliver_anything(
    pair: Libp2pCluster, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    a, b = pair.transports
    received, gossip, served = Recorder(), Recorder(), Recorder()
    a.on_message("consensus", received)
    a.subscribe("bundles", gossip)

    def serve(peer: PeerId, payload: bytes) -> bytes:
        served(peer, payload)
        return b""

    a.on_request("blocks", serve)
    stranger_key = PeerKey.generate()
    address = f"127.0.0.1:{pair.configs[0].listen_port}"
    stranger = Libp2pTransport(
        config_for_test(tmp_path / "stranger.key", (PeerEntry(a.peer_id, address),)), stranger_key
    )
    stranger.start()
    try:
        # It dials, is refused, backs off and dials again: two refusals prove it kept trying and got nowhere.
        wait_until(lambda: a.stats().connections_refused >= 2, "two refused connection attempts")
        assert f"refused a connection from peer {stranger_key.peer_id}: not in the allowlist" in caplog.text
        assert stranger.peers() == frozenset()
        with pytest.raises(PeerNotConnected):
            stranger.send(a.peer_id, "consensus", b"let me in")
        with pytest.raises(PeerNotConnected):
            stranger.request(a.peer_id, "blocks", b"", timeout=1)
        stranger.publish("bundles", b"spam")
        assert a.peers() == {b.peer_id}
        assert received.count() == gossip.count() == served.count() == 0
    finally:
        stranger.stop()


async def _dial_with_plaintext(key: PeerKey, address: multiaddr.Multiaddr, target: PeerId) -> str:
    private = Ed25519PrivateKey.from_bytes(key.secret)
    key_pair = KeyPair(private, private.get_public_key())
    host = new_host(key_pair=key_pair, sec_opt={PLAINTEXT_PROTOCOL_ID: InsecureTransport(key_pair)})
    async with host.run([multiaddr.Multiaddr("/ip4/127.0.0.1/tcp/0")]):
        try:
            with trio.fail_after(10):
                await host.connect(PeerInfo(ID.from_base58(target), [address]))
        except Exception as error:  # what fails is the point of the test
            return f"refused: {error!r}"
        return "connected"


def test_a_dialer_offering_only_plaintext_is_refused(tmp_path: Path) -> None:
    cluster = Libp2pCluster(tmp_path, 2)
    try:
        a, b = cluster.transports
        b.stop()  # b's key is in a's allowlist: only the missing encryption can be the reason for a refusal
        wait_until(lambda: a.peers() == frozenset(), "a to notice b is gone")
        address = multiaddr.Multiaddr(f"/ip4/127.0.0.1/tcp/{cluster.configs[0].listen_port}")
        outcome = trio.run(_dial_with_plaintext, cluster.keys[1], address, a.peer_id)
        assert outcome.startswith("refused"), outcome
        assert a.peers() == frozenset()
    finally:
        cluster.stop()


def test_a_restarted_peer_with_the_same_key_is_heard_again(pair: Libp2pCluster) -> None:
    a, b = pair.transports  # b has the lower peer id and a's address: it dials, before and after its restart
    events, bundles, messages = PeerEvents(), Recorder(), Recorder()
    a.on_peer_event(events)
    a.subscribe("bundles", bundles)
    a.on_message("consensus", messages)
    wait_until(lambda: a.peer_id in b.topic_peers("bundles"), "a's subscription to reach b")
    for index in range(30):
        b.publish("bundles", f"before {index}".encode())
        b.send(a.peer_id, "consensus", f"before {index}".encode())
    bundles.wait_for(30, "bundles")
    messages.wait_for(30)

    restarted_messages = Recorder()

    def handlers(transport: Libp2pTransport) -> None:
        transport.on_message("consensus", restarted_messages)
        transport.on_request("ping", lambda peer, payload: b"pong " + payload)

    b = pair.restart(1, handlers)
    wait_until(lambda: a.peers() == {b.peer_id} and b.peers() == {a.peer_id}, "the link to come back")
    assert events.snapshot()[-2:] == [(b.peer_id, False), (b.peer_id, True)]
    wait_until(lambda: a.peer_id in b.topic_peers("bundles"), "a's subscription to reach the restarted b")
    # Same key, a new process's seqno counter: with the library default these ids were seen and dropped.
    for index in range(30):
        b.publish("bundles", f"after {index}".encode())
        b.send(a.peer_id, "consensus", f"after {index}".encode())
    bundles.wait_for(60, "bundles")
    messages.wait_for(60)
    assert sorted(bundles.payloads()) == sorted(
        [f"before {i}".encode() for i in range(30)] + [f"after {i}".encode() for i in range(30)]
    )
    assert messages.payloads()[30:] == [f"after {i}".encode() for i in range(30)]
    a.send(b.peer_id, "consensus", b"welcome back")
    restarted_messages.wait_for(1)
    assert a.request(b.peer_id, "ping", b"1", timeout=10) == b"pong 1"


def test_the_peer_that_does_not_dial_comes_back_too(pair: Libp2pCluster) -> None:
    a, b = pair.transports  # a has no address for b: after a's restart b must redial it, with backoff
    a = pair.restart(0)
    wait_until(lambda: a.peers() == {b.peer_id} and b.peers() == {a.peer_id}, "b to redial the restarted a")
    received = Recorder()
    a.on_message("consensus", received)
    b.send(a.peer_id, "consensus", b"hello again")
    received.wait_for(1)


def test_publish_waits_for_room_and_loses_no_bundle(tmp_path: Path) -> None:
    cluster = Libp2pCluster(tmp_path, 3)
    try:
        publisher, *subscribers = cluster.transports
        recorders = [Recorder() for _ in subscribers]
        for subscriber, recorder in zip(subscribers, recorders, strict=True):
            subscriber.subscribe("bundles", recorder)
        wait_until(lambda: len(publisher.topic_peers("bundles")) == 2, "both subscriptions")
        count = 400  # as fast as publish allows: without waiting for room the library's queues drop most
        for index in range(count):
            publisher.publish("bundles", index.to_bytes(4, "big") * 512)
        for recorder in recorders:
            recorder.wait_for(count, "bundles")
            assert sorted(recorder.payloads()) == [index.to_bytes(4, "big") * 512 for index in range(count)]
        assert all(subscriber.stats().gossip_dropped == 0 for subscriber in subscribers)
        # The library may still drop the subscribers' redundant relays to each other (each subscriber got every
        # bundle from the publisher): it only logs those; the transport counts them in `library_dropped`.
    finally:
        cluster.stop()


def test_a_gossip_payload_at_the_limit_arrives_and_one_byte_more_is_refused(pair: Libp2pCluster) -> None:
    a, b = pair.transports
    limit = pair.configs[0].max_gossip_bytes
    received = Recorder()
    a.subscribe("bundles", received)
    wait_until(lambda: a.peer_id in b.topic_peers("bundles"), "the subscription")
    with pytest.raises(MessageTooLarge) as refused:
        b.publish("bundles", bytes(limit + 1))
    assert refused.value.limit == limit
    b.publish("bundles", b"\x01" * limit)  # the library would drop an RPC over 1 MiB without a word
    received.wait_for(1, "bundle")
    assert received.payloads() == [b"\x01" * limit]


@pytest.mark.parametrize("muxer", ["mplex"])  # the default is yamux
def test_the_other_muxer_carries_messages_and_requests(tmp_path: Path, muxer: str) -> None:
    cluster = Libp2pCluster(tmp_path, 2, muxer=muxer)
    try:
        a, b = cluster.transports
        received = Recorder()
        b.on_message("consensus", received)
        b.on_request("echo", lambda peer, payload: payload)
        for index in range(200):
            a.send(b.peer_id, "consensus", index.to_bytes(2, "big"))
        received.wait_for(200)
        assert received.payloads() == [index.to_bytes(2, "big") for index in range(200)]
        big = bytes(range(256)) * 4096  # 1 MiB through one response
        assert a.request(b.peer_id, "echo", big, timeout=20) == big
    finally:
        cluster.stop()


def test_a_link_lasts_longer_than_its_setup_deadline(tmp_path: Path) -> None:
    cluster = Libp2pCluster(tmp_path, 2, connect_timeout=0.3)
    try:
        a, b = cluster.transports
        events, received = PeerEvents(), Recorder()
        a.on_peer_event(events)
        b.on_message("consensus", received)
        opened = a.stats().connections_opened, b.stats().connections_opened  # setup may have retried under load
        sent, until = 0, time.monotonic() + 1.0  # traffic across three setup deadlines, bounded in time and count
        while time.monotonic() < until and sent < 100_000:
            a.send(b.peer_id, "consensus", sent.to_bytes(4, "big"))
            sent += 1
            received.wait_for(sent)
        assert received.payloads() == [index.to_bytes(4, "big") for index in range(sent)]
        assert events.snapshot() == []  # no disconnect, no reconnect
        assert (a.stats().connections_opened, b.stats().connections_opened) == opened
    finally:
        cluster.stop()


def test_drops_the_library_only_logs_are_counted(pair: Libp2pCluster) -> None:
    a, _ = pair.transports
    before = a.stats().library_dropped
    # What py-libp2p writes, at DEBUG, when a peer's 32-RPC outbound queue is full.
    logging.getLogger("libp2p.pubsub.rpc_queue").debug(
        "Dropping outbound RPC for peer %s (publish=%d, control=%s)", "peer", 1, False
    )
    assert a.stats().library_dropped == before + 1
