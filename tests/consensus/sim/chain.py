"""Abstract blocks for the simulator: payload bytes on top of a parent hash, 'executed' by a pure function."""

from __future__ import annotations

import hashlib
import struct

from dcrm.node.consensus.pbft import BlockInfo

__all__ = ["GENESIS_HASH", "INVALID_PAYLOAD", "SimBlocks", "block_hash", "make_block", "payload_of"]

GENESIS_HASH = hashlib.sha256(b"dcrm-sim-genesis").digest()
_MAGIC = b"simblk"
_HEADER = struct.Struct(">6sQ32s")  # magic, height, parent hash
INVALID_PAYLOAD = b"invalid:"  # execution rejects these: what a faulty leader may propose


def block_hash(block: bytes) -> bytes:
    return hashlib.sha256(block).digest()


def make_block(height: int, parent_hash: bytes, payload: bytes) -> bytes:
    return _HEADER.pack(_MAGIC, height, parent_hash) + payload


def payload_of(block: bytes) -> bytes:
    return block[_HEADER.size :]


class SimBlocks:
    """The simulator's `BlockInspector` and executor."""

    def inspect(self, block: bytes) -> BlockInfo | None:
        if len(block) < _HEADER.size or not block.startswith(_MAGIC):
            return None
        _, height, parent_hash = _HEADER.unpack_from(block)
        return BlockInfo(height, parent_hash, block_hash(block))

    @staticmethod
    def execute(block: bytes) -> bool:
        """Whether executing the block succeeds: deterministic in its bytes, as the runtime is."""
        return not payload_of(block).startswith(INVALID_PAYLOAD)
