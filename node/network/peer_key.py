"""The network identity of a node: an ed25519 libp2p key, kept in a key file like the validator's signing key.

The peer id is what libp2p derives from the public key: the identity multihash of the protobuf-encoded key
(`PublicKey{Type: Ed25519, Data: 32 bytes}`), in base58btc, so it reads `12D3KooW...`. Deriving it here lets the
config tools list peer ids without loading libp2p; the libp2p transport checks at start that libp2p agrees.

A peer key file is JSON, `{"type": "libp2p-ed25519", "private_key": hex, "public_key": hex, "peer_id": base58}`,
created with mode 0600 and never overwritten; loading refuses a file that group or others may access. This key
only authenticates connections: it is not the validator's consensus signing key.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from dcrm.client.private_files import read_private_file, write_private_file
from dcrm.node.network.transport import PeerId

__all__ = [
    "PEER_KEY_TYPE",
    "PeerKey",
    "PeerKeyFileError",
    "load_peer_key",
    "peer_id_from_public_key",
    "save_peer_key",
]

PEER_KEY_TYPE = "libp2p-ed25519"
_SEED_LENGTH = 32
_MAX_FILE_SIZE = 64 * 1024
_BASE58_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
# protobuf PublicKey: field 1 (KeyType) = 1 (Ed25519), field 2 (Data) = 32 bytes.
_PROTOBUF_ED25519_PREFIX = bytes([0x08, 0x01, 0x12, 0x20])
_IDENTITY_MULTIHASH = 0x00


class PeerKeyFileError(ValueError):
    """A peer key file cannot be created or loaded; `path` names the file and `problem` says what is wrong."""

    def __init__(self, path: str | os.PathLike[str], problem: str) -> None:
        self.path = os.fspath(path)
        self.problem = problem
        super().__init__(f"peer key file {self.path}: {problem}")


def _base58(data: bytes) -> str:
    number = int.from_bytes(data, "big")
    digits = []
    while number:
        number, remainder = divmod(number, 58)
        digits.append(_BASE58_ALPHABET[remainder])
    leading_zeros = len(data) - len(data.lstrip(b"\0"))
    return "1" * leading_zeros + "".join(reversed(digits))


def peer_id_from_public_key(public_key: bytes) -> PeerId:
    """The libp2p peer id of a 32-byte ed25519 public key."""
    if len(public_key) != _SEED_LENGTH:
        raise ValueError(f"an ed25519 public key is {_SEED_LENGTH} bytes, got {len(public_key)}")
    encoded = _PROTOBUF_ED25519_PREFIX + public_key
    return PeerId(_base58(bytes([_IDENTITY_MULTIHASH, len(encoded)]) + encoded))


@dataclass(frozen=True)
class PeerKey:
    """An ed25519 key pair and its peer id. `secret` is the 32-byte seed (log formatting redacts it)."""

    secret: bytes = field(repr=False)
    public_key: bytes = field(init=False)
    peer_id: PeerId = field(init=False)

    def __post_init__(self) -> None:
        if len(self.secret) != _SEED_LENGTH:
            raise ValueError(f"an ed25519 seed is {_SEED_LENGTH} bytes, got {len(self.secret)}")
        public = Ed25519PrivateKey.from_private_bytes(self.secret).public_key()
        raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        object.__setattr__(self, "public_key", raw)
        object.__setattr__(self, "peer_id", peer_id_from_public_key(raw))

    @classmethod
    def generate(cls) -> PeerKey:
        return cls(os.urandom(_SEED_LENGTH))


def save_peer_key(path: str | os.PathLike[str], key: PeerKey) -> None:
    """Write `key` to a new file at `path` with mode 0600.

    Raises PeerKeyFileError when the file exists (it is never overwritten) or cannot be written; a partly written
    file is removed.
    """
    document = {
        "type": PEER_KEY_TYPE,
        "private_key": key.secret.hex(),
        "public_key": key.public_key.hex(),
        "peer_id": key.peer_id,
    }
    data = (json.dumps(document, indent=2) + "\n").encode()
    write_private_file(path, data, PeerKeyFileError)


def load_peer_key(path: str | os.PathLike[str]) -> PeerKey:
    """Read a peer key file.

    Raises PeerKeyFileError when the file is missing, unreadable, accessible to group or others, not the JSON
    `save_peer_key` writes, or when its public key or peer id do not belong to its private key.
    """
    try:
        document: Any = json.loads(_read_private_file(path).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise PeerKeyFileError(path, "is not a JSON peer key file") from None
    if not isinstance(document, dict) or document.get("type") != PEER_KEY_TYPE:
        raise PeerKeyFileError(path, f'must be a JSON object with "type": "{PEER_KEY_TYPE}"')
    try:
        key = PeerKey(bytes.fromhex(_text_field(path, document, "private_key")))
    except ValueError as error:
        raise PeerKeyFileError(path, f'"private_key": {error}') from None
    if _text_field(path, document, "public_key") != key.public_key.hex():
        raise PeerKeyFileError(path, '"public_key" does not belong to "private_key"')
    if _text_field(path, document, "peer_id") != key.peer_id:
        raise PeerKeyFileError(path, f'"peer_id" is not {key.peer_id}, the id of "private_key"')
    return key


def _text_field(path: str | os.PathLike[str], document: dict[str, Any], name: str) -> str:
    value = document.get(name)
    if not isinstance(value, str):
        raise PeerKeyFileError(path, f'"{name}" must be a string')
    return value


def _read_private_file(path: str | os.PathLike[str]) -> bytes:
    too_large = f"is over {_MAX_FILE_SIZE} bytes; a peer key file is far smaller"
    return read_private_file(
        path,
        PeerKeyFileError,
        limit=_MAX_FILE_SIZE,
        too_large=lambda _size: too_large,
        grew=too_large,
        access_advice="read it; run `chmod 600`",
    )
