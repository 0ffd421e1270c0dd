"""Replay a node's chain from genesis through a fresh runtime and check every block's state root."""

from __future__ import annotations

from dcrm.client import Client
from dcrm.runtime import BlockContext, Genesis, Runtime
from dcrm.runtime.modules import default_modules
from dcrm.runtime.state.kv import MemoryKV
from dcrm.v1 import types_pb2


def replay_chain(client: Client, genesis: Genesis, up_to: int) -> bytes:
    """Re-execute blocks 1..up_to fetched from `client`; returns the final state root.

    Raises AssertionError naming the first block whose state root differs from its header's.
    """
    runtime = Runtime(genesis.chain_id, default_modules())
    store = MemoryKV()
    store.write(runtime.build_genesis(genesis).writes)
    root = runtime.state_root(store)
    genesis_header = types_pb2.BlockHeader.FromString(client.block(height=0).block.header)
    assert genesis_header.state_root == root, "genesis state root differs"
    for height in range(1, up_to + 1):
        block = client.block(height=height).block
        header = types_pb2.BlockHeader.FromString(block.header)
        ctx = BlockContext(header.chain_id, header.height, header.timestamp_ms, header.proposer)
        signed = [runtime.decode_transaction(tx) for tx in block.transactions]
        result = runtime.apply_block(store, ctx, signed)
        assert result.state_root == header.state_root, f"block {height}: replayed state root differs"
        store.write(result.writes)
        root = result.state_root
    return root
