"""did:dcrm identifiers and documents on the client side: base58btc, multikeys, DID derivation, and the
W3C DID Core JSON rendering of the documents the identity module stores.

The method is specified in docs/did-method.md. A DID is `did:dcrm:` + base58btc of the first 16 bytes of
sha256("dcrm-did:" || creator account id || salt); the salt is 1 to 32 bytes the creator picks.
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime
from typing import Any

from dcrm.v1 import identity_pb2

__all__ = [
    "ASSERTION_METHOD",
    "AUTHENTICATION",
    "DID_CONTEXTS",
    "DID_PREFIX",
    "KEY_AGREEMENT",
    "KEY_TYPES",
    "MULTIKEY",
    "SECP256K1_2019",
    "base58btc_decode",
    "base58btc_encode",
    "did_for",
    "from_public_key_multibase",
    "is_did",
    "iso_time",
    "render_document",
    "render_metadata",
    "to_public_key_multibase",
]

DID_PREFIX = "did:dcrm:"
ID_DOMAIN = b"dcrm-did:"
ID_BYTES = 16
MAX_SALT_BYTES = 32
ACCOUNT_ID_BYTES = 20
PUBLIC_KEY_BYTES = 33
BASE58_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_BASE58_VALUES = {char: value for value, char in enumerate(BASE58_ALPHABET)}
SECP256K1_PUB_MULTICODEC = b"\xe7\x01"  # varint of 0xe7, the multicodec "secp256k1-pub"
_DID_RE = re.compile(f"did:dcrm:[{BASE58_ALPHABET}]{{1,22}}")

MULTIKEY = "Multikey"
SECP256K1_2019 = "EcdsaSecp256k1VerificationKey2019"
KEY_TYPES = {MULTIKEY: identity_pb2.MULTIKEY, SECP256K1_2019: identity_pb2.ECDSA_SECP256K1_VERIFICATION_KEY_2019}
_KEY_TYPE_NAMES = {code: name for name, code in KEY_TYPES.items()}

AUTHENTICATION = "authentication"
ASSERTION_METHOD = "assertionMethod"
KEY_AGREEMENT = "keyAgreement"

DID_CONTEXTS = (
    "https://www.w3.org/ns/did/v1",
    "https://w3id.org/security/multikey/v1",
    "https://w3id.org/security/suites/secp256k1-2019/v1",
)


def base58btc_encode(data: bytes) -> str:
    """Bitcoin-alphabet base58, one "1" per leading zero byte (multibase 'z' without the prefix)."""
    number = int.from_bytes(data, "big")
    digits: list[str] = []
    while number:
        number, remainder = divmod(number, 58)
        digits.append(BASE58_ALPHABET[remainder])
    zeros = len(data) - len(data.lstrip(b"\x00"))
    return "1" * zeros + "".join(reversed(digits))


def base58btc_decode(text: str) -> bytes:
    """The bytes of a base58btc string. Raises ValueError naming the first character outside the alphabet."""
    number = 0
    for position, char in enumerate(text):
        value = _BASE58_VALUES.get(char)
        if value is None:
            raise ValueError(f"character {char!r} at position {position} is not base58btc")
        number = number * 58 + value
    zeros = len(text) - len(text.lstrip("1"))
    body = number.to_bytes((number.bit_length() + 7) // 8, "big") if number else b""
    return b"\x00" * zeros + body


def did_for(account_id: bytes, salt: bytes) -> str:
    """The DID that the account `account_id` creates with `salt` (what the create_did call will derive).

    Raises ValueError unless the account id is 20 bytes and the salt 1 to 32 bytes.
    """
    if len(account_id) != ACCOUNT_ID_BYTES:
        raise ValueError(f"account_id must be {ACCOUNT_ID_BYTES} bytes, got {len(account_id)}")
    if not 1 <= len(salt) <= MAX_SALT_BYTES:
        raise ValueError(f"salt must be 1 to {MAX_SALT_BYTES} bytes, got {len(salt)}")
    digest = hashlib.sha256(ID_DOMAIN + account_id + salt).digest()
    return DID_PREFIX + base58btc_encode(digest[:ID_BYTES])


def is_did(value: str) -> bool:
    """Whether `value` is a syntactically valid did:dcrm DID (not whether it exists)."""
    return _DID_RE.fullmatch(value) is not None


def to_public_key_multibase(public_key: bytes) -> str:
    """`publicKeyMultibase` of a 33-byte compressed secp256k1 key: "z" + base58btc(0xe7 0x01 || key)."""
    if len(public_key) != PUBLIC_KEY_BYTES or public_key[0] not in (2, 3):
        raise ValueError(f"public_key must be a {PUBLIC_KEY_BYTES}-byte compressed secp256k1 key")
    return "z" + base58btc_encode(SECP256K1_PUB_MULTICODEC + public_key)


def from_public_key_multibase(value: str) -> bytes:
    """The compressed secp256k1 key of a `publicKeyMultibase`. Raises ValueError for any other encoding."""
    if not value.startswith("z"):
        raise ValueError("publicKeyMultibase must start with 'z' (base58btc)")
    raw = base58btc_decode(value[1:])
    if not raw.startswith(SECP256K1_PUB_MULTICODEC) or len(raw) != len(SECP256K1_PUB_MULTICODEC) + PUBLIC_KEY_BYTES:
        raise ValueError("publicKeyMultibase is not a multicodec secp256k1-pub (0xe7) compressed key")
    return raw[len(SECP256K1_PUB_MULTICODEC) :]


def iso_time(timestamp_ms: int) -> str:
    """An XML Schema dateTime in UTC without fractional seconds, as DID Core and VC 2.0 use."""
    return datetime.fromtimestamp(timestamp_ms // 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def render_document(document: identity_pb2.DidDocument) -> dict[str, Any]:
    """The W3C DID Core JSON of a stored document (a deactivated one has no keys and no services)."""
    did = document.id
    controllers = list(document.controllers) or [did]
    rendered: dict[str, Any] = {
        "@context": list(DID_CONTEXTS),
        "id": did,
        "controller": controllers[0] if len(controllers) == 1 else controllers,
        "verificationMethod": [
            {
                "id": f"{did}#{method.fragment}",
                "type": _KEY_TYPE_NAMES.get(method.type, MULTIKEY),
                "controller": did,
                "publicKeyMultibase": to_public_key_multibase(method.public_key),
            }
            for method in document.verification_methods
        ],
    }
    for name, field in ((AUTHENTICATION, "authentication"), (ASSERTION_METHOD, "assertion_method")):
        rendered[name] = [f"{did}#{m.fragment}" for m in document.verification_methods if getattr(m, field)]
    agreement = [f"{did}#{m.fragment}" for m in document.verification_methods if m.key_agreement]
    if agreement:
        rendered[KEY_AGREEMENT] = agreement
    if document.services:
        rendered["service"] = [
            {"id": f"{did}#{service.fragment}", "type": service.type, "serviceEndpoint": service.endpoint}
            for service in document.services
        ]
    return rendered


def render_metadata(result: identity_pb2.ResolveResult) -> dict[str, Any]:
    """DID document metadata (DID Core 7.1.3) of the version a resolve or resolve_at query returned."""
    version = result.current
    metadata: dict[str, Any] = {"created": iso_time(version.created_ms)}
    if version.version > 1:
        metadata["updated"] = iso_time(version.timestamp_ms)
    metadata["versionId"] = str(version.version)
    metadata["deactivated"] = version.deactivated
    if result.next_version:
        metadata["nextUpdate"] = iso_time(result.next_update_ms)
        metadata["nextVersionId"] = str(result.next_version)
    return metadata
