"""The dcrm.v1.Admin service: operator methods of a running node (who may call them: node/api/guard.py)."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator

import grpc

from dcrm.node.chain import Chain
from dcrm.v1 import admin_pb2, admin_pb2_grpc

__all__ = ["BACKUP_FORMAT", "AdminServicer", "entry_digest_update"]

log = logging.getLogger(__name__)

BACKUP_FORMAT = "dcrm-leveldb/1"
DEFAULT_CHUNK_BYTES = 1 << 20
CHUNK_OVERHEAD_BYTES = 64 * 1024  # room for field tags and lengths below the message size limit
ENTRY_OVERHEAD_BYTES = 16


def entry_digest_update(digest: hashlib._Hash, key: bytes, value: bytes) -> None:
    """Add one entry to a backup digest: u32 BE key length, key, u32 BE value length, value."""
    digest.update(len(key).to_bytes(4, "big"))
    digest.update(key)
    digest.update(len(value).to_bytes(4, "big"))
    digest.update(value)


class AdminServicer(admin_pb2_grpc.AdminServicer):
    def __init__(self, chain: Chain, max_message_bytes: int) -> None:
        self.chain = chain
        self.max_chunk_bytes = max(CHUNK_OVERHEAD_BYTES, max_message_bytes - CHUNK_OVERHEAD_BYTES)

    def Backup(  # noqa: N802 (the gRPC method name)
        self, request: admin_pb2.BackupRequest, context: grpc.ServicerContext
    ) -> Iterator[admin_pb2.BackupChunk]:
        """Every entry of one LevelDB snapshot, in key order: header, entry chunks, trailer."""
        limit = min(request.max_chunk_bytes or DEFAULT_CHUNK_BYTES, self.max_chunk_bytes)
        snapshot = self.chain.state()
        head = self.chain.head_of(snapshot)
        stored = self.chain.store.block(head.height, snapshot)
        assert stored is not None
        log.info("backup started at height %d for %s", head.height, context.peer(), extra={"height": head.height})
        yield admin_pb2.BackupChunk(
            header=admin_pb2.BackupHeader(
                format=BACKUP_FORMAT,
                chain_id=self.chain.genesis.chain_id,
                height=head.height,
                head_hash=head.block_hash,
                state_root=stored.header.state_root,
                genesis_hash=self.chain.genesis_hash,
            )
        )
        digest = hashlib.sha256()
        count = 0
        chunk = admin_pb2.BackupEntries()
        size = 0
        for key, value in snapshot.iterate(b""):
            entry_size = len(key) + len(value) + ENTRY_OVERHEAD_BYTES
            if chunk.entries and size + entry_size > limit:
                yield admin_pb2.BackupChunk(entries=chunk)
                chunk = admin_pb2.BackupEntries()
                size = 0
                if not context.is_active():
                    return
            chunk.entries.add(key=key, value=value)
            size += entry_size
            entry_digest_update(digest, key, value)
            count += 1
        if chunk.entries:
            yield admin_pb2.BackupChunk(entries=chunk)
        yield admin_pb2.BackupChunk(trailer=admin_pb2.BackupTrailer(entries=count, digest=digest.digest()))
        log.info("backup finished: %d entries at height %d", count, head.height, extra={"height": head.height})
