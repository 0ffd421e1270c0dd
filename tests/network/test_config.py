"""Network settings are checked when built; every error names the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from dcrm.node.network.config import NetworkConfig, PeerEntry, parse_address
from dcrm.node.network.transport import PeerId

PEER = PeerId("12D3KooWA4Xop1JaT3MHxwYMkCepYsv4iPVopMXwCz5iHYdBfeSB")


def test_defaults_listen_on_loopback_at_a_port_picked_at_run_time() -> None:
    config = NetworkConfig(peer_key_path=Path("peer.key"), peers=(PeerEntry(PEER, "10.0.0.2:7001"),))
    assert (config.listen_host, config.listen_port) == ("127.0.0.1", 0)
    assert config.allowed == {PEER}
    assert config.peers[0].host_port == ("10.0.0.2", 7001)
    assert parse_address("validator-2.example:7001") == ("validator-2.example", 7001)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"listen_port": 70000}, "listen_port"),
        ({"listen_host": "not a host"}, "host"),
        ({"muxer": "quic"}, "muxer"),
        ({"max_gossip_bytes": 2 << 20}, "max_gossip_bytes"),
        ({"message_window": 0}, "message_window"),
        ({"send_timeout": 0}, "send_timeout"),
        ({"reconnect_min_delay": 2.0, "reconnect_max_delay": 1.0}, "reconnect_max_delay"),
        ({"peers": (PeerEntry(PEER), PeerEntry(PEER))}, "listed twice"),
    ],
)
def test_bad_values_are_refused_naming_the_field(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        NetworkConfig(peer_key_path=Path("peer.key"), **changes)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("peer_id", "address"), [("not-a-peer-id", None), (PEER, "no-port"), (PEER, "host:0"), (PEER, "1.2.3:80")]
)
def test_bad_peer_entries_are_refused(peer_id: str, address: str | None) -> None:
    with pytest.raises(ValueError, match="peers"):
        PeerEntry(PeerId(peer_id), address)
