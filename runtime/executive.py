"""The runtime's one narrow entry: decode, validate, build or apply blocks, query and prove.

Nothing here writes to storage: a block's result carries the writes (flat state under STATE_PREFIX,
tree nodes under TREE_PREFIX) and the node persists them in one atomic batch with the block.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from google.protobuf.message import DecodeError

from dcrm.runtime.crypto import merkle_root, sha256
from dcrm.runtime.errors import DispatchError, ErrorDef, ErrorKind, Rejection, TxRejected
from dcrm.runtime.genesis import Genesis, GenesisError
from dcrm.runtime.module import BlockContext, CallContext, HookContext, Module, QueryDef
from dcrm.runtime.modules.governance import schedule as governance_schedule
from dcrm.runtime.modules.system import errors as system_errors
from dcrm.runtime.modules.system import roles
from dcrm.runtime.modules.system.storage import NONCES, PARAMS, VALIDATORS
from dcrm.runtime.state.kv import KVReader, MemoryKV
from dcrm.runtime.state.overlay import Overlay
from dcrm.runtime.state.prefixed import PrefixedReader
from dcrm.runtime.state.smt import SparseMerkleTree
from dcrm.runtime.storage import BYTES, U64, StorageValue
from dcrm.runtime.transaction import CallTable, SignedTransaction, decode_transaction
from dcrm.v1 import system_pb2, types_pb2

__all__ = [
    "STATE_PREFIX",
    "TREE_PREFIX",
    "BlockBuilder",
    "BlockInvalid",
    "BlockResult",
    "GenesisResult",
    "QueryError",
    "Runtime",
]

log = logging.getLogger(__name__)

STATE_PREFIX = b"S"
TREE_PREFIX = b"T"
DEFAULT_MAX_TRANSACTION_BYTES = 128 * 1024

CHAIN_ID: StorageValue[bytes] = StorageValue("runtime", "chain_id", BYTES)
GENESIS_TIME: StorageValue[int] = StorageValue("runtime", "genesis_time_ms", U64)


class BlockInvalid(ValueError):
    """A block cannot be applied: one of its transactions could not be included."""


class QueryError(Exception):
    """A query could not be answered; `kind` maps to a gRPC status code."""

    def __init__(self, kind: ErrorKind, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


@dataclass(frozen=True)
class BlockResult:
    receipts: list[types_pb2.Receipt]
    receipt_bytes: list[bytes]
    block_events: list[types_pb2.Event]
    state_root: bytes
    receipts_root: bytes
    writes: dict[bytes, bytes | None]
    transactions: list[SignedTransaction] = field(default_factory=list)


@dataclass(frozen=True)
class GenesisResult:
    state_root: bytes
    writes: dict[bytes, bytes | None]


def _state_writes(
    changes: Iterable[tuple[bytes, bytes | None]], tree: SparseMerkleTree
) -> tuple[bytes, dict[bytes, bytes | None]]:
    """The new state root and every key to write: flat values and changed tree nodes."""
    ordered = list(changes)
    root, writes = tree.update(ordered)
    writes.update((STATE_PREFIX + key, value) for key, value in ordered)
    return root, writes


class Runtime:
    """The deterministic state machine of one chain, assembled from its modules."""

    def __init__(
        self,
        chain_id: str,
        modules: Sequence[Module],
        *,
        max_transaction_bytes: int = DEFAULT_MAX_TRANSACTION_BYTES,
    ) -> None:
        indices = [module.index for module in modules]
        if len(set(indices)) != len(indices) or len({m.name for m in modules}) != len(modules):
            raise ValueError("module names and indices must be unique")
        if system_errors.INDEX not in indices:
            raise ValueError("the system module is required")
        self.chain_id = chain_id
        self.modules = sorted(modules, key=lambda module: module.index)
        self.calls = CallTable(self.modules)
        self.max_transaction_bytes = max_transaction_bytes
        self._queries: dict[tuple[str, str], QueryDef[Any, Any]] = {
            (module.name, query.name): query for module in self.modules for query in module.queries
        }

    # --- transactions -------------------------------------------------------------------------

    def decode_transaction(self, tx: types_pb2.Transaction) -> SignedTransaction:
        """Stateless checks: size, encoding, chain id, call, arguments, signature."""
        return decode_transaction(tx, chain_id=self.chain_id, calls=self.calls, max_bytes=self.max_transaction_bytes)

    def validate_transaction(self, state: KVReader, tx: SignedTransaction, next_height: int) -> None:
        """Checks that read committed state (nonce window, expiry, size, role); writes nothing."""
        view = PrefixedReader(state, STATE_PREFIX)
        params = _params(view)
        _check_inclusion_window(tx, next_height, params)
        expected = NONCES.get(view, tx.sender) or 0
        if tx.nonce < expected:
            raise TxRejected(Rejection.STALE_NONCE, f"tx_body.nonce {tx.nonce} was used; the next nonce is {expected}")
        if tx.nonce >= expected + params.max_future_nonces:
            raise TxRejected(
                Rejection.FUTURE_NONCE,
                f"tx_body.nonce {tx.nonce} is more than {params.max_future_nonces} ahead of the next nonce {expected}",
            )
        role = tx.call.required_role
        if role is not None and not roles.has_role(view, tx.sender, role):
            raise TxRejected(
                Rejection.PERMISSION_DENIED,
                f"{tx.module.name}.{tx.call.name} requires role {role!r}, which {tx.sender.hex()} does not hold",
            )

    def next_nonce(self, state: KVReader, account: bytes) -> int:
        return NONCES.get(PrefixedReader(state, STATE_PREFIX), account) or 0

    # --- blocks -------------------------------------------------------------------------------

    def begin_block(self, state: KVReader, ctx: BlockContext) -> BlockBuilder:
        return BlockBuilder(self, state, ctx)

    def apply_block(self, state: KVReader, ctx: BlockContext, transactions: Sequence[SignedTransaction]) -> BlockResult:
        """Execute a proposed block; every transaction must be includable, or BlockInvalid."""
        builder = self.begin_block(state, ctx)
        for position, tx in enumerate(transactions):
            try:
                builder.push(tx)
            except TxRejected as error:
                raise BlockInvalid(f"transaction {position} ({tx.hash.hex()}): {error.message}") from None
        return builder.finish()

    # --- genesis ------------------------------------------------------------------------------

    def build_genesis(self, genesis: Genesis) -> GenesisResult:
        if genesis.chain_id != self.chain_id:
            raise GenesisError("chain_id", f"is {genesis.chain_id!r}, the runtime was built for {self.chain_id!r}")
        known = {module.name for module in self.modules}
        unknown = sorted(set(genesis.modules) - known)
        if unknown:
            raise GenesisError(f"modules.{unknown[0]}", "is not a module of this runtime")
        empty = MemoryKV()
        state = Overlay(PrefixedReader(empty, STATE_PREFIX))
        CHAIN_ID.put(state, genesis.chain_id.encode())
        GENESIS_TIME.put(state, genesis.timestamp_ms)
        for module in self.modules:
            if module.name not in genesis.modules:
                raise GenesisError(f"modules.{module.name}", "is required")
            module.build_genesis(state, genesis.modules[module.name])
        root, writes = _state_writes(state.sorted_changes(), SparseMerkleTree(empty, TREE_PREFIX))
        return GenesisResult(root, writes)

    def export_genesis(self, state: KVReader) -> Genesis:
        view = PrefixedReader(state, STATE_PREFIX)
        chain_id = (CHAIN_ID.get(view) or b"").decode()
        modules = {module.name: module.export_genesis(view) for module in self.modules}
        return Genesis(chain_id, GENESIS_TIME.get(view) or 0, modules)

    # --- reads --------------------------------------------------------------------------------

    def validators(self, state: KVReader) -> list[bytes]:
        found = VALIDATORS.get(PrefixedReader(state, STATE_PREFIX))
        return list(found.public_keys) if found is not None else []

    def validators_at(self, state: KVReader, height: int) -> list[bytes]:
        """The validator public keys in force at `height`, in leader-rotation order.

        The set of the governance schedule entry with the greatest effective height <= `height`, else the
        genesis set (`validators`). Changes are scheduled at least 2 blocks ahead, so on the state after
        block h this answer is final for every height up to h + 2; later heights may still change.
        """
        return governance_schedule.validators_at(PrefixedReader(state, STATE_PREFIX), height)

    def query(self, state: KVReader, module: str, method: str, args: bytes) -> bytes:
        query = self._queries.get((module, method))
        if query is None:
            raise QueryError(ErrorKind.NOT_FOUND, f"no query {module}.{method}")
        request = query.request_type()
        try:
            request.ParseFromString(args)
        except DecodeError as error:
            message = f"args is not a {request.DESCRIPTOR.full_name}: {error}"
            raise QueryError(ErrorKind.INVALID_ARGUMENT, message) from None
        try:
            result = query.handler(PrefixedReader(state, STATE_PREFIX), request)
        except DispatchError as error:
            raise QueryError(error.error.kind, f"{module}.{method}: {error.message}") from None
        return bytes(result.SerializeToString())

    def state_root(self, state: KVReader) -> bytes:
        return SparseMerkleTree(state, TREE_PREFIX).root()

    def prove(self, state: KVReader, key: bytes) -> types_pb2.StateProof:
        """Inclusion or non-inclusion proof of a state key against `state_root(state)`."""
        value = state.get(STATE_PREFIX + key)
        return SparseMerkleTree(state, TREE_PREFIX).prove(key, value)


class BlockBuilder:
    """Executes transactions one at a time into a block; `push` refuses what cannot be included."""

    def __init__(self, runtime: Runtime, state: KVReader, ctx: BlockContext) -> None:
        self._runtime = runtime
        self._state = state
        self.context = ctx
        self._block = Overlay(PrefixedReader(state, STATE_PREFIX))
        self._params = _params(self._block)
        self.receipts: list[types_pb2.Receipt] = []
        self.receipt_bytes: list[bytes] = []
        self.transactions: list[SignedTransaction] = []
        self.block_events: list[types_pb2.Event] = []
        self._run_hooks(start=True)

    def push(self, tx: SignedTransaction) -> types_pb2.Receipt:
        """Include `tx`: its nonce is used whether the call succeeds or fails. TxRejected: not included."""
        ctx = self.context
        _check_inclusion_window(tx, ctx.height, self._params)
        expected = NONCES.get(self._block, tx.sender) or 0
        if tx.nonce != expected:
            raise TxRejected(
                Rejection.STALE_NONCE if tx.nonce < expected else Rejection.FUTURE_NONCE,
                f"tx_body.nonce is {tx.nonce}, the sender's next nonce is {expected}",
            )
        NONCES.put(self._block, tx.sender, expected + 1)
        call_ctx = CallContext(Overlay(self._block), ctx, tx.module.name, origin=tx.sender)
        error = self._dispatch(tx, call_ctx)
        receipt = types_pb2.Receipt(tx_hash=tx.hash, height=ctx.height, index=len(self.receipts))
        if error is None:
            call_ctx.state.commit()
            receipt.success = True
            receipt.events.extend(call_ctx.events)
        else:
            receipt.error.CopyFrom(error)
        self.receipts.append(receipt)
        self.receipt_bytes.append(receipt.SerializeToString())
        self.transactions.append(tx)
        return receipt

    def finish(self) -> BlockResult:
        self._run_hooks(start=False)
        root, writes = _state_writes(self._block.sorted_changes(), SparseMerkleTree(self._state, TREE_PREFIX))
        receipts_root = merkle_root([sha256(raw) for raw in self.receipt_bytes])
        return BlockResult(
            self.receipts,
            self.receipt_bytes,
            self.block_events,
            root,
            receipts_root,
            writes,
            self.transactions,
        )

    def _dispatch(self, tx: SignedTransaction, ctx: CallContext) -> types_pb2.DispatchError | None:
        call = tx.call
        try:
            if call.required_role is not None:
                roles.ensure_role(ctx.state, tx.sender, call.required_role, f"{tx.module.name}.{call.name}")
            call.handler(ctx, tx.args)
        except DispatchError as error:
            return _dispatch_error(error.error, error.message)
        except Exception as error:
            # A bug in a call must not halt the chain: every validator fails it the same way.
            log.exception("call %s.%s panicked in tx %s", tx.module.name, call.name, tx.hash.hex())
            return _dispatch_error(
                system_errors.CALL_PANICKED, f"{type(error).__name__} in {tx.module.name}.{call.name}"
            )
        return None

    def _run_hooks(self, *, start: bool) -> None:
        for module in self._runtime.modules:
            hook_ctx = HookContext(self._block, self.context, module.name)
            if start:
                module.on_block_start(hook_ctx)
            else:
                module.on_block_end(hook_ctx)
            self.block_events.extend(hook_ctx.events)


def _dispatch_error(error: ErrorDef, message: str) -> types_pb2.DispatchError:
    return types_pb2.DispatchError(module=error.module_index, code=error.code, name=error.name, message=message)


def _params(state: KVReader) -> system_pb2.Params:
    params = PARAMS.get(state)
    if params is None:
        raise RuntimeError("state has no system params: genesis was not built")
    return params


def _check_inclusion_window(tx: SignedTransaction, height: int, params: system_pb2.Params) -> None:
    valid_until = tx.body.valid_until
    if valid_until < height:
        raise TxRejected(Rejection.EXPIRED, f"tx_body.valid_until {valid_until} is before height {height}")
    if valid_until > height + params.max_validity_blocks:
        raise TxRejected(
            Rejection.EXPIRED,
            f"tx_body.valid_until {valid_until} is more than {params.max_validity_blocks} blocks after height {height}",
        )
    if len(tx.body.call.args) > params.max_call_bytes:
        raise TxRejected(
            Rejection.TOO_LARGE,
            f"call.args is {len(tx.body.call.args)} bytes, at most {params.max_call_bytes} allowed",
        )
