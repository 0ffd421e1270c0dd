"""The module framework: what every runtime module declares, and the contexts its code runs in.

A module is a package with the same parts (see docs/architecture.md, "Adding a runtime module"):
errors, storage, events, calls (fixed indices), queries, genesis, hooks, and a `Module` object that
lists them for the executive.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

from google.protobuf.message import Message

from dcrm.runtime.errors import ErrorDef
from dcrm.runtime.state.kv import KVReader
from dcrm.runtime.state.overlay import Overlay
from dcrm.v1 import types_pb2

__all__ = [
    "BlockContext",
    "CallContext",
    "CallDef",
    "HookContext",
    "JSONValue",
    "Module",
    "QueryDef",
]

A = TypeVar("A", bound=Message)
R = TypeVar("R", bound=Message)

JSONValue = Any  # genesis configuration as parsed from JSON


@dataclass(frozen=True, slots=True)
class BlockContext:
    """What the block header tells the runtime: its only source of time and identity."""

    chain_id: str
    height: int
    timestamp_ms: int
    proposer: bytes


@dataclass(slots=True)
class HookContext:
    """State and event sink for block hooks (no origin: hooks run on behalf of the chain)."""

    state: Overlay
    block: BlockContext
    module: str
    events: list[types_pb2.Event] = field(default_factory=list)

    def emit(self, event: Message) -> None:
        self.events.append(
            types_pb2.Event(module=self.module, name=event.DESCRIPTOR.name, data=event.SerializeToString())
        )


@dataclass(slots=True)
class CallContext(HookContext):
    """A call's view: its own write layer, its signed origin, and the block it executes in."""

    origin: bytes = b""


@dataclass(frozen=True, slots=True)
class CallDef(Generic[A]):
    """A callable method: a fixed index, a typed argument message and a thin handler.

    `required_role` is checked before dispatch (at admission and in the block); `check_args` is a
    stateless argument check run whenever the transaction is decoded (at admission and at block import).
    """

    index: int
    name: str
    args_type: type[A]
    handler: Callable[[CallContext, A], None]
    required_role: str | None = None
    check_args: Callable[[A], None] | None = None


@dataclass(frozen=True, slots=True)
class QueryDef(Generic[A, R]):
    """A read-only query answered from committed state."""

    name: str
    request_type: type[A]
    result_type: type[R]
    handler: Callable[[KVReader, A], R]


class Module(Protocol):
    """What the executive needs from a module."""

    @property
    def name(self) -> str: ...

    @property
    def index(self) -> int: ...

    @property
    def calls(self) -> Sequence[CallDef[Any]]: ...

    @property
    def queries(self) -> Sequence[QueryDef[Any, Any]]: ...

    @property
    def errors(self) -> Sequence[ErrorDef]: ...

    @property
    def events(self) -> Sequence[type[Message]]: ...

    def build_genesis(self, state: Overlay, config: Mapping[str, JSONValue]) -> None: ...

    def export_genesis(self, state: KVReader) -> dict[str, JSONValue]: ...

    def on_block_start(self, ctx: HookContext) -> None: ...

    def on_block_end(self, ctx: HookContext) -> None: ...
