"""The committed chain: genesis, head, atomic block import, and notifications to waiters.

One writer (the consensus engine) imports blocks; gRPC threads read and wait. Every import, whichever
engine made it, writes one INFO line ("committed block ...", with height, block_hash, transactions,
state_root and import_ms fields) and is reported to the `on_import` listener (the node's metrics).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from dcrm.node.storage.chain_store import ChainStore, Head, StoredBlock
from dcrm.runtime import BlockResult, Genesis, Runtime
from dcrm.runtime.crypto import merkle_root, sha256
from dcrm.runtime.state.kv import KVReader, KVStore
from dcrm.v1 import types_pb2

__all__ = ["Chain", "ChainMismatch", "ImportedBlock", "genesis_block"]

log = logging.getLogger(__name__)


class ChainMismatch(RuntimeError):
    """The data folder holds a different chain than the genesis file describes."""


def genesis_block(genesis: Genesis, state_root: bytes) -> tuple[bytes, types_pb2.Block]:
    """Height 0: no transactions; its parent hash is the hash of the canonical genesis document."""
    header = types_pb2.BlockHeader(
        chain_id=genesis.chain_id,
        height=0,
        parent_hash=sha256(genesis.canonical_bytes()),
        state_root=state_root,
        transactions_root=merkle_root([]),
        receipts_root=merkle_root([]),
        timestamp_ms=genesis.timestamp_ms,
    )
    header_bytes = header.SerializeToString()
    return sha256(header_bytes), types_pb2.Block(header=header_bytes)


@dataclass(frozen=True, slots=True)
class HeadInfo:
    height: int
    block_hash: bytes
    header: types_pb2.BlockHeader


@dataclass(frozen=True, slots=True)
class ImportedBlock:
    """What `Chain.import_block` reports about each block it wrote."""

    height: int
    block_hash: bytes
    transactions: int
    state_root: bytes
    import_seconds: float  # the synced atomic write


class Chain:
    def __init__(
        self,
        kv: KVStore,
        runtime: Runtime,
        genesis: Genesis,
        on_import: Callable[[ImportedBlock], None] | None = None,
    ) -> None:
        self.kv = kv
        self.on_import = on_import
        self.store = ChainStore(kv)
        self.runtime = runtime
        self.genesis = genesis
        self._changed = threading.Condition()
        self._ensure_genesis()
        head = self.store.head()
        assert head is not None
        stored = self.store.block(head.height)
        assert stored is not None
        self._head = HeadInfo(head.height, head.block_hash, stored.header)
        self.genesis_hash = self._block_hash(0)
        self.validators = runtime.validators(kv)

    def _block_hash(self, height: int) -> bytes:
        stored = self.store.block(height)
        assert stored is not None
        return stored.block_hash

    def _ensure_genesis(self) -> None:
        canonical = self.genesis.canonical_bytes()
        stored = self.store.genesis_bytes()
        if stored is not None:
            if stored != canonical:
                raise ChainMismatch(
                    f"{self.kv!r}: the data folder holds another chain than this genesis file (genesis differs)"
                )
            return
        result = self.runtime.build_genesis(self.genesis)
        block_hash, block = genesis_block(self.genesis, result.state_root)
        writes = self.store.block_writes(
            height=0,
            block_hash=block_hash,
            block_bytes=block.SerializeToString(),
            certificate=types_pb2.CommitCertificate(height=0, block_hash=block_hash),
            tx_hashes=[],
            receipt_bytes=[],
            block_events=[],
            state_writes=result.writes,
        )
        self.store.commit(writes, genesis=canonical)
        log.info("initialised chain %s at genesis %s", self.genesis.chain_id, block_hash.hex())

    @property
    def head(self) -> HeadInfo:
        return self._head

    def import_block(
        self,
        header: types_pb2.BlockHeader,
        block: types_pb2.Block,
        certificate: types_pb2.CommitCertificate,
        result: BlockResult,
    ) -> StoredBlock:
        """Persist a block with its certificate, receipts and state in one atomic, synced write."""
        block_hash = sha256(block.header)
        if header.height != self._head.height + 1 or header.parent_hash != self._head.block_hash:
            raise ValueError(f"block {header.height} does not extend head {self._head.height}")
        writes = self.store.block_writes(
            height=header.height,
            block_hash=block_hash,
            block_bytes=block.SerializeToString(),
            certificate=certificate,
            tx_hashes=[tx.hash for tx in result.transactions],
            receipt_bytes=result.receipt_bytes,
            block_events=result.block_events,
            state_writes=result.writes,
        )
        started = time.perf_counter()
        self.store.commit(writes)
        seconds = time.perf_counter() - started
        with self._changed:
            self._head = HeadInfo(header.height, block_hash, header)
            self._changed.notify_all()
        imported = ImportedBlock(header.height, block_hash, len(result.transactions), header.state_root, seconds)
        log.info(
            "committed block %d with %d transactions (%s)",
            header.height,
            imported.transactions,
            block_hash.hex()[:16],
            extra={
                "height": header.height,
                "block_hash": block_hash,
                "transactions": imported.transactions,
                "state_root": header.state_root,
                "import_ms": round(seconds * 1000, 3),
            },
        )
        if self.on_import is not None:
            try:
                self.on_import(imported)
            except Exception:  # the block is committed; a listener's failure must not look like an import failure
                log.exception("import listener failed for block %d", header.height)
        return StoredBlock(header.height, block_hash, block, header, certificate)

    def wait_for_height(self, height: int, timeout: float) -> bool:
        """Block until the head reaches `height` or `timeout` seconds pass."""
        with self._changed:
            return self._changed.wait_for(lambda: self._head.height >= height, timeout)

    def wake_waiters(self) -> None:
        with self._changed:
            self._changed.notify_all()

    def state(self) -> KVReader:
        """A consistent snapshot of committed state and chain records."""
        return self.kv.snapshot()

    def head_of(self, reader: KVReader) -> Head:
        head = self.store.head(reader)
        assert head is not None
        return head
