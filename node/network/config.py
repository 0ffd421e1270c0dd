"""Network settings of one validator: where it listens, its peer key, and the peers it accepts.

The node config loader turns a `[network]` section into a `NetworkConfig` (see docs/architecture.md, Network).
Construction checks every value and raises ValueError naming the field.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from dcrm.node.network.transport import PeerId

__all__ = ["GOSSIP_LIBRARY_LIMIT", "NetworkConfig", "PeerEntry", "parse_address"]

GOSSIP_LIBRARY_LIMIT = 1 << 20
"""py-libp2p drops a pubsub RPC over 1 MiB without an error: the gossip payload limit stays below it, leaving
room for the envelope (topic, sender, sequence number, signature, key and signed peer record)."""
_GOSSIP_ENVELOPE_ROOM = 64 * 1024

_HOSTNAME = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9-]{1,63})*$")
_PEER_ID = re.compile(r"^[1-9A-HJ-NP-Za-km-z]{40,60}$")  # base58btc


def parse_address(text: str) -> tuple[str, int]:
    """Split "host:port" (an IPv4 address or a DNS name, and a port 1-65535). Raises ValueError."""
    host, sep, port_text = text.rpartition(":")
    if not sep or not host or not port_text.isdigit():
        raise ValueError(f'address must be "host:port", got {text!r}')
    port = int(port_text)
    if not 0 < port < 65536:
        raise ValueError(f"port must be 1-65535, got {port}")
    _check_host(host)
    return host, port


def _check_host(host: str) -> None:
    try:
        ipaddress.IPv4Address(host)
    except ValueError:
        if not _HOSTNAME.match(host) or host.replace(".", "").isdigit():
            raise ValueError(f"host must be an IPv4 address or a DNS name, got {host!r}") from None


@dataclass(frozen=True)
class PeerEntry:
    """An allowed peer. With an address this node dials it; without one it waits for the peer to dial in."""

    peer_id: PeerId
    address: str | None = None  # "host:port"

    def __post_init__(self) -> None:
        if not _PEER_ID.match(self.peer_id):
            raise ValueError(f"peers: peer_id must be a base58 libp2p peer id, got {self.peer_id!r}")
        if self.address is not None:
            try:
                parse_address(self.address)
            except ValueError as error:
                raise ValueError(f"peers: {self.peer_id}: {error}") from None

    @property
    def host_port(self) -> tuple[str, int] | None:
        return None if self.address is None else parse_address(self.address)


@dataclass(frozen=True)
class NetworkConfig:
    """Everything the validator transport needs. Sizes are bytes, times seconds."""

    peer_key_path: Path
    peers: tuple[PeerEntry, ...] = ()  # the allowlist: connections from any other peer id are refused
    listen_host: str = "127.0.0.1"
    listen_port: int = 0  # 0: the system picks a free port; `start()` reports the bound one
    # Measured here (tests/bench/bench_network.py): yamux moves 64-256 KiB bundles 2-3x faster (mplex cuts every
    # write into 4 KiB frames); mplex is ~20% faster for 1 KiB gossip and single requests.
    muxer: Literal["mplex", "yamux"] = "yamux"
    max_message_bytes: int = 16 << 20  # direct messages, requests and responses (catch-up batches)
    max_gossip_bytes: int = GOSSIP_LIBRARY_LIMIT - _GOSSIP_ENVELOPE_ROOM
    message_window: int = 256  # direct messages a receiver accepts from one peer before they are handled
    send_queue: int = 256  # messages queued per peer before `send` waits
    request_window: int = 16  # requests one peer may have outstanding here
    gossip_delivery_queue: int = 256  # received gossip messages waiting for their handler; more are dropped
    send_timeout: float = 10.0
    publish_timeout: float = 10.0
    connect_timeout: float = 5.0
    reconnect_min_delay: float = 0.1
    reconnect_max_delay: float = 1.0
    gossip_degree: int = 6  # mesh size; every validator is in the mesh of a set of up to 7
    gossip_heartbeat_seconds: int = 1
    stop_timeout: float = 5.0

    def __post_init__(self) -> None:
        _check_host(self.listen_host)
        if not 0 <= self.listen_port < 65536:
            raise ValueError(f"listen_port: expected 0-65535, got {self.listen_port}")
        if self.muxer not in ("mplex", "yamux"):
            raise ValueError(f'muxer: expected "mplex" or "yamux", got {self.muxer!r}')
        seen: set[str] = set()
        for entry in self.peers:
            if entry.peer_id in seen:
                raise ValueError(f"peers: {entry.peer_id} is listed twice")
            seen.add(entry.peer_id)
        gossip_ceiling = GOSSIP_LIBRARY_LIMIT - _GOSSIP_ENVELOPE_ROOM
        if not 0 < self.max_gossip_bytes <= gossip_ceiling:
            raise ValueError(f"max_gossip_bytes: expected 1-{gossip_ceiling}, got {self.max_gossip_bytes}")
        for name in ("max_message_bytes", "message_window", "send_queue", "request_window", "gossip_degree"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name}: expected a positive number, got {getattr(self, name)}")
        if self.gossip_delivery_queue <= 0 or self.gossip_heartbeat_seconds <= 0:
            raise ValueError("gossip_delivery_queue and gossip_heartbeat_seconds must be positive")
        for name in ("send_timeout", "publish_timeout", "connect_timeout", "reconnect_min_delay", "stop_timeout"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name}: expected a positive number of seconds, got {getattr(self, name)}")
        if self.reconnect_max_delay < self.reconnect_min_delay:
            raise ValueError("reconnect_max_delay: must not be below reconnect_min_delay")

    @property
    def allowed(self) -> frozenset[PeerId]:
        return frozenset(entry.peer_id for entry in self.peers)
