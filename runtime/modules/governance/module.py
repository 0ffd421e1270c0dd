"""The governance module object the executive sees."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from google.protobuf.message import Message

from dcrm.runtime.errors import ErrorDef
from dcrm.runtime.module import CallDef, HookContext, QueryDef
from dcrm.runtime.modules.governance import errors, genesis
from dcrm.runtime.modules.governance.calls import CALLS
from dcrm.runtime.modules.governance.proposals import expire_due
from dcrm.runtime.modules.governance.queries import QUERIES
from dcrm.runtime.modules.governance.schedule import enter_height
from dcrm.runtime.state.kv import KVReader
from dcrm.runtime.state.overlay import Overlay
from dcrm.v1 import governance_pb2


class GovernanceModule:
    """Validator-set changes approved by a quorum of the current validators, effective at a declared height."""

    name = errors.MODULE
    index = errors.INDEX
    calls: tuple[CallDef[Any], ...] = CALLS
    queries: tuple[QueryDef[Any, Any], ...] = QUERIES
    errors: tuple[ErrorDef, ...] = errors.ALL
    events: tuple[type[Message], ...] = (
        governance_pb2.ValidatorChangeProposed,
        governance_pb2.ValidatorChangeApproved,
        governance_pb2.ValidatorChangeScheduled,
        governance_pb2.ValidatorSetChanged,
        governance_pb2.ProposalWithdrawn,
        governance_pb2.ProposalExpired,
    )

    def build_genesis(self, state: Overlay, config: Mapping[str, Any]) -> None:
        genesis.build(state, config)

    def export_genesis(self, state: KVReader) -> dict[str, Any]:
        return genesis.export(state)

    def on_block_start(self, ctx: HookContext) -> None:
        # The new set governs the whole block, its calls included: record it before any of them runs.
        changed = enter_height(ctx.state, ctx.block.height)
        if changed is not None:
            ctx.emit(changed)

    def on_block_end(self, ctx: HookContext) -> None:
        for event in expire_due(ctx.state, ctx.block.height):
            ctx.emit(event)
