"""Hashing and signature recovery used by the state transition function."""

from __future__ import annotations

import hashlib

import coincurve

__all__ = ["BadSignature", "account_id", "merkle_root", "recover_public_key", "sha256"]

SIGNATURE_LENGTH = 65


class BadSignature(ValueError):
    """The signature does not recover to a valid public key."""


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def account_id(public_key: bytes) -> bytes:
    """20-byte account id of a 33-byte compressed secp256k1 public key."""
    return hashlib.sha256(public_key).digest()[:20]


def recover_public_key(message: bytes, signature: bytes) -> bytes:
    """The compressed public key that made `signature` (recoverable, 65 bytes) over sha256(message)."""
    if len(signature) != SIGNATURE_LENGTH:
        raise BadSignature(f"signature must be {SIGNATURE_LENGTH} bytes, got {len(signature)}")
    try:
        key = coincurve.PublicKey.from_signature_and_message(signature, message, hasher=sha256)
    except Exception as error:  # coincurve raises plain Exception/ValueError for invalid points
        raise BadSignature(f"signature does not recover a public key: {error}") from None
    return key.format(compressed=True)


def merkle_root(leaves: list[bytes]) -> bytes:
    """Binary Merkle root of 32-byte leaf hashes; an odd node is promoted. Empty list: 32 zero bytes."""
    if not leaves:
        return bytes(32)
    level = leaves
    while len(level) > 1:
        paired = [sha256(b"\x01" + level[i] + level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    return level[0]
