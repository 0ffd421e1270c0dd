"""A second validator host in its own process, for the cross-process test and the network benchmark.

Run as `python -m tests.network.peer_process '<json>'` with {"key_path", "peer", "address", "deadline_seconds",
"muxer"}: it dials `peer` at `address`, prints one JSON line {"port", "peer_id"} once listening, then serves:

- channel "echo": sends the payload back on "echo";
- channel "sink": counts payloads; on b"end" answers on "sink-done" with the count so far (decimal);
- channel "publish": a JSON {"topic", "count", "size"}; publishes that many bundles (the first 4 bytes number
  them), then answers on "published" with the seconds it took;
- request "echo": answers with the payload;
- channel "bye": stops and exits 0. It also exits, with status 3, when the deadline passes first.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
import time
from pathlib import Path

from dcrm.node.network.config import NetworkConfig, PeerEntry
from dcrm.node.network.libp2p_transport import Libp2pTransport
from dcrm.node.network.peer_key import load_peer_key
from dcrm.node.network.transport import PeerId

EXIT_DEADLINE = 3


def serve(spec: dict[str, object]) -> int:
    key_path = Path(str(spec["key_path"]))
    peer = PeerId(str(spec["peer"]))
    config = NetworkConfig(
        peer_key_path=key_path,
        peers=(PeerEntry(peer, str(spec["address"])),),
        reconnect_max_delay=0.25,
        muxer="mplex" if spec.get("muxer") == "mplex" else "yamux",
    )
    transport = Libp2pTransport(config, load_peer_key(key_path))
    done = threading.Event()
    sunk = 0

    def sink(sender: PeerId, payload: bytes) -> None:
        nonlocal sunk
        if payload == b"end":
            transport.send(sender, "sink-done", str(sunk).encode())
        else:
            sunk += 1

    def publish(sender: PeerId, payload: bytes) -> None:
        order = json.loads(payload)
        topic, count, size = str(order["topic"]), int(order["count"]), int(order["size"])
        deadline = time.monotonic() + 20
        while sender not in transport.topic_peers(topic) and time.monotonic() < deadline:
            time.sleep(0.005)
        started = time.perf_counter()
        for index in range(count):
            transport.publish(topic, index.to_bytes(4, "big") + bytes(size - 4))
        transport.send(sender, "published", str(time.perf_counter() - started).encode())

    transport.on_message("echo", lambda sender, payload: transport.send(sender, "echo", payload))
    transport.on_message("sink", sink)
    transport.on_message("publish", publish)
    transport.on_message("bye", lambda sender, payload: done.set())
    transport.on_request("echo", lambda sender, payload: payload)
    bound = transport.start()
    print(json.dumps({"port": bound.port, "peer_id": bound.peer_id}), flush=True)
    try:
        finished = done.wait(float(str(spec.get("deadline_seconds", 60))))
    finally:
        transport.stop()
    return 0 if finished else EXIT_DEADLINE


if __name__ == "__main__":
    # Warnings (refusals, drops, failing handlers) reach stderr, which the parent keeps in a log file.
    logging.basicConfig(level=os.environ.get("DCRM_PEER_PROCESS_LOG_LEVEL", "WARNING"))
    sys.exit(serve(json.loads(sys.argv[1])))
