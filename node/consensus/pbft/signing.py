"""Signing seams of the consensus core, and their secp256k1 implementation.

Votes are signed over sha256 of the exact VoteBody bytes, the form commit certificates carry to clients.
Proposals and view changes are signed over sha256(domain tag || body): a tag starts with "d" (0x64), which
can never begin a serialized protobuf message, so neither can pass for a vote or for each other.
"""

from __future__ import annotations

import hashlib
from typing import Protocol

import coincurve

__all__ = [
    "PROPOSAL_DOMAIN",
    "SIGNATURE_LENGTH",
    "VIEW_CHANGE_DOMAIN",
    "RecoveryCache",
    "Secp256k1Recoverer",
    "Secp256k1Signer",
    "SignatureRecoverer",
    "Signer",
    "account_id",
]

PROPOSAL_DOMAIN = b"dcrm.v1.ProposalBody"
VIEW_CHANGE_DOMAIN = b"dcrm.v1.ViewChangeBody"
SIGNATURE_LENGTH = 65
_RECOVERY_CACHE_LIMIT = 4096


class Signer(Protocol):
    """Signs for one validator account."""

    @property
    def account(self) -> bytes: ...

    def sign(self, message: bytes) -> bytes:
        """A signature over `message` (hashing is the signer's business)."""
        ...


class SignatureRecoverer(Protocol):
    """Finds who signed a message: a recoverable signature names its signer."""

    def recover(self, message: bytes, signature: bytes) -> bytes | None:
        """The signer's account id, or None when the signature is malformed or invalid."""
        ...


def account_id(public_key: bytes) -> bytes:
    """The 20-byte account id of a 33-byte compressed public key: sha256(key)[:20]."""
    return hashlib.sha256(public_key).digest()[:20]


class Secp256k1Signer:
    """65-byte recoverable secp256k1 signatures (r || s || recovery id) over sha256(message)."""

    def __init__(self, secret: bytes) -> None:
        self._key = coincurve.PrivateKey(secret)
        self._account = account_id(self._key.public_key.format(compressed=True))

    @property
    def account(self) -> bytes:
        return self._account

    def sign(self, message: bytes) -> bytes:
        return bytes(self._key.sign_recoverable(message))


class Secp256k1Recoverer:
    """Recovers the account id behind a `Secp256k1Signer` signature."""

    def recover(self, message: bytes, signature: bytes) -> bytes | None:
        if len(signature) != SIGNATURE_LENGTH:
            return None
        try:
            public_key = coincurve.PublicKey.from_signature_and_message(signature, message)
        except ValueError:
            return None
        return account_id(public_key.format(compressed=True))


class RecoveryCache:
    """Remembers recoveries: one vote is checked again inside every certificate that quotes it."""

    def __init__(self, recoverer: SignatureRecoverer) -> None:
        self._recoverer = recoverer
        self._known: dict[tuple[bytes, bytes], bytes | None] = {}

    def recover(self, message: bytes, signature: bytes) -> bytes | None:
        key = (message, signature)
        if key in self._known:
            return self._known[key]
        if len(self._known) >= _RECOVERY_CACHE_LIMIT:
            self._known.clear()  # a crude bound: garbage must not grow memory without limit
        signer = self._known[key] = self._recoverer.recover(message, signature)
        return signer

    def clear(self) -> None:
        self._known.clear()
