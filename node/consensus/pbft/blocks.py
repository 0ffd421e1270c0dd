"""What the core needs to know about a block: its height, its parent and its hash, nothing more.

The core treats a block as opaque bytes. Whether it is valid (transactions, state root, timestamp) is the
executor's verdict, asked for with a `ValidateBlock` action.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Protocol

from google.protobuf.message import DecodeError

from dcrm.v1 import types_pb2

__all__ = ["BlockInfo", "BlockInspector", "HeaderBlockInspector"]


@dataclass(frozen=True, slots=True)
class BlockInfo:
    height: int
    parent_hash: bytes
    block_hash: bytes


class BlockInspector(Protocol):
    """Reads the chain position of a block from its bytes. Must be pure and cheap."""

    def inspect(self, block: bytes) -> BlockInfo | None:
        """The block's position, or None when the bytes are not a block of this chain."""
        ...


class HeaderBlockInspector:
    """For `dcrm.v1.Block`: the hash is sha256 of the exact header bytes the block carries."""

    def __init__(self, chain_id: str) -> None:
        self._chain_id = chain_id

    def inspect(self, block: bytes) -> BlockInfo | None:
        try:
            header_bytes = types_pb2.Block.FromString(block).header
            header = types_pb2.BlockHeader.FromString(header_bytes)
        except DecodeError:
            return None
        if header.chain_id != self._chain_id:
            return None
        return BlockInfo(header.height, header.parent_hash, hashlib.sha256(header_bytes).digest())
