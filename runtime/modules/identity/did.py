"""did:dcrm syntax: method-specific ids, DID URLs of schemas and status lists, and base58btc encoding.

A DID is `did:dcrm:` + base58btc(sha256("dcrm-did:" || creator account || salt)[:16]) (docs/did-method.md).
The runtime only ever encodes base58 (to derive new ids); it checks DIDs given to it by syntax and by
looking them up, so it needs no decoder.
"""

from __future__ import annotations

import re

from dcrm.runtime.crypto import sha256
from dcrm.runtime.modules.identity import errors

PREFIX = "did:dcrm:"
ID_DOMAIN = b"dcrm-did:"
ID_BYTES = 16
MAX_SALT_BYTES = 32
BASE58_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
# 16 bytes are at most 22 base58 digits; leading zero bytes become "1"s.
_MSID = f"[{BASE58_ALPHABET}]{{1,22}}"
_NAME = "[A-Za-z0-9][A-Za-z0-9._-]{0,63}"
_DID_RE = re.compile(f"did:dcrm:({_MSID})")
_SCHEMA_ID_RE = re.compile(f"did:dcrm:({_MSID})/schemas/({_NAME})/({_NAME})")
NAME_RE = re.compile(_NAME)


def base58btc(data: bytes) -> str:
    """Bitcoin's base58 alphabet, one "1" per leading zero byte (the multibase 'z' encoding, without 'z')."""
    number = int.from_bytes(data, "big")
    digits: list[str] = []
    while number:
        number, remainder = divmod(number, 58)
        digits.append(BASE58_ALPHABET[remainder])
    zeros = len(data) - len(data.lstrip(b"\x00"))
    return "1" * zeros + "".join(reversed(digits))


def derive_did(creator: bytes, salt: bytes) -> str:
    """The DID that `creator` creates with `salt` (BadSalt unless the salt is 1 to 32 bytes)."""
    check_salt(salt)
    return PREFIX + base58btc(sha256(ID_DOMAIN + creator + salt)[:ID_BYTES])


def check_salt(salt: bytes) -> None:
    if not 1 <= len(salt) <= MAX_SALT_BYTES:
        raise errors.BAD_SALT(f"salt is {len(salt)} bytes, expected 1 to {MAX_SALT_BYTES}")


def is_did(value: str) -> bool:
    return _DID_RE.fullmatch(value) is not None


def method_specific_id(did: str, field: str = "did") -> str:
    """The method-specific id of a did:dcrm DID; BadDid naming `field` when the syntax is wrong."""
    match = _DID_RE.fullmatch(did)
    if match is None:
        raise errors.BAD_DID(f"{field} {did[:80]!r} is not did:dcrm: followed by 1 to 22 base58btc characters")
    return match.group(1)


def schema_id(issuer_did: str, name: str, version: str) -> str:
    return f"{issuer_did}/schemas/{name}/{version}"


def parse_schema_id(value: str) -> tuple[str, str, str]:
    """(issuer msid, name, version) of a schema id; BadSchema when it is not <did>/schemas/<name>/<version>."""
    match = _SCHEMA_ID_RE.fullmatch(value)
    if match is None:
        raise errors.BAD_SCHEMA(f"schema_id {value[:120]!r} is not <did:dcrm DID>/schemas/<name>/<version>")
    return match.group(1), match.group(2), match.group(3)
