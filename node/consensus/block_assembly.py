"""Build a block from the mempool with the runtime, and sign votes over it.

Shared by every engine: the solo engine commits what it assembles at once, PBFT proposes it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from dcrm.client.keys import SigningKey
from dcrm.node.mempool import Mempool
from dcrm.runtime import BlockContext, BlockResult, Runtime
from dcrm.runtime.crypto import merkle_root, sha256
from dcrm.runtime.errors import Rejection, TxRejected
from dcrm.runtime.state.kv import KVReader
from dcrm.v1 import types_pb2

__all__ = ["AssembledBlock", "assemble_block", "sign_vote"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class AssembledBlock:
    header: types_pb2.BlockHeader
    block: types_pb2.Block
    block_hash: bytes
    result: BlockResult
    dropped: list[bytes]  # mempool transactions that can never be included


def assemble_block(
    runtime: Runtime,
    state: KVReader,
    mempool: Mempool,
    *,
    parent: types_pb2.BlockHeader,
    parent_hash: bytes,
    proposer: bytes,
    timestamp_ms: int,
    view: int,
    max_transactions: int,
) -> AssembledBlock:
    """Execute pending transactions (per sender in nonce order) until the block is full."""
    ctx = BlockContext(parent.chain_id, parent.height + 1, max(timestamp_ms, parent.timestamp_ms), proposer)
    builder = runtime.begin_block(state, ctx)
    dropped: list[bytes] = []
    included = 0
    for group in mempool.candidates():
        for tx in group:
            if included >= max_transactions:
                break
            try:
                builder.push(tx)
                included += 1
            except TxRejected as error:
                if error.reason is Rejection.STALE_NONCE:
                    dropped.append(tx.hash)  # its nonce was used: a later one may still fit
                    continue
                if error.reason is not Rejection.FUTURE_NONCE:
                    dropped.append(tx.hash)  # expired or too large: it can never be included
                break  # later nonces of this sender must wait for this one
        if included >= max_transactions:
            break
    result = builder.finish()
    header = types_pb2.BlockHeader(
        chain_id=ctx.chain_id,
        height=ctx.height,
        parent_hash=parent_hash,
        state_root=result.state_root,
        transactions_root=merkle_root([tx.hash for tx in result.transactions]),
        receipts_root=result.receipts_root,
        proposer=proposer,
        timestamp_ms=ctx.timestamp_ms,
        view=view,
    )
    header_bytes = header.SerializeToString()
    block = types_pb2.Block(header=header_bytes, transactions=[tx.raw for tx in result.transactions])
    return AssembledBlock(header, block, sha256(header_bytes), result, dropped)


def sign_vote(
    key: SigningKey,
    kind: types_pb2.VoteBody.Kind.ValueType,
    chain_id: str,
    height: int,
    view: int,
    block_hash: bytes,
) -> types_pb2.SignedVote:
    body = types_pb2.VoteBody(kind=kind, chain_id=chain_id, height=height, view=view, block_hash=block_hash)
    body_bytes = body.SerializeToString()
    return types_pb2.SignedVote(body=body_bytes, signature=key.sign_recoverable(body_bytes))
