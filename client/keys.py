"""secp256k1 signing keys, account ids, recoverable signatures and key files.

An account id is sha256(33-byte compressed public key)[:20]. Signatures are 65 bytes: r || s || recovery id,
over sha256(message), deterministic (RFC 6979) and low-s, as libsecp256k1 (through coincurve) makes them.

A key file is JSON, `{"type": "secp256k1", "private_key": hex, "public_key": hex, "account": hex}`, created
with mode 0600 and never overwritten; loading refuses files that group or others may access. An encrypted
key file (`dcrm.client.keystore`) has a `crypto` object instead of `private_key`; `load_key` reads both,
the encrypted kind with a passphrase.
"""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any

import coincurve

from dcrm.client import private_files
from dcrm.client.errors import KeyFileError, SignatureError

__all__ = [
    "ACCOUNT_ID_LENGTH",
    "KEY_TYPE",
    "PRIVATE_KEY_LENGTH",
    "PUBLIC_KEY_LENGTH",
    "SIGNATURE_LENGTH",
    "SigningKey",
    "account_id_from_public_key",
    "from_hex",
    "load_key",
    "recover_public_key",
    "save_key",
    "sha256",
    "to_hex",
    "write_private_file",
]

PRIVATE_KEY_LENGTH = 32
PUBLIC_KEY_LENGTH = 33
ACCOUNT_ID_LENGTH = 20
SIGNATURE_LENGTH = 65
DIGEST_LENGTH = 32
KEY_TYPE = "secp256k1"
MAX_KEY_FILE_SIZE = 64 * 1024


def sha256(data: bytes) -> bytes:
    """The 32-byte SHA-256 digest of `data`."""
    return hashlib.sha256(data).digest()


def to_hex(data: bytes) -> str:
    """Lower-case hex of `data`, without a prefix."""
    return data.hex()


def from_hex(text: str, *, length: int | None = None, what: str = "value") -> bytes:
    """Bytes from hex text (an optional "0x" prefix is allowed).

    Raises ValueError naming `what` when the text is not hex or does not decode to `length` bytes.
    """
    digits = text[2:] if text[:2] in ("0x", "0X") else text
    try:
        data = bytes.fromhex(digits)
    except ValueError:
        raise ValueError(f"{what} is not hex: {text!r}") from None
    if length is not None and len(data) != length:
        raise ValueError(f"{what} must be {length} bytes, got {len(data)}")
    return data


def account_id_from_public_key(public_key: bytes) -> bytes:
    """The 20-byte account id of a 33-byte compressed secp256k1 public key.

    Raises ValueError when `public_key` is not a valid compressed point.
    """
    if len(public_key) != PUBLIC_KEY_LENGTH or public_key[0] not in (2, 3):
        raise ValueError(f"a public key must be {PUBLIC_KEY_LENGTH} bytes, compressed (02 or 03 first)")
    try:
        coincurve.PublicKey(public_key)
    except ValueError:
        raise ValueError(f"{public_key.hex()} is not a point on secp256k1") from None
    return sha256(public_key)[:ACCOUNT_ID_LENGTH]


def recover_public_key(message: bytes, signature: bytes) -> bytes:
    """The 33-byte compressed public key whose key made `signature` over sha256(message).

    Raises SignatureError when the signature is not 65 bytes or recovers no key.
    """
    if len(signature) != SIGNATURE_LENGTH:
        raise SignatureError(f"a signature must be {SIGNATURE_LENGTH} bytes, got {len(signature)}")
    try:
        key = coincurve.PublicKey.from_signature_and_message(signature, message, hasher=sha256)
    except ValueError as error:
        raise SignatureError(f"the signature recovers no public key: {error}") from None
    return key.format(compressed=True)


class SigningKey:
    """A secp256k1 private key with its public key and account id.

    `repr()` shows the account id only; the secret is available through `secret` and `to_hex()`.
    """

    __slots__ = ("_account_id", "_key", "_public_key")

    def __init__(self, secret: bytes) -> None:
        """Raises ValueError unless `secret` is 32 bytes and a valid scalar (0 < secret < curve order)."""
        if len(secret) != PRIVATE_KEY_LENGTH:
            raise ValueError(f"a private key must be {PRIVATE_KEY_LENGTH} bytes, got {len(secret)}")
        try:
            self._key = coincurve.PrivateKey(secret)
        except ValueError:
            raise ValueError("the private key is not a valid secp256k1 scalar (0 < key < n)") from None
        self._public_key: bytes = self._key.public_key.format(compressed=True)
        self._account_id = sha256(self._public_key)[:ACCOUNT_ID_LENGTH]

    @classmethod
    def generate(cls) -> SigningKey:
        """A new key from the operating system's random source."""
        return cls(coincurve.PrivateKey().secret)

    @classmethod
    def from_hex(cls, text: str) -> SigningKey:
        """The key whose 32-byte secret is `text` in hex. Raises ValueError for bad hex or an invalid key."""
        return cls(from_hex(text, length=PRIVATE_KEY_LENGTH, what="private key"))

    def to_hex(self) -> str:
        """The 32-byte secret in hex. Treat it as the key itself."""
        return self._key.secret.hex()

    @property
    def secret(self) -> bytes:
        """The 32-byte secret."""
        return bytes(self._key.secret)

    @property
    def public_key(self) -> bytes:
        """The 33-byte compressed public key."""
        return self._public_key

    @property
    def account_id(self) -> bytes:
        """The 20-byte account id: sha256(public_key)[:20]."""
        return self._account_id

    def sign_recoverable(self, message: bytes) -> bytes:
        """A 65-byte recoverable signature (r || s || recovery id) over sha256(message)."""
        return bytes(self._key.sign_recoverable(message, hasher=sha256))

    def sign_digest(self, digest: bytes) -> bytes:
        """A 65-byte recoverable signature over a 32-byte digest the caller computed.

        Raises ValueError when `digest` is not 32 bytes.
        """
        if len(digest) != DIGEST_LENGTH:
            raise ValueError(f"a digest must be {DIGEST_LENGTH} bytes, got {len(digest)}")
        return bytes(self._key.sign_recoverable(digest, hasher=None))

    def __repr__(self) -> str:
        return f"SigningKey(account={self._account_id.hex()})"


