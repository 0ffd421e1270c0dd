"""The consent module object the executive sees."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from google.protobuf.message import Message

from dcrm.runtime.errors import ErrorDef
from dcrm.runtime.module import CallDef, HookContext, QueryDef
from dcrm.runtime.modules.consent import errors, genesis, records
from dcrm.runtime.modules.consent.calls import CALLS
from dcrm.runtime.modules.consent.queries import QUERIES
from dcrm.runtime.state.kv import KVReader
from dcrm.runtime.state.overlay import Overlay
from dcrm.v1 import consent_pb2


class ConsentModule:
    name = errors.MODULE
    index = errors.INDEX
    calls: tuple[CallDef[Any], ...] = CALLS
    queries: tuple[QueryDef[Any, Any], ...] = QUERIES
    errors: tuple[ErrorDef, ...] = errors.ALL
    events: tuple[type[Message], ...] = (
        consent_pb2.ConsentRequested,
        consent_pb2.ConsentGiven,
        consent_pb2.ConsentRefused,
        consent_pb2.ConsentRenewed,
        consent_pb2.ConsentWithdrawn,
        consent_pb2.ConsentExpired,
        consent_pb2.ConsentTerminated,
        consent_pb2.ConsentInvalidated,
        consent_pb2.AccessLogged,
    )

    def __init__(self, *, max_expiries_per_block: int = records.DEFAULT_MAX_EXPIRIES_PER_BLOCK) -> None:
        if max_expiries_per_block < 1:
            raise ValueError("max_expiries_per_block must be at least 1")
        self.max_expiries_per_block = max_expiries_per_block

    def build_genesis(self, state: Overlay, config: Mapping[str, Any]) -> None:
        genesis.build(state, config)

    def export_genesis(self, state: KVReader) -> dict[str, Any]:
        return genesis.export(state)

    def on_block_start(self, ctx: HookContext) -> None:
        del ctx  # expiry runs at the end of the block, after its transactions

    def on_block_end(self, ctx: HookContext) -> None:
        records.expire_due(ctx, self.max_expiries_per_block)
