"""Consent module storage items and their key layouts.

DIDs and codes never contain "/", so `<did>/` and `<subject>/<controller>/<purpose>/<category>/` are exact prefixes.
"""

from __future__ import annotations

from dcrm.runtime.modules.consent.errors import MODULE
from dcrm.runtime.storage import BYTES, FLAG, U64, StorageMap, StorageValue, proto_codec
from dcrm.v1 import consent_pb2

U64_MAX = 2**64 - 1

# record id -> exact bytes of the current ConsentRecord revision
RECORDS: StorageMap[bytes] = StorageMap(MODULE, "record", BYTES)
# record id + revision (4 bytes) -> exact bytes of a superseded revision
REVISIONS: StorageMap[bytes] = StorageMap(MODULE, "revision", BYTES)
# subject/controller/purpose/category/ + record id -> present while that record is given or renewed (check's index)
GRANTS: StorageMap[bool] = StorageMap(MODULE, "grant", FLAG)
# subject/controller/purpose/category/ + (U64_MAX - valid_from, 8 bytes) + record id -> every record ever given,
# newest first (check's index for a past moment)
HISTORY: StorageMap[bool] = StorageMap(MODULE, "history", FLAG)
# valid_until (8 bytes) + record id -> present while the record is requested, given or renewed
EXPIRY: StorageMap[bool] = StorageMap(MODULE, "expiry", FLAG)
# did/ + created_ms (8 bytes) + record id -> present for every record of the DID
BY_SUBJECT: StorageMap[bool] = StorageMap(MODULE, "by_subject", FLAG)
BY_CONTROLLER: StorageMap[bool] = StorageMap(MODULE, "by_controller", FLAG)
# subject/ + seq (8 bytes) -> one logged access
ACCESS: StorageMap[consent_pb2.AccessEntry] = StorageMap(MODULE, "access", proto_codec(consent_pb2.AccessEntry))
# the seq the next logged access gets
ACCESS_SEQ: StorageValue[int] = StorageValue(MODULE, "access_seq", U64)

RECORD_ID_LENGTH = 16
TIME_BYTES = 8


def be64(value: int) -> bytes:
    return value.to_bytes(8, "big")


def be32(value: int) -> bytes:
    return value.to_bytes(4, "big")


def coverage_prefix(subject: str, controller: str, purpose: str, category: str) -> bytes:
    return f"{subject}/{controller}/{purpose}/{category}/".encode()


def history_suffix(valid_from_ms: int, record_id: bytes) -> bytes:
    """Newest first: ascending keys over the inverted time."""
    return be64(U64_MAX - valid_from_ms) + record_id


def revision_key(record_id: bytes, revision: int) -> bytes:
    return record_id + be32(revision)


def expiry_key(valid_until_ms: int, record_id: bytes) -> bytes:
    return be64(valid_until_ms) + record_id


def listing_key(did: str, created_ms: int, record_id: bytes) -> bytes:
    return did.encode() + b"/" + be64(created_ms) + record_id


def access_key(subject: str, seq: int) -> bytes:
    return subject.encode() + b"/" + be64(seq)
