"""Benchmark: the libp2p validator transport between two processes on loopback.

This process runs one host; `tests.network.peer_process` runs the other. Figures:

- direct messages, one way: 200-byte messages sent as fast as `send` accepts them, from one thread, until the
  other process has handled all of them (messages/s; back-pressure keeps the sender at the receiver's pace);
- direct message latency: ping-pong on one message at a time; the round trip includes both hosts' hops between
  the caller's thread, the trio thread and the delivery thread, so one way is about half of it;
- requests: one at a time (latency), and from 8 threads at once (requests/s);
- gossip bundles: the other process publishes bundles as fast as `publish` allows; the rate at which they
  arrive here (bundles/s, MiB/s).

    python -m tests.bench.bench_network --messages 20000 --out bench-results
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import threading
import time
from importlib.metadata import version
from pathlib import Path
from typing import Any

from dcrm.node.network.config import PeerEntry
from dcrm.node.network.libp2p_transport import Libp2pTransport
from dcrm.node.network.transport import PeerId
from tests.network.support import Recorder, config_for_test, make_keys, peer_process, wait_until

__all__ = ["run"]

MESSAGE_BYTES = 200
REQUEST_THREADS = 8


def _percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def _ms(samples: list[float]) -> dict[str, float]:
    return {
        "p50_ms": round(_percentile(samples, 0.50) * 1000, 3),
        "p99_ms": round(_percentile(samples, 0.99) * 1000, 3),
        "max_ms": round(max(samples) * 1000, 3),
    }


def _one_way_messages(transport: Libp2pTransport, other: PeerId, count: int, done: Recorder) -> dict[str, Any]:
    payload = bytes(MESSAGE_BYTES)
    started = time.perf_counter()
    for _ in range(count):
        transport.send(other, "sink", payload)
    transport.send(other, "sink", b"end")
    done.wait_for(1, "the sink's count")
    elapsed = time.perf_counter() - started
    handled = int(done.payloads()[-1])
    assert handled == count, f"the other process handled {handled} of {count} messages"
    return {"messages": count, "bytes": MESSAGE_BYTES, "seconds": round(elapsed, 3), "per_s": round(count / elapsed)}


def _ping_pong(transport: Libp2pTransport, other: PeerId, samples: int) -> dict[str, Any]:
    arrived = threading.Event()
    transport.on_message("echo", lambda sender, payload: arrived.set())
    round_trips = []
    payload = bytes(MESSAGE_BYTES)
    for _ in range(samples):
        arrived.clear()
        started = time.perf_counter()
        transport.send(other, "echo", payload)
        if not arrived.wait(10):
            raise TimeoutError("an echo did not come back within 10 s")
        round_trips.append(time.perf_counter() - started)
    return {"samples": samples, "round_trip": _ms(round_trips), "one_way_estimate": _ms([t / 2 for t in round_trips])}


def _requests(transport: Libp2pTransport, other: PeerId, count: int) -> dict[str, Any]:
    latencies = []
    for index in range(count):
        started = time.perf_counter()
        transport.request(other, "echo", index.to_bytes(4, "big"), timeout=10)
        latencies.append(time.perf_counter() - started)
    per_thread = count // REQUEST_THREADS

    def ask() -> None:
        for index in range(per_thread):
            transport.request(other, "echo", index.to_bytes(4, "big"), timeout=30)

    threads = [threading.Thread(target=ask) for _ in range(REQUEST_THREADS)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    concurrent_s = time.perf_counter() - started
    return {
        "sequential": {"requests": count, "per_s": round(count / sum(latencies)), **_ms(latencies)},
        "concurrent": {
            "threads": REQUEST_THREADS,
            "requests": per_thread * REQUEST_THREADS,
            "per_s": round(per_thread * REQUEST_THREADS / concurrent_s),
        },
    }


def _gossip(transport: Libp2pTransport, other: PeerId, bundles: int, size: int, received: Recorder) -> dict[str, Any]:
    first_arrival: list[float] = []

    def note_first() -> bool:
        if received.count() and not first_arrival:
            first_arrival.append(time.perf_counter())
        return received.count() >= bundles

    reports = Recorder()
    transport.on_message("published", reports)
    transport.send(other, "publish", json.dumps({"topic": "bundles", "count": bundles, "size": size}).encode())
    wait_until(note_first, f"{bundles} bundles", deadline_seconds=120)
    elapsed = time.perf_counter() - first_arrival[0]
    reports.wait_for(1, "the publisher's report")
    publish_s = float(reports.payloads()[0])
    return {
        "bundles": bundles,
        "bundle_bytes": size,
        "received": received.count(),
        "publisher_seconds": round(publish_s, 3),
        "bundles_per_s": round(bundles / max(elapsed, publish_s)),
        "mib_per_s": round(bundles * size / max(elapsed, publish_s) / (1 << 20), 1),
    }


def run(
    messages: int = 20_000,
    latency_samples: int = 2_000,
    requests: int = 2_000,
    bundles: int = 300,
    bundle_bytes: int = 64 * 1024,
    muxer: str = "yamux",
) -> dict[str, Any]:
    """Measure the transport between this process and a peer process; returns the figures."""
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        here, there = make_keys(root, 2)  # `there` has the lower id and dials us
        config = config_for_test(root / "peer-0.key", (PeerEntry(there.peer_id),), muxer=muxer)
        transport = Libp2pTransport(config, here)
        done, bundles_received = Recorder(), Recorder()
        transport.on_message("sink-done", done)
        transport.subscribe("bundles", bundles_received)
        bound = transport.start()
        try:
            with peer_process(
                root / "peer-1.key", here.peer_id, f"127.0.0.1:{bound.port}", root / "peer.log", muxer=muxer
            ) as process:
                other = process.peer_id
                wait_until(lambda: other in transport.peers(), "the peer process to connect")
                figures = {
                    "direct_one_way": _one_way_messages(transport, other, messages, done),
                    "direct_latency": _ping_pong(transport, other, latency_samples),
                    "requests": _requests(transport, other, requests),
                    "gossip": _gossip(transport, other, bundles, bundle_bytes, bundles_received),
                }
                transport.send(other, "bye", b"")
                process.process.wait(timeout=30)
        finally:
            transport.stop()
        stats = transport.stats()
    return {
        "environment": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "libp2p": version("libp2p"),
            "trio": version("trio"),
            "muxer": muxer,
        },
        **figures,
        "drops": {
            "messages_dropped": stats.messages_dropped,
            "gossip_dropped": stats.gossip_dropped,
            "library_dropped": stats.library_dropped,
        },
    }


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, print the figures and write them to OUT/network.json."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=20_000, help="one-way direct messages (default 20,000)")
    parser.add_argument("--latency-samples", type=int, default=2_000, help="ping-pong round trips (default 2,000)")
    parser.add_argument("--requests", type=int, default=2_000, help="requests, each way of asking (default 2,000)")
    parser.add_argument("--bundles", type=int, default=300, help="gossip bundles (default 300)")
    parser.add_argument("--bundle-bytes", type=int, default=64 * 1024, help="bytes per bundle (default 64 KiB)")
    parser.add_argument("--muxer", choices=["mplex", "yamux"], default="yamux")
    parser.add_argument("--out", type=Path, default=Path("bench-results"), help="folder for network.json")
    args = parser.parse_args(argv)
    result = run(args.messages, args.latency_samples, args.requests, args.bundles, args.bundle_bytes, args.muxer)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "network.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