def save_key(path: str | os.PathLike[str], key: SigningKey) -> None:
    """Write `key` to a new key file at `path` with mode 0600.

    Raises KeyFileError when the file already exists (it is never overwritten) or cannot be written; a
    partly written file is removed.
    """
    document = {
        "type": KEY_TYPE,
        "private_key": key.to_hex(),
        "public_key": key.public_key.hex(),
        "account": key.account_id.hex(),
    }
    write_private_file(path, (json.dumps(document, indent=2) + "\n").encode())


def write_private_file(path: str | os.PathLike[str], data: bytes, *, replace: bool = False) -> None:
    """Write `data` to a new file at `path` with mode 0600, synced.

    With `replace`, the data goes to a new file beside `path` that then replaces it atomically. Raises
    KeyFileError when the file exists (without `replace`) or cannot be written; a partly written file is
    removed.
    """
    private_files.write_private_file(
        path, data, KeyFileError, replace=replace, missing_directory="its directory does not exist"
    )


def load_key(path: str | os.PathLike[str], passphrase: str | bytes | None = None) -> SigningKey:
    """Read the key file at `path`, plain or encrypted (an encrypted one needs `passphrase`).

    Raises KeyFileError when the file is missing, unreadable, not a regular file, accessible to group or
    others, not the JSON this module or dcrm.client.keystore writes, when its public key or account do not
    match its private key, or when it is encrypted and the passphrase is missing or wrong.
    """
    raw = _read_private_file(path)
    try:
        document: Any = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise KeyFileError(path, "is not UTF-8 text") from None
    except json.JSONDecodeError as error:
        raise KeyFileError(path, f"is not JSON: {error.msg} at line {error.lineno}, column {error.colno}") from None
    if not isinstance(document, dict):
        raise KeyFileError(path, f"must hold a JSON object, not {type(document).__name__}")
    key_type = document.get("type")
    if key_type != KEY_TYPE:
        raise KeyFileError(path, f'"type" must be "{KEY_TYPE}", got {key_type!r}')
    if "crypto" in document:
        if passphrase is None:
            raise KeyFileError(path, "is encrypted; its passphrase is needed to unlock it")
        from dcrm.client.keystore import decrypt_key

        try:
            return decrypt_key(path, document, passphrase)
        except ImportError as error:  # the cryptography package is missing
            raise KeyFileError(path, f"is encrypted, and reading it needs `pip install dcrm[node]` ({error})") from None
    secret = _hex_field(path, document, "private_key", PRIVATE_KEY_LENGTH)
    public_key = _hex_field(path, document, "public_key", PUBLIC_KEY_LENGTH)
    account = _hex_field(path, document, "account", ACCOUNT_ID_LENGTH)
    try:
        key = SigningKey(secret)
    except ValueError as error:
        raise KeyFileError(path, f'"private_key": {error}') from None
    if public_key != key.public_key:
        raise KeyFileError(
            path, f'"public_key" {public_key.hex()} is not the private key\'s public key {key.public_key.hex()}'
        )
    if account != key.account_id:
        raise KeyFileError(path, f'"account" {account.hex()} is not the private key\'s account {key.account_id.hex()}')
    return key


def _read_private_file(path: str | os.PathLike[str]) -> bytes:
    return private_files.read_private_file(
        path,
        KeyFileError,
        limit=MAX_KEY_FILE_SIZE,
        too_large=lambda size: f"is {size} bytes; a key file is under {MAX_KEY_FILE_SIZE}",
        grew=f"grew past {MAX_KEY_FILE_SIZE} bytes while being read",
        access_advice="access it; run `chmod 600` on it",
        permission_denied="cannot be read: permission denied",
    )


def _hex_field(path: str | os.PathLike[str], document: dict[str, Any], name: str, length: int) -> bytes:
    value = document.get(name)
    if value is None:
        raise KeyFileError(path, f'"{name}" is missing')
    if not isinstance(value, str):
        raise KeyFileError(path, f'"{name}" must be a hex string, not {type(value).__name__}')
    try:
        return from_hex(value, length=length, what=f'"{name}"')
    except ValueError as error:
        raise KeyFileError(path, str(error)) from None
