"""Encrypted key files: the secret sealed with AES-256-GCM under a key derived from a passphrase by scrypt.

The shape follows the Ethereum keystore v3 (a `crypto` object naming cipher and KDF with their
parameters), with an authenticated cipher instead of CTR + MAC:

```json
{
  "type": "secp256k1",
  "version": 1,
  "account": "<20-byte account id, hex>",
  "public_key": "<33-byte compressed public key, hex>",
  "crypto": {
    "cipher": "aes-256-gcm",
    "cipherparams": {"nonce": "<12 bytes, hex>"},
    "ciphertext": "<32-byte secret + 16-byte tag, hex>",
    "kdf": "scrypt",
    "kdfparams": {"n": 131072, "r": 8, "p": 1, "dklen": 32, "salt": "<16 bytes, hex>"}
  }
}
```

The associated data of the cipher is `dcrm-keystore-v1` + account + public key, so the visible identity
cannot be swapped; altered KDF parameters derive another key, so any change fails like a wrong passphrase.
The file is written like a plain key file (mode 0600, never overwritten) and `dcrm.client.keys.load_key`
reads both kinds. This module needs the `cryptography` package (`pip install dcrm[node]`).
"""

from __future__ import annotations

import json
import os
import secrets
from typing import Any

from dcrm.client.errors import KeyFileError
from dcrm.client.keys import (
    ACCOUNT_ID_LENGTH,
    KEY_TYPE,
    PRIVATE_KEY_LENGTH,
    PUBLIC_KEY_LENGTH,
    SigningKey,
    from_hex,
    write_private_file,
)

__all__ = [
    "DEFAULT_SCRYPT_N",
    "KEYSTORE_VERSION",
    "decrypt_key",
    "encrypt_key",
    "is_encrypted",
    "save_encrypted_key",
]

KEYSTORE_VERSION = 1
DEFAULT_SCRYPT_N = 1 << 17  # ~0.3 s and 128 MiB on a 2-core machine: slow for a guesser, fine at node start
SCRYPT_R = 8
SCRYPT_P = 1
MIN_SCRYPT_N = 1 << 10
MAX_SCRYPT_N = 1 << 20
MAX_SCRYPT_MEMORY = 1 << 30  # 128 * n * r bytes; refuse files that would need more
CIPHER = "aes-256-gcm"
KDF = "scrypt"
SALT_LENGTH = 16
NONCE_LENGTH = 12
TAG_LENGTH = 16
_AAD_PREFIX = b"dcrm-keystore-v1"


def _passphrase_bytes(passphrase: str | bytes) -> bytes:
    data = passphrase.encode("utf-8") if isinstance(passphrase, str) else bytes(passphrase)
    if not data:
        raise ValueError("the passphrase is empty")
    return data


def _derive(passphrase: bytes, salt: bytes, n: int, r: int, p: int) -> bytes:
    from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

    return Scrypt(salt=salt, length=32, n=n, r=r, p=p).derive(passphrase)


def _aad(account: bytes, public_key: bytes) -> bytes:
    return _AAD_PREFIX + account + public_key


def is_encrypted(document: object) -> bool:
    """True when a parsed key file is an encrypted one (it has a `crypto` object)."""
    return isinstance(document, dict) and "crypto" in document


