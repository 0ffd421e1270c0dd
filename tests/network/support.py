"""Helpers for the network tests: clusters of transports, recorders, bounded waits."""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dcrm.node.network.config import NetworkConfig, PeerEntry
from dcrm.node.network.memory import MemoryNetwork, MemoryTransport
from dcrm.node.network.peer_key import PeerKey, load_peer_key, save_peer_key
from dcrm.node.network.transport import PeerId, Transport

if TYPE_CHECKING:
    from dcrm.node.network.libp2p_transport import Libp2pTransport

DEADLINE_SECONDS = 20.0  # generous: these machines are noisy; a healthy run takes a fraction of it


def wait_until(condition: Callable[[], bool], what: str, deadline_seconds: float = DEADLINE_SECONDS) -> None:
    """Poll `condition` until it holds; fail naming `what` after the deadline."""
    deadline = time.monotonic() + deadline_seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {deadline_seconds:.0f} s waiting for {what}")
        time.sleep(0.005)


@dataclass
class Recorder:
    """Collects what a handler receives, from whichever thread delivers it."""

    items: list[tuple[PeerId, bytes]] = field(default_factory=list)
    threads: set[str] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, peer: PeerId, payload: bytes) -> None:
        with self._lock:
            self.items.append((peer, payload))
            self.threads.add(threading.current_thread().name)

    def payloads(self, peer: PeerId | None = None) -> list[bytes]:
        with self._lock:
            return [payload for sender, payload in self.items if peer is None or sender == peer]

    def count(self) -> int:
        with self._lock:
            return len(self.items)

    def wait_for(self, count: int, what: str = "messages") -> None:
        wait_until(lambda: self.count() >= count, f"{count} {what} (have {self.count()})")


@dataclass
class PeerEvents:
    events: list[tuple[PeerId, bool]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, peer: PeerId, connected: bool) -> None:
        with self._lock:
            self.events.append((peer, connected))

    def snapshot(self) -> list[tuple[PeerId, bool]]:
        with self._lock:
            return list(self.events)


def fully_connected(transports: Sequence[Transport]) -> bool:
    return all(t.peers() >= {o.peer_id for o in transports if o is not t} for t in transports)


def config_for_test(key_path: Path, peers: tuple[PeerEntry, ...], **overrides: Any) -> NetworkConfig:
    """A config for tests: loopback, a port picked at run time, short reconnect delays."""
    base = NetworkConfig(peer_key_path=key_path, peers=peers, reconnect_max_delay=0.25, stop_timeout=5.0)
    return replace(base, **overrides)


def make_keys(tmp_path: Path, count: int) -> list[PeerKey]:
    """Saved and reloaded peer keys, highest peer id first: each node started later has a lower id than the
    ones before it, so it dials them at once (the lower id dials)."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    keys = sorted((PeerKey.generate() for _ in range(count)), key=lambda key: key.peer_id, reverse=True)
    loaded = []
    for index, key in enumerate(keys):
        path = tmp_path / f"peer-{index}.key"
        save_peer_key(path, key)
        loaded.append(load_peer_key(path))
    return loaded


@contextmanager
def memory_cluster(count: int, **limits: Any) -> Iterator[list[MemoryTransport]]:
    network = MemoryNetwork()
    names = [PeerId(f"node-{index}") for index in range(count)]
    transports = [MemoryTransport(network, name, names, **limits) for name in names]
    try:
        yield transports
    finally:
        for transport in transports:
            transport.stop()


class Libp2pCluster:
    """Libp2p transports on loopback, each on a port picked at run time. Node i knows the addresses of the
    nodes started before it, and has a lower peer id than they do, so it dials them."""

    def __init__(self, tmp_path: Path, count: int, **overrides: Any) -> None:
        self.keys = make_keys(tmp_path, count)
        self.configs: list[NetworkConfig] = []
        self.transports: list[Libp2pTransport] = []
        self._overrides = overrides
        addresses: list[str] = []
        try:
            for index, key in enumerate(self.keys):
                peers = tuple(
                    PeerEntry(other.peer_id, addresses[position] if position < index else None)
                    for position, other in enumerate(self.keys)
                    if position != index
                )
                config = config_for_test(tmp_path / f"peer-{index}.key", peers, **overrides)
                transport = self._new_transport(config, key)
                bound = transport.start()
                addresses.append(f"127.0.0.1:{bound.port}")
                self.configs.append(replace(config, listen_port=bound.port))  # a restart reuses the port
                self.transports.append(transport)
            wait_until(lambda: fully_connected(self.transports), "every node connected to every other")
        except BaseException:
            self.stop()
            raise

    @staticmethod
    def _new_transport(config: NetworkConfig, key: PeerKey) -> Libp2pTransport:
        from dcrm.node.network.libp2p_transport import Libp2pTransport

        return Libp2pTransport(config, key)

    def restart(self, index: int, before_start: Callable[[Libp2pTransport], None] | None = None) -> Libp2pTransport:
        """Stop node `index` and start a new transport with the same key on the same port."""
        self.transports[index].stop()
        transport = self._new_transport(self.configs[index], self.keys[index])
        if before_start is not None:
            before_start(transport)
        transport.start()
        self.transports[index] = transport
        return transport

    def stop(self) -> None:
        for transport in self.transports:
            transport.stop()


@dataclass
class PeerProcess:
    """`tests.network.peer_process` running in a child process; `info` is the line it printed when ready."""

    process: subprocess.Popen[str]
    info: dict[str, Any]

    @property
    def peer_id(self) -> PeerId:
        return PeerId(str(self.info["peer_id"]))


@contextmanager
def peer_process(key_path: Path, peer: PeerId, address: str, log_path: Path, **options: Any) -> Iterator[PeerProcess]:
    """Start the helper host, wait (bounded) for its ready line, and make sure it is gone afterwards."""
    spec = {"key_path": str(key_path), "peer": peer, "address": address, "deadline_seconds": 60, **options}
    root = Path(__file__).resolve().parents[2]
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "tests.network.peer_process", json.dumps(spec)],
            cwd=root,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )
    lines: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(target=lambda: lines.put(process.stdout.readline() if process.stdout else ""))
    reader.start()
    try:
        try:
            line = lines.get(timeout=DEADLINE_SECONDS)
        except queue.Empty:
            raise AssertionError(f"the peer process printed nothing in {DEADLINE_SECONDS} s") from None
        if not line:
            raise AssertionError(f"the peer process exited early:\n{log_path.read_text()[-3000:]}")
        yield PeerProcess(process, json.loads(line))
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=DEADLINE_SECONDS)
        reader.join(DEADLINE_SECONDS)
        if process.stdout is not None:
            process.stdout.close()
