"""A runtime harness for the tokens module that checks the ledger invariants after every block.

`TokensChain` signs calls by their argument type (each tokens call has its own message), applies them in
blocks, and after each committed block runs `check_invariants` on the new state and `check_block` on the
transition, so every test that drives the chain also checks conservation, allowances and freezes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from google.protobuf.message import Message

from dcrm.client.keys import SigningKey
from dcrm.runtime import STATE_PREFIX, BlockResult
from dcrm.runtime.module import Module
from dcrm.runtime.modules import default_modules
from dcrm.runtime.modules.tokens import TokensModule, check_block, check_invariants
from dcrm.runtime.modules.tokens.errors import INDEX
from dcrm.runtime.modules.tokens.invariants import block_events
from dcrm.runtime.state.kv import KVReader, KVStore
from dcrm.runtime.state.prefixed import PrefixedReader
from dcrm.v1 import tokens_pb2, types_pb2
from tests.support.runtime_harness import GenesisBuilder, RuntimeHarness, deterministic_key

ADMIN = deterministic_key(0)
ALICE = deterministic_key(1)
BOB = deterministic_key(2)
CAROL = deterministic_key(3)
ISSUER = deterministic_key(10)
MINTER = deterministic_key(11)
FREEZER = deterministic_key(12)

CALL_INDEX: dict[type[Message], int] = {call.args_type: call.index for call in TokensModule.calls}
NONCE_PREFIX = STATE_PREFIX + b"system/nonce/"


def tokens_genesis(classes: list[dict[str, Any]] | None = None) -> GenesisBuilder:
    """ADMIN as admin, ISSUER with the issuer role, and the given tokens classes (default none)."""
    builder = GenesisBuilder().with_role("issuer", ISSUER)
    builder.modules["tokens"] = {"classes": classes or []}
    return builder


class TokensChain:
    """RuntimeHarness + tokens helpers; every committed block is checked against the ledger invariants."""

    def __init__(
        self,
        store: KVStore,
        genesis: GenesisBuilder | None = None,
        *,
        max_expiries_per_block: int | None = None,
        check: bool = True,
    ) -> None:
        def modules() -> Sequence[Module]:
            found = default_modules()
            if max_expiries_per_block is None:
                return found
            capped = TokensModule(max_expiries_per_block=max_expiries_per_block)
            return [capped if module.index == INDEX else module for module in found]

        self.store = store
        self.check = check
        # A capped sweep may leave due lots for later blocks; only an uncapped one must clear them all.
        self.expect_swept = max_expiries_per_block is None
        self.harness = RuntimeHarness(store, (genesis or tokens_genesis()).build(), modules)
        self.last_events: list[types_pb2.Event] = []
        if check:
            check_invariants(self.state)

    @property
    def state(self) -> KVReader:
        """The committed runtime state as module code sees it (keys without the state prefix)."""
        return PrefixedReader(self.store, STATE_PREFIX)

    @property
    def now_ms(self) -> int:
        """The timestamp of the last committed block (the next block is BLOCK_TIME_MS later)."""
        return self.harness.timestamp_ms

    def sign(self, key: SigningKey, args: Message) -> types_pb2.Transaction:
        return self.harness.sign(key, INDEX, CALL_INDEX[type(args)], args)

    def block(self, calls: Sequence[tuple[SigningKey, Message]], *, gap_ms: int = 0) -> BlockResult:
        """Apply one block of calls, `gap_ms` after the usual block time; checks invariants after it."""
        self.harness.timestamp_ms += gap_ms
        txs = [self.sign(key, args) for key, args in calls]
        before = self.store.snapshot() if self.check else None
        result = self.harness.apply(txs)
        self.last_events = block_events(result.receipts, result.block_events)
        if before is not None:
            check_block(PrefixedReader(before, STATE_PREFIX), self.state, self.last_events)
            check_invariants(self.state, now_ms=self.now_ms if self.expect_swept else None)
        return result

    def call(self, key: SigningKey, args: Message, *, gap_ms: int = 0) -> types_pb2.Receipt:
        """One call in its own block; returns its receipt."""
        return self.block([(key, args)], gap_ms=gap_ms).receipts[0]

    def ok(self, key: SigningKey, args: Message, *, gap_ms: int = 0) -> types_pb2.Receipt:
        """One call that must succeed."""
        receipt = self.call(key, args, gap_ms=gap_ms)
        assert receipt.success, f"{type(args).__name__} failed: {receipt.error.name}: {receipt.error.message}"
        return receipt

    def advance(self, ms: int) -> BlockResult:
        """An empty block `ms` after the previous one (at least the usual block time)."""
        return self.block([], gap_ms=ms - 1_000)

    def query(self, method: str, request: Message, result_type: type[Any]) -> Any:
        raw = self.harness.runtime.query(self.store, "tokens", method, request.SerializeToString())
        return result_type.FromString(raw)

    def balance(self, class_id: str, account: SigningKey | bytes) -> tokens_pb2.BalanceResult:
        who = account.account_id if isinstance(account, SigningKey) else account
        result: tokens_pb2.BalanceResult = self.query(
            "balance", tokens_pb2.BalanceQuery(class_id=class_id, account=who), tokens_pb2.BalanceResult
        )
        return result

    def supply(self, class_id: str) -> int:
        result: tokens_pb2.ClassResult = self.query(
            "class", tokens_pb2.ClassQuery(class_id=class_id), tokens_pb2.ClassResult
        )
        return result.total_supply

    def allowance(self, class_id: str, owner: SigningKey, spender: SigningKey) -> int:
        request = tokens_pb2.AllowanceQuery(class_id=class_id, owner=owner.account_id, spender=spender.account_id)
        result: tokens_pb2.AllowanceResult = self.query("allowance", request, tokens_pb2.AllowanceResult)
        return result.amount

    def create(
        self,
        class_id: str = "points",
        *,
        transferable: bool = True,
        expiry_ms: int = 0,
        max_supply: int | None = None,
        roles: bool = True,
    ) -> None:
        """ISSUER creates a class; with `roles`, MINTER mints and FREEZER freezes (else ISSUER does both)."""
        args = tokens_pb2.CreateClass(
            class_id=class_id,
            name=f"{class_id} program",
            symbol="PTS",
            decimals=2,
            transferable=transferable,
            expiry_ms=expiry_ms,
            max_supply=max_supply,
            minter=MINTER.account_id if roles else b"",
            freezer=FREEZER.account_id if roles else b"",
        )
        self.ok(ISSUER, args)

    def mint(self, class_id: str, to: SigningKey, amount: int, *, gap_ms: int = 0) -> types_pb2.Receipt:
        return self.ok(MINTER, tokens_pb2.Mint(class_id=class_id, to=to.account_id, amount=amount), gap_ms=gap_ms)

    def state_without_nonce(self, sender: SigningKey) -> dict[bytes, bytes]:
        """Every state value except the sender's nonce (tree nodes are left out: they follow the values)."""
        return {
            key: value for key, value in self.store.iterate(STATE_PREFIX) if key != NONCE_PREFIX + sender.account_id
        }


def assert_noop(chain: TokensChain, key: SigningKey, args: Message, error: str) -> types_pb2.Receipt:
    """The call fails with `error` and changes nothing but the sender's nonce."""
    before = chain.state_without_nonce(key)
    nonce = chain.harness.runtime.next_nonce(chain.store, key.account_id)
    receipt = chain.call(key, args)
    assert not receipt.success, f"{type(args).__name__} unexpectedly succeeded"
    assert receipt.error.name == error, f"expected {error}, got {receipt.error.name}: {receipt.error.message}"
    assert receipt.error.module == INDEX
    assert chain.state_without_nonce(key) == before
    assert chain.harness.runtime.next_nonce(chain.store, key.account_id) == nonce + 1
    return receipt
