"""Execute a block someone else proposed (or a certified block during catch-up) and check its header."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from google.protobuf.message import DecodeError

from dcrm.node.chain import Chain
from dcrm.runtime import BlockContext, BlockInvalid, BlockResult, SignedTransaction
from dcrm.runtime.crypto import merkle_root, sha256
from dcrm.runtime.errors import TxRejected
from dcrm.v1 import types_pb2

__all__ = ["ExecutedBlock", "InvalidBlock", "execute_block"]

log = logging.getLogger(__name__)

# How far a proposer's clock may run ahead of ours before we refuse its timestamp.
MAX_CLOCK_LEAD_MS = 10_000


class InvalidBlock(ValueError):
    """The block does not decode, does not extend the head, or does not execute to what its header says."""


@dataclass(frozen=True, slots=True)
class ExecutedBlock:
    header: types_pb2.BlockHeader
    block: types_pb2.Block
    block_hash: bytes
    result: BlockResult


def execute_block(
    chain: Chain,
    block_bytes: bytes,
    *,
    proposers: frozenset[bytes],
    now_ms: int,
    known: Callable[[bytes], SignedTransaction | None],
) -> ExecutedBlock:
    """Check and execute `block_bytes` on top of the committed head; raises InvalidBlock saying why.

    `known` returns an already decoded transaction by hash (from the mempool) to skip signature recovery.
    """
    try:
        block = types_pb2.Block.FromString(block_bytes)
        header = types_pb2.BlockHeader.FromString(block.header)
    except DecodeError as error:
        raise InvalidBlock(f"block does not decode: {error}") from None
    head = chain.head
    if header.chain_id != chain.genesis.chain_id:
        raise InvalidBlock(f"header.chain_id is {header.chain_id!r}")
    if header.height != head.height + 1 or header.parent_hash != head.block_hash:
        raise InvalidBlock(f"block {header.height} does not extend the head {head.height}")
    if header.timestamp_ms < head.header.timestamp_ms:
        raise InvalidBlock(f"header.timestamp_ms {header.timestamp_ms} is before the parent's")
    if header.timestamp_ms > now_ms + MAX_CLOCK_LEAD_MS:
        raise InvalidBlock(f"header.timestamp_ms {header.timestamp_ms} is more than {MAX_CLOCK_LEAD_MS} ms ahead")
    if header.proposer not in proposers:
        raise InvalidBlock(f"header.proposer {header.proposer.hex()} is not a validator of height {header.height}")
    runtime = chain.runtime
    transactions: list[SignedTransaction] = []
    try:
        for raw in block.transactions:
            cached = known(sha256(raw.body))
            if cached is not None and cached.raw.signature == raw.signature:
                transactions.append(cached)
            else:
                transactions.append(runtime.decode_transaction(raw))
    except TxRejected as error:
        raise InvalidBlock(f"transaction {len(transactions)}: {error.message}") from None
    if merkle_root([tx.hash for tx in transactions]) != header.transactions_root:
        raise InvalidBlock("header.transactions_root does not match the transactions")
    ctx = BlockContext(header.chain_id, header.height, header.timestamp_ms, header.proposer)
    try:
        result = runtime.apply_block(chain.kv, ctx, transactions)
    except BlockInvalid as error:
        raise InvalidBlock(str(error)) from None
    if result.state_root != header.state_root:
        raise InvalidBlock("header.state_root does not match the executed state")
    if result.receipts_root != header.receipts_root:
        raise InvalidBlock("header.receipts_root does not match the executed receipts")
    return ExecutedBlock(header, block, sha256(block.header), result)
