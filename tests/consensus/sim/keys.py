"""Validator keys for the simulator: real secp256k1, or a fast keyed-hash stand-in for hundreds of seeds."""

from __future__ import annotations

import hashlib

from dcrm.node.consensus.pbft import Secp256k1Recoverer, Secp256k1Signer, SignatureRecoverer, Signer

__all__ = ["FakeSigner", "Keyring"]

_MAC_LENGTH = 16
_ACCOUNT_LENGTH = 20


class FakeSigner:
    """account || keyed BLAKE2b(message): as unforgeable as its key within the simulation, 60x faster."""

    def __init__(self, account: bytes, secret: bytes) -> None:
        self._account = account
        self._secret = secret

    @property
    def account(self) -> bytes:
        return self._account

    def sign(self, message: bytes) -> bytes:
        return self._account + hashlib.blake2b(message, key=self._secret, digest_size=_MAC_LENGTH).digest()


class FakeRecoverer:
    def __init__(self, secrets: dict[bytes, bytes]) -> None:
        self._secrets = secrets

    def recover(self, message: bytes, signature: bytes) -> bytes | None:
        account = signature[:_ACCOUNT_LENGTH]
        secret = self._secrets.get(account)
        if secret is None or len(signature) != _ACCOUNT_LENGTH + _MAC_LENGTH:
            return None
        expected = hashlib.blake2b(message, key=secret, digest_size=_MAC_LENGTH).digest()
        return account if signature[_ACCOUNT_LENGTH:] == expected else None


class Keyring:
    """One key per simulated node, derived from its index, so every run names the same accounts."""

    def __init__(self, size: int, *, real_crypto: bool) -> None:
        secrets = [hashlib.sha256(b"dcrm-sim-key-%d" % index).digest() for index in range(size)]
        self.signers: list[Signer]
        self.recoverer: SignatureRecoverer
        if real_crypto:
            self.signers = [Secp256k1Signer(secret) for secret in secrets]
            self.recoverer = Secp256k1Recoverer()
        else:
            accounts = [hashlib.sha256(secret).digest()[:_ACCOUNT_LENGTH] for secret in secrets]
            self.signers = [FakeSigner(account, secret) for account, secret in zip(accounts, secrets, strict=True)]
            self.recoverer = FakeRecoverer(dict(zip(accounts, secrets, strict=True)))
        self.accounts = [signer.account for signer in self.signers]
