"""A small real runtime for tests: genesis from a builder, blocks applied and committed to a KV store."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from google.protobuf.message import Message

from dcrm.client.keys import SigningKey
from dcrm.client.transactions import build_transaction
from dcrm.runtime import BlockContext, BlockResult, Genesis, Runtime, SignedTransaction
from dcrm.runtime.module import Module
from dcrm.runtime.modules import default_modules
from dcrm.runtime.state.kv import KVStore, MemoryKV
from dcrm.v1 import types_pb2

CHAIN_ID = "dcrm-test"
GENESIS_TIME_MS = 1_700_000_000_000
BLOCK_TIME_MS = 1_000


def deterministic_key(seed: int) -> SigningKey:
    """A fixed key per seed, so test failures reproduce."""
    return SigningKey((seed + 1).to_bytes(32, "big"))


@contextmanager
def kv_backend(name: str) -> Iterator[KVStore]:
    """The in-memory store or a LevelDB store in a temporary folder."""
    if name == "memory":
        yield MemoryKV()
        return
    from dcrm.node.storage.leveldb_kv import LevelDBKV

    with tempfile.TemporaryDirectory() as folder:
        store = LevelDBKV(Path(folder) / "db")
        try:
            yield store
        finally:
            store.close()


@dataclass
class GenesisBuilder:
    """Builds a genesis document: one validator, an admin, optional extra roles and module configs."""

    validators: list[SigningKey] = field(default_factory=lambda: [deterministic_key(1000)])
    admins: list[SigningKey] = field(default_factory=lambda: [deterministic_key(0)])
    roles: dict[str, list[SigningKey]] = field(default_factory=dict)
    modules: dict[str, dict[str, Any]] = field(default_factory=dict)

    def with_role(self, role: str, *keys: SigningKey) -> GenesisBuilder:
        self.roles.setdefault(role, []).extend(keys)
        return self

    def build(self) -> Genesis:
        roles = {"admin": [key.account_id.hex() for key in self.admins]}
        for role, keys in self.roles.items():
            roles[role] = sorted(key.account_id.hex() for key in keys)
        system = {
            "validators": [key.public_key.hex() for key in self.validators],
            "roles": roles,
            "params": {"max_future_nonces": 64, "max_validity_blocks": 100_000, "max_call_bytes": 65_536},
        }
        defaults: dict[str, dict[str, Any]] = {
            "system": system,
            "identity": {"dids": [], "issuers": [], "schemas": [], "status_lists": []},
            "consent": {},
            "tokens": {"classes": []},
            "governance": {"max_lead": 100_000, "proposal_count": 0, "proposals": [], "changes": []},
        }
        return Genesis(CHAIN_ID, GENESIS_TIME_MS, {**defaults, **self.modules})


class RuntimeHarness:
    """Drives a runtime block by block over a KV store, like the node does, without the network."""

    def __init__(
        self,
        store: KVStore,
        genesis: Genesis | None = None,
        modules: Callable[[], Sequence[Module]] = default_modules,
    ) -> None:
        self.store = store
        self.genesis = genesis or GenesisBuilder().build()
        self.runtime = Runtime(self.genesis.chain_id, modules())
        result = self.runtime.build_genesis(self.genesis)
        store.write(result.writes)
        self.height = 0
        self.timestamp_ms = self.genesis.timestamp_ms
        self.nonces: dict[bytes, int] = {}

    def sign(
        self,
        key: SigningKey,
        module: int,
        method: int,
        args: Message,
        *,
        nonce: int | None = None,
        valid_for: int = 100,
    ) -> types_pb2.Transaction:
        if nonce is None:
            nonce = self.nonces.get(key.account_id, self.runtime.next_nonce(self.store, key.account_id))
            self.nonces[key.account_id] = nonce + 1
        return build_transaction(
            key,
            chain_id=self.genesis.chain_id,
            nonce=nonce,
            valid_until=self.height + valid_for,
            module=module,
            method=method,
            args=args,
        )

    def decode(self, tx: types_pb2.Transaction) -> SignedTransaction:
        return self.runtime.decode_transaction(tx)

    def apply(self, txs: Sequence[types_pb2.Transaction], *, commit: bool = True) -> BlockResult:
        """Execute one block of transactions; commit its writes unless told not to."""
        self.timestamp_ms += BLOCK_TIME_MS
        ctx = BlockContext(self.genesis.chain_id, self.height + 1, self.timestamp_ms, b"\x00" * 20)
        result = self.runtime.apply_block(self.store, ctx, [self.decode(tx) for tx in txs])
        if commit:
            self.store.write(result.writes)
            self.height += 1
        return result

    def run_to_block(self, height: int) -> None:
        while self.height < height:
            self.apply([])

    def call(self, key: SigningKey, module: int, method: int, args: Message) -> types_pb2.Receipt:
        """One transaction in its own block; returns its receipt."""
        return self.apply([self.sign(key, module, method, args)]).receipts[0]

    def root(self) -> bytes:
        return self.runtime.state_root(self.store)
