"""Two validator hosts in two processes: a bounded exchange of messages, requests and gossip over loopback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dcrm.node.network.config import PeerEntry
from dcrm.node.network.libp2p_transport import Libp2pTransport
from tests.network.support import (
    DEADLINE_SECONDS,
    PeerEvents,
    Recorder,
    config_for_test,
    make_keys,
    peer_process,
    wait_until,
)

pytestmark = pytest.mark.timeout(90)


def test_an_exchange_with_a_host_in_another_process(tmp_path: Path) -> None:
    here, there = make_keys(tmp_path, 2)  # `there` has the lower id and our address: it dials at once
    transport = Libp2pTransport(config_for_test(tmp_path / "peer-0.key", (PeerEntry(there.peer_id),)), here)
    echoes, bundles, published, events = Recorder(), Recorder(), Recorder(), PeerEvents()
    transport.on_message("echo", echoes)
    transport.on_message("published", published)
    transport.on_peer_event(events)
    transport.subscribe("bundles", bundles)
    bound = transport.start()
    try:
        with peer_process(
            tmp_path / "peer-1.key", here.peer_id, f"127.0.0.1:{bound.port}", tmp_path / "peer-process.log"
        ) as other:
            assert other.peer_id == there.peer_id
            wait_until(lambda: there.peer_id in transport.peers(), "the other process to connect")
            for index in range(300):
                transport.send(there.peer_id, "echo", index.to_bytes(4, "big"))
            echoes.wait_for(300, "echoes")
            assert echoes.payloads() == [index.to_bytes(4, "big") for index in range(300)]
            for index in range(20):
                assert transport.request(there.peer_id, "echo", b"block %d" % index, timeout=10) == b"block %d" % index
            order = {"topic": "bundles", "count": 50, "size": 4096}
            transport.send(there.peer_id, "publish", json.dumps(order).encode())
            bundles.wait_for(50, "bundles")
            assert sorted(int.from_bytes(payload[:4], "big") for payload in bundles.payloads()) == list(range(50))
            published.wait_for(1, "the publisher's report")
            transport.send(there.peer_id, "bye", b"")
            assert other.process.wait(timeout=DEADLINE_SECONDS) == 0
            wait_until(lambda: (there.peer_id, False) in events.snapshot(), "the disconnect event")
    finally:
        transport.stop()
    assert transport.stats().messages_dropped == 0
