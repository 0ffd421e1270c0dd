"""The identity module object the executive sees."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from google.protobuf.message import Message

from dcrm.runtime.errors import ErrorDef
from dcrm.runtime.module import CallDef, HookContext, QueryDef
from dcrm.runtime.modules.identity import errors, genesis
from dcrm.runtime.modules.identity.calls import CALLS
from dcrm.runtime.modules.identity.queries import QUERIES
from dcrm.runtime.state.kv import KVReader
from dcrm.runtime.state.overlay import Overlay
from dcrm.v1 import identity_pb2


class IdentityModule:
    name = errors.MODULE
    index = errors.INDEX
    calls: tuple[CallDef[Any], ...] = CALLS
    queries: tuple[QueryDef[Any, Any], ...] = QUERIES
    errors: tuple[ErrorDef, ...] = errors.ALL
    events: tuple[type[Message], ...] = (
        identity_pb2.DidCreated,
        identity_pb2.DidUpdated,
        identity_pb2.DidDeactivated,
        identity_pb2.IssuerRegistered,
        identity_pb2.IssuerRemoved,
        identity_pb2.SchemaRegistered,
        identity_pb2.StatusListCreated,
        identity_pb2.CredentialStatusChanged,
    )

    def build_genesis(self, state: Overlay, config: Mapping[str, Any]) -> None:
        genesis.build(state, config)

    def export_genesis(self, state: KVReader) -> dict[str, Any]:
        return genesis.export(state)

    def on_block_start(self, ctx: HookContext) -> None:
        del ctx  # the identity module has no per-block work

    def on_block_end(self, ctx: HookContext) -> None:
        del ctx
