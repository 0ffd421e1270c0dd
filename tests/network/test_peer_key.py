"""Peer key files and peer ids, derived here exactly as libp2p derives them."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dcrm.node.network.peer_key import (
    PeerKey,
    PeerKeyFileError,
    load_peer_key,
    peer_id_from_public_key,
    save_peer_key,
)

# Computed once with py-libp2p 0.8.1: ID.from_pubkey(Ed25519PrivateKey.from_bytes(seed).get_public_key()).
SEED = bytes(range(32))
PEER_ID = "12D3KooWA4Xop1JaT3MHxwYMkCepYsv4iPVopMXwCz5iHYdBfeSB"
PUBLIC_KEY = bytes.fromhex("03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8")


def test_the_peer_id_is_the_one_libp2p_derives() -> None:
    key = PeerKey(SEED)
    assert key.public_key == PUBLIC_KEY
    assert key.peer_id == PEER_ID
    assert peer_id_from_public_key(PUBLIC_KEY) == PEER_ID
    assert SEED.hex() not in repr(key)


def test_a_saved_key_loads_back_and_is_private(tmp_path: Path) -> None:
    path = tmp_path / "peer.key"
    key = PeerKey.generate()
    save_peer_key(path, key)
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert load_peer_key(path) == key
    with pytest.raises(PeerKeyFileError, match="already exists"):
        save_peer_key(path, PeerKey.generate())


def test_unsafe_or_inconsistent_key_files_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "peer.key"
    save_peer_key(path, PeerKey(SEED))
    os.chmod(path, 0o644)
    with pytest.raises(PeerKeyFileError, match="chmod 600"):
        load_peer_key(path)
    os.chmod(path, 0o600)
    path.write_text(path.read_text().replace(PEER_ID, PeerKey.generate().peer_id))
    with pytest.raises(PeerKeyFileError, match="peer_id"):
        load_peer_key(path)
    path.write_text("not json")
    with pytest.raises(PeerKeyFileError, match="JSON"):
        load_peer_key(path)
    with pytest.raises(PeerKeyFileError, match="does not exist"):
        load_peer_key(tmp_path / "missing.key")