def encrypt_key(key: SigningKey, passphrase: str | bytes, *, scrypt_n: int = DEFAULT_SCRYPT_N) -> dict[str, Any]:
    """The encrypted key file document of `key`. Raises ValueError for an empty passphrase or a bad `scrypt_n`."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    secret = _passphrase_bytes(passphrase)
    if scrypt_n & (scrypt_n - 1) or not MIN_SCRYPT_N <= scrypt_n <= MAX_SCRYPT_N:
        raise ValueError(f"scrypt_n must be a power of two from {MIN_SCRYPT_N} to {MAX_SCRYPT_N}, got {scrypt_n}")
    salt = secrets.token_bytes(SALT_LENGTH)
    nonce = secrets.token_bytes(NONCE_LENGTH)
    derived = _derive(secret, salt, scrypt_n, SCRYPT_R, SCRYPT_P)
    sealed = AESGCM(derived).encrypt(nonce, key.secret, _aad(key.account_id, key.public_key))
    return {
        "type": KEY_TYPE,
        "version": KEYSTORE_VERSION,
        "account": key.account_id.hex(),
        "public_key": key.public_key.hex(),
        "crypto": {
            "cipher": CIPHER,
            "cipherparams": {"nonce": nonce.hex()},
            "ciphertext": sealed.hex(),
            "kdf": KDF,
            "kdfparams": {"n": scrypt_n, "r": SCRYPT_R, "p": SCRYPT_P, "dklen": 32, "salt": salt.hex()},
        },
    }


def save_encrypted_key(
    path: str | os.PathLike[str],
    key: SigningKey,
    passphrase: str | bytes,
    *,
    scrypt_n: int = DEFAULT_SCRYPT_N,
    replace: bool = False,
) -> None:
    """Write `key` encrypted to a new key file at `path` (mode 0600).

    With `replace`, an existing file is replaced atomically (used to encrypt a plain key file in place).
    Raises KeyFileError when the file exists (without `replace`) or cannot be written; ValueError for an
    empty passphrase.
    """
    document = encrypt_key(key, passphrase, scrypt_n=scrypt_n)
    write_private_file(path, (json.dumps(document, indent=2) + "\n").encode(), replace=replace)


def _field(path: str | os.PathLike[str], table: dict[str, Any], name: str, kind: type, where: str) -> Any:
    value = table.get(name)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise KeyFileError(path, f'"{where}{name}" must be a {kind.__name__}, got {value!r}')
    return value


def _hex(path: str | os.PathLike[str], table: dict[str, Any], name: str, length: int | None, where: str) -> bytes:
    text = _field(path, table, name, str, where)
    try:
        return from_hex(text, length=length, what=f'"{where}{name}"')
    except ValueError as error:
        raise KeyFileError(path, str(error)) from None


def decrypt_key(path: str | os.PathLike[str], document: dict[str, Any], passphrase: str | bytes) -> SigningKey:
    """The key sealed in an encrypted key file document (`path` only names it in errors).

    Raises KeyFileError naming the file when the document is malformed, uses an unknown cipher or KDF,
    asks for more scrypt work than allowed, or when the passphrase is wrong (or the file was altered).
    """
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    if document.get("version") != KEYSTORE_VERSION:
        raise KeyFileError(path, f'"version" must be {KEYSTORE_VERSION}, got {document.get("version")!r}')
    account = _hex(path, document, "account", ACCOUNT_ID_LENGTH, "")
    public_key = _hex(path, document, "public_key", PUBLIC_KEY_LENGTH, "")
    crypto = _field(path, document, "crypto", dict, "")
    if crypto.get("cipher") != CIPHER:
        raise KeyFileError(path, f'"crypto.cipher" must be "{CIPHER}", got {crypto.get("cipher")!r}')
    if crypto.get("kdf") != KDF:
        raise KeyFileError(path, f'"crypto.kdf" must be "{KDF}", got {crypto.get("kdf")!r}')
    params = _field(path, crypto, "kdfparams", dict, "crypto.")
    n = _field(path, params, "n", int, "crypto.kdfparams.")
    r = _field(path, params, "r", int, "crypto.kdfparams.")
    p = _field(path, params, "p", int, "crypto.kdfparams.")
    if params.get("dklen") != 32:
        raise KeyFileError(path, f'"crypto.kdfparams.dklen" must be 32, got {params.get("dklen")!r}')
    if n & (n - 1) or not MIN_SCRYPT_N <= n <= MAX_SCRYPT_N or not 1 <= r <= 32 or not 1 <= p <= 16:
        raise KeyFileError(
            path,
            f'"crypto.kdfparams" n={n}, r={r}, p={p} is outside what dcrm accepts '
            f"(n a power of two from {MIN_SCRYPT_N} to {MAX_SCRYPT_N}, r 1 to 32, p 1 to 16)",
        )
    if 128 * n * r > MAX_SCRYPT_MEMORY:
        raise KeyFileError(path, f'"crypto.kdfparams" need {128 * n * r >> 20} MiB; at most 1024 MiB is allowed')
    salt = _hex(path, params, "salt", None, "crypto.kdfparams.")
    nonce = _hex(path, _field(path, crypto, "cipherparams", dict, "crypto."), "nonce", NONCE_LENGTH, "crypto.")
    sealed = _hex(path, crypto, "ciphertext", PRIVATE_KEY_LENGTH + TAG_LENGTH, "crypto.")
    try:
        secret_bytes = _passphrase_bytes(passphrase)
    except ValueError:
        raise KeyFileError(path, "is encrypted and the passphrase given is empty") from None
    derived = _derive(secret_bytes, salt, n, r, p)
    try:
        secret = AESGCM(derived).decrypt(nonce, sealed, _aad(account, public_key))
    except InvalidTag:
        raise KeyFileError(path, "cannot be decrypted: wrong passphrase (or the file was altered)") from None
    try:
        key = SigningKey(secret)
    except ValueError as error:
        raise KeyFileError(path, f"holds an invalid key: {error}") from None
    if key.public_key != public_key or key.account_id != account:
        raise KeyFileError(path, '"public_key" or "account" does not match the encrypted key')
    return key
