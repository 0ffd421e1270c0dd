"""Bitstring status lists (W3C Bitstring Status List 1.0): bounds, and bits stored in fixed-size chunks.

Index 0 is the left-most bit: the most significant bit of byte 0. Chunks without a set bit are deleted, so a
list costs storage only for the chunks that hold revoked or suspended indices.
"""

from __future__ import annotations

from dcrm.runtime.modules.identity import errors
from dcrm.runtime.modules.identity.did import NAME_RE
from dcrm.runtime.modules.identity.storage import CHUNK_BYTES, STATUS_CHUNKS, chunk_key, list_key
from dcrm.runtime.state.kv import KVReader
from dcrm.runtime.state.overlay import Overlay
from dcrm.v1 import identity_pb2

# The specification requires at least 16 KiB (131,072 entries) so that one index hides among many.
MIN_LIST_SIZE = 131_072
MAX_LIST_SIZE = 1_048_576
CHUNK_BITS = CHUNK_BYTES * 8
PURPOSES = (identity_pb2.REVOCATION, identity_pb2.SUSPENSION)


def check_list_id(list_id: str, field: str = "list_id") -> None:
    if NAME_RE.fullmatch(list_id) is None:
        raise errors.BAD_STATUS_LIST(
            f"{field} {list_id[:70]!r} must be 1 to 64 of A-Z a-z 0-9 . _ - starting alphanumeric"
        )


def check_list_shape(purpose: int, size: int) -> None:
    if purpose not in PURPOSES:
        raise errors.BAD_STATUS_LIST(f"purpose {purpose} must be REVOCATION (1) or SUSPENSION (2)")
    if not MIN_LIST_SIZE <= size <= MAX_LIST_SIZE or size % 8:
        raise errors.BAD_STATUS_LIST(
            f"size {size} must be a multiple of 8 from {MIN_LIST_SIZE} to {MAX_LIST_SIZE} bits"
        )


def _locate(index: int) -> tuple[int, int, int]:
    """(chunk number, byte within the chunk, bit mask) of a status index."""
    chunk, bit = divmod(index, CHUNK_BITS)
    return chunk, bit // 8, 0x80 >> (bit % 8)


def get_bit(state: KVReader, msid: str, list_id: str, index: int) -> bool:
    chunk, offset, mask = _locate(index)
    stored = STATUS_CHUNKS.get(state, chunk_key(msid, list_id, chunk))
    return stored is not None and bool(stored[offset] & mask)


def set_bit(state: Overlay, msid: str, list_id: str, index: int, value: bool) -> None:
    chunk, offset, mask = _locate(index)
    key = chunk_key(msid, list_id, chunk)
    data = bytearray(STATUS_CHUNKS.get(state, key) or bytes(CHUNK_BYTES))
    data[offset] = data[offset] | mask if value else data[offset] & ~mask
    if any(data):
        STATUS_CHUNKS.put(state, key, bytes(data))
    else:
        STATUS_CHUNKS.delete(state, key)


def read_bits(state: KVReader, msid: str, list_id: str, size: int) -> bytes:
    """The whole list, size / 8 bytes."""
    bits = bytearray(size // 8)
    prefix = list_key(msid, list_id) + b"/"
    for key, chunk in STATUS_CHUNKS.items(state, prefix):
        start = int.from_bytes(key[len(prefix) :], "big") * CHUNK_BYTES
        bits[start : start + len(chunk)] = chunk[: len(bits) - start]
    return bytes(bits)


def set_indices(state: KVReader, msid: str, list_id: str) -> list[int]:
    """The set indices in ascending order."""
    found: list[int] = []
    prefix = list_key(msid, list_id) + b"/"
    for key, chunk in STATUS_CHUNKS.items(state, prefix):
        base = int.from_bytes(key[len(prefix) :], "big") * CHUNK_BITS
        for offset, byte in enumerate(chunk):
            found.extend(base + offset * 8 + bit for bit in range(8) if byte & (0x80 >> bit))
    return found
