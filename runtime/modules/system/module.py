"""The system module object the executive sees."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from google.protobuf.message import Message

from dcrm.runtime.errors import ErrorDef
from dcrm.runtime.module import CallDef, HookContext, QueryDef
from dcrm.runtime.modules.system import errors, genesis
from dcrm.runtime.modules.system.calls import CALLS
from dcrm.runtime.modules.system.queries import QUERIES
from dcrm.runtime.state.kv import KVReader
from dcrm.runtime.state.overlay import Overlay
from dcrm.v1 import system_pb2


class SystemModule:
    name = errors.MODULE
    index = errors.INDEX
    calls: tuple[CallDef[Any], ...] = CALLS
    queries: tuple[QueryDef[Any, Any], ...] = QUERIES
    errors: tuple[ErrorDef, ...] = errors.ALL
    events: tuple[type[Message], ...] = (system_pb2.RoleGranted, system_pb2.RoleRevoked, system_pb2.Remarked)

    def build_genesis(self, state: Overlay, config: Mapping[str, Any]) -> None:
        genesis.build(state, config)

    def export_genesis(self, state: KVReader) -> dict[str, Any]:
        return genesis.export(state)

    def on_block_start(self, ctx: HookContext) -> None:
        del ctx  # the system module has no per-block work

    def on_block_end(self, ctx: HookContext) -> None:
        del ctx
