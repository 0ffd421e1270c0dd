"""Blocks, certificates, receipts, indexes and the head, in the same store as the state.

Key layout (one byte of prefix each; the runtime owns b"S" state and b"T" tree nodes):
  B height     -> Block bytes as received        C height -> CommitCertificate bytes
  H block hash -> height                          N height -> block hash
  X tx hash -> height ++ index
  R height index -> Receipt bytes                 E height -> block events (EventsResponse bytes)
  M head       -> height ++ block hash            M genesis -> canonical genesis JSON
Every committed block is one atomic write of all of these plus its state writes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from dcrm.runtime.crypto import sha256
from dcrm.runtime.state.kv import KVReader, KVStore, Writes
from dcrm.v1 import node_pb2, types_pb2

__all__ = ["ChainStore", "Head", "StoredBlock"]

_HEAD = b"Mhead"
_GENESIS = b"Mgenesis"


def _height_key(prefix: bytes, height: int) -> bytes:
    return prefix + height.to_bytes(8, "big")


@dataclass(frozen=True, slots=True)
class Head:
    height: int
    block_hash: bytes


@dataclass(frozen=True, slots=True)
class StoredBlock:
    """A block as committed: the exact bytes, its decoded header and its certificate."""

    height: int
    block_hash: bytes
    block: types_pb2.Block
    header: types_pb2.BlockHeader
    certificate: types_pb2.CommitCertificate


class ChainStore:
    """Reads and atomic writes of the chain's records. Callers serialize writes."""

    def __init__(self, kv: KVStore) -> None:
        self.kv = kv

    def head(self, reader: KVReader | None = None) -> Head | None:
        raw = (reader or self.kv).get(_HEAD)
        if raw is None:
            return None
        return Head(int.from_bytes(raw[:8], "big"), raw[8:])

    def genesis_bytes(self) -> bytes | None:
        return self.kv.get(_GENESIS)

    def block_writes(
        self,
        *,
        height: int,
        block_hash: bytes,
        block_bytes: bytes,
        certificate: types_pb2.CommitCertificate,
        tx_hashes: Sequence[bytes],
        receipt_bytes: Sequence[bytes],
        block_events: Sequence[types_pb2.Event],
        state_writes: Writes,
    ) -> dict[bytes, bytes | None]:
        """Everything one committed block writes, to apply in a single batch."""
        writes: dict[bytes, bytes | None] = dict(state_writes)
        height_bytes = height.to_bytes(8, "big")
        writes[b"B" + height_bytes] = block_bytes
        writes[b"C" + height_bytes] = certificate.SerializeToString()
        writes[b"H" + block_hash] = height_bytes
        writes[b"N" + height_bytes] = block_hash
        for index, (tx_hash, receipt) in enumerate(zip(tx_hashes, receipt_bytes, strict=True)):
            position = height_bytes + index.to_bytes(4, "big")
            writes[b"X" + tx_hash] = position
            writes[b"R" + position] = receipt
        if block_events:
            writes[b"E" + height_bytes] = node_pb2.EventsResponse(block_events=block_events).SerializeToString()
        writes[_HEAD] = height_bytes + block_hash
        return writes

    def commit(self, writes: Writes, *, genesis: bytes | None = None) -> None:
        """Persist one block's writes durably (fsync), atomically."""
        if genesis is not None:
            writes = {**writes, _GENESIS: genesis}
        self.kv.write(writes, sync=True)

    def block(self, height: int, reader: KVReader | None = None) -> StoredBlock | None:
        source = reader or self.kv
        raw = source.get(_height_key(b"B", height))
        if raw is None:
            return None
        block = types_pb2.Block.FromString(raw)
        header = types_pb2.BlockHeader.FromString(block.header)
        certificate = types_pb2.CommitCertificate.FromString(source.get(_height_key(b"C", height)) or b"")
        return StoredBlock(height, sha256(block.header), block, header, certificate)

    def block_hash(self, height: int) -> bytes | None:
        return self.kv.get(_height_key(b"N", height))

    def height_of(self, block_hash: bytes) -> int | None:
        raw = self.kv.get(b"H" + block_hash)
        return None if raw is None else int.from_bytes(raw, "big")

    def receipt(self, tx_hash: bytes) -> types_pb2.Receipt | None:
        position = self.kv.get(b"X" + tx_hash)
        if position is None:
            return None
        raw = self.kv.get(b"R" + position)
        return None if raw is None else types_pb2.Receipt.FromString(raw)

    def receipts(self, height: int) -> list[types_pb2.Receipt]:
        return [types_pb2.Receipt.FromString(raw) for _, raw in self.kv.iterate(_height_key(b"R", height))]

    def block_events(self, height: int) -> list[types_pb2.Event]:
        raw = self.kv.get(_height_key(b"E", height))
        return [] if raw is None else list(node_pb2.EventsResponse.FromString(raw).block_events)
