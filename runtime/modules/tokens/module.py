"""The tokens module object the executive sees."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from google.protobuf.message import Message

from dcrm.runtime.errors import ErrorDef
from dcrm.runtime.module import CallDef, HookContext, QueryDef
from dcrm.runtime.modules.tokens import errors, genesis
from dcrm.runtime.modules.tokens.calls import CALLS
from dcrm.runtime.modules.tokens.expiry import DEFAULT_MAX_EXPIRIES_PER_BLOCK, sweep
from dcrm.runtime.modules.tokens.queries import QUERIES
from dcrm.runtime.state.kv import KVReader
from dcrm.runtime.state.overlay import Overlay
from dcrm.v1 import tokens_pb2


class TokensModule:
    """Loyalty token classes: mint, transfer, allowances, burn and redeem, freeze, holds and expiring lots.

    `max_expiries_per_block` caps the lots the end-of-block sweep removes in one block.
    """

    name = errors.MODULE
    index = errors.INDEX
    calls: tuple[CallDef[Any], ...] = CALLS
    queries: tuple[QueryDef[Any, Any], ...] = QUERIES
    errors: tuple[ErrorDef, ...] = errors.ALL
    events: tuple[type[Message], ...] = (
        tokens_pb2.ClassCreated,
        tokens_pb2.Minted,
        tokens_pb2.Transferred,
        tokens_pb2.Approved,
        tokens_pb2.Burned,
        tokens_pb2.Redeemed,
        tokens_pb2.Frozen,
        tokens_pb2.Thawed,
        tokens_pb2.Held,
        tokens_pb2.Released,
        tokens_pb2.LotsExpired,
        tokens_pb2.RolesChanged,
    )

    def __init__(self, *, max_expiries_per_block: int = DEFAULT_MAX_EXPIRIES_PER_BLOCK) -> None:
        if max_expiries_per_block < 1:
            raise ValueError("max_expiries_per_block must be at least 1")
        self.max_expiries_per_block = max_expiries_per_block

    def build_genesis(self, state: Overlay, config: Mapping[str, Any]) -> None:
        genesis.build(state, config)

    def export_genesis(self, state: KVReader) -> dict[str, Any]:
        return genesis.export(state)

    def on_block_start(self, ctx: HookContext) -> None:
        del ctx  # expiry runs at the end of the block; calls already treat due lots as expired

    def on_block_end(self, ctx: HookContext) -> None:
        for event in sweep(ctx.state, ctx.block.timestamp_ms, self.max_expiries_per_block):
            ctx.emit(event)
