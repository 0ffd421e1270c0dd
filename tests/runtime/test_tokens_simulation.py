"""Randomized simulation of the tokens ledger against a small reference model.

Mixed calls from several accounts run over many blocks while time advances (so lots expire). After every
block TokensChain checks the ledger invariants and the block's events; this file also predicts each call's
outcome (success or the exact error) with a plain-Python model and compares every balance, hold, freeze,
lot, supply and allowance with it. A seeded run covers both backends; hypothesis explores (and shrinks)
shorter sequences on the in-memory store.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from google.protobuf.message import Message
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dcrm.client.keys import SigningKey
from dcrm.runtime.modules.tokens.storage import ALLOWANCES
from dcrm.runtime.state.kv import KVStore, MemoryKV
from dcrm.v1 import tokens_pb2
from tests.support.tokens_chain import ALICE, BOB, CAROL, FREEZER, ISSUER, MINTER, TokensChain

U64_MAX = 2**64 - 1
FOREVER = U64_MAX  # the model keeps a class without expiry as one lot that never expires
ACCOUNTS = (ALICE, BOB, CAROL, MINTER, FREEZER, ISSUER)
REWARD = b"\x07" * 32


@dataclass(frozen=True)
class ClassSpec:
    class_id: str
    transferable: bool
    expiry_ms: int
    max_supply: int | None


CLASSES = (
    ClassSpec("points", transferable=True, expiry_ms=20_000, max_supply=None),
    ClassSpec("badges", transferable=False, expiry_ms=0, max_supply=500),
    ClassSpec("cash", transferable=True, expiry_ms=0, max_supply=None),
    ClassSpec("miles", transferable=False, expiry_ms=7_000, max_supply=2_000),
)
# Weighted: value-creating and value-moving calls are the common case, role changes are rare.
KINDS = (
    *["mint"] * 4,
    *["transfer"] * 4,
    *["transfer_from"] * 2,
    *["approve"] * 2,
    "burn",
    *["redeem"] * 2,
    *["hold"] * 2,
    *["release"] * 2,
    "freeze",
    *["thaw"] * 2,
    "set_roles",
    "ghost",
)
MOVING = {"transfer", "transfer_from", "approve"}
SPENDING = {"transfer", "burn", "redeem", "hold", "release"}


@dataclass
class ModelClass:
    spec: ClassSpec
    owner: bytes = ISSUER.account_id
    minter: bytes = MINTER.account_id
    freezer: bytes = FREEZER.account_id


@dataclass
class ModelHolding:
    lots: dict[int, int] = field(default_factory=dict)  # expires_at_ms -> amount
    held: int = 0
    frozen: bool = False

    @property
    def balance(self) -> int:
        return sum(self.lots.values())


class Model:
    """The ledger rules, written the obvious way."""

    def __init__(self) -> None:
        self.classes = {spec.class_id: ModelClass(spec) for spec in CLASSES}
        self.holdings: dict[tuple[str, bytes], ModelHolding] = {}
        self.allowances: dict[tuple[str, bytes, bytes], int] = {}

    def holding(self, class_id: str, account: bytes) -> ModelHolding:
        return self.holdings.setdefault((class_id, account), ModelHolding())

    def supply(self, class_id: str) -> int:
        return sum(found.balance for (cid, _), found in self.holdings.items() if cid == class_id)

    def free(self, class_id: str, account: bytes, now: int) -> int:
        found = self.holding(class_id, account)
        live = sum(amount for expires_at, amount in found.lots.items() if expires_at > now)
        return max(0, live - found.held)

    def take(self, class_id: str, account: bytes, amount: int, now: int) -> list[tuple[int, int]]:
        found = self.holding(class_id, account)
        parts = []
        for expires_at in sorted(found.lots):
            if amount == 0:
                break
            if expires_at <= now:
                continue
            part = min(amount, found.lots[expires_at])
            found.lots[expires_at] -= part
            if found.lots[expires_at] == 0:
                del found.lots[expires_at]
            parts.append((expires_at, part))
            amount -= part
        return parts

    def give(self, class_id: str, account: bytes, parts: list[tuple[int, int]]) -> None:
        found = self.holding(class_id, account)
        for expires_at, amount in parts:
            found.lots[expires_at] = found.lots.get(expires_at, 0) + amount

    def spend_error(self, class_id: str, account: bytes, amount: int, now: int) -> str | None:
        if self.holding(class_id, account).frozen:
            return "AccountFrozen"
        if self.free(class_id, account, now) < amount:
            return "InsufficientBalance"
        return None

    def apply(self, sender: bytes, args: Message, now: int) -> str | None:
        """The error name the call must fail with, or None after applying its effect."""
        class_id: str = getattr(args, "class_id")  # noqa: B009 (every tokens call names its class)
        token_class = self.classes.get(class_id)
        if token_class is None:
            return "UnknownClass"
        spec = token_class.spec
        if isinstance(args, tokens_pb2.Mint):
            if sender != token_class.minter:
                return "NotMinter"
            supply = self.supply(class_id) + args.amount
            if supply > U64_MAX:
                return "AmountOverflow"
            if spec.max_supply is not None and supply > spec.max_supply:
                return "SupplyExceeded"
            self.give(class_id, args.to, [(now + spec.expiry_ms if spec.expiry_ms else FOREVER, args.amount)])
        elif isinstance(args, tokens_pb2.Transfer):
            if not spec.transferable:
                return "NotTransferable"
            if args.to == sender:
                return "SameAccount"
            error = self.spend_error(class_id, sender, args.amount, now)
            if error:
                return error
            self.give(class_id, args.to, self.take(class_id, sender, args.amount, now))
        elif isinstance(args, tokens_pb2.Approve):
            if not spec.transferable:
                return "NotTransferable"
            if args.spender == sender:
                return "SameAccount"
            key = (class_id, sender, args.spender)
            if args.HasField("expected_allowance") and self.allowances.get(key, 0) != args.expected_allowance:
                return "AllowanceChanged"
            self.allowances[key] = args.amount
        elif isinstance(args, tokens_pb2.TransferFrom):
            if not spec.transferable:
                return "NotTransferable"
            if args.owner == sender or args.to == args.owner:
                return "SameAccount"
            key = (class_id, args.owner, sender)
            if args.amount > self.allowances.get(key, 0):
                return "AllowanceExceeded"
            error = self.spend_error(class_id, args.owner, args.amount, now)
            if error:
                return error
            self.give(class_id, args.to, self.take(class_id, args.owner, args.amount, now))
            self.allowances[key] -= args.amount
        elif isinstance(args, tokens_pb2.Burn | tokens_pb2.Redeem):
            error = self.spend_error(class_id, sender, args.amount, now)
            if error:
                return error
            self.take(class_id, sender, args.amount, now)
        elif isinstance(args, tokens_pb2.Freeze | tokens_pb2.Thaw):
            if sender != token_class.freezer:
                return "NotFreezer"
            found = self.holding(class_id, args.account)
            freezing = isinstance(args, tokens_pb2.Freeze)
            if found.frozen == freezing:
                return "AlreadyFrozen" if freezing else "NotFrozen"
            found.frozen = freezing
        elif isinstance(args, tokens_pb2.Hold):
            error = self.spend_error(class_id, sender, args.amount, now)
            if error:
                return error
            self.holding(class_id, sender).held += args.amount
        elif isinstance(args, tokens_pb2.Release):
            found = self.holding(class_id, sender)
            if found.frozen:
                return "AccountFrozen"
            if found.held < args.amount:
                return "InsufficientHeld"
            found.held -= args.amount
        elif isinstance(args, tokens_pb2.SetRoles):
            if sender != token_class.owner:
                return "NotOwner"
            token_class.owner, token_class.minter, token_class.freezer = args.owner, args.minter, args.freezer
        return None

    def end_block(self, now: int) -> None:
        for found in self.holdings.values():
            for expires_at in [expires_at for expires_at in found.lots if expires_at <= now]:
                del found.lots[expires_at]
            found.held = min(found.held, found.balance)


Op = tuple[str, int, int, int, int, int]  # kind, sender, other account, amount, class, flag


def _key_of(account: bytes) -> SigningKey:
    return next(key for key in ACCOUNTS if key.account_id == account)


def build_call(op: Op, model: Model) -> tuple[SigningKey, Message]:
    kind, sender_index, other_index, amount, class_index, flag = op
    sender = ACCOUNTS[sender_index]
    other = ACCOUNTS[other_index].account_id
    spec = CLASSES[class_index]
    if kind in MOVING and not spec.transferable and flag % 4:
        spec = CLASSES[flag % 2 * 2]  # mostly a transferable class: points or cash
    class_id = spec.class_id
    token_class = model.classes[class_id]
    if kind in SPENDING and flag % 3:  # mostly an account that has something to spend
        holders = sorted(
            account
            for (cid, account), found in model.holdings.items()
            if cid == class_id and (found.held if kind == "release" else found.lots)
        )
        if holders:
            sender = _key_of(holders[flag % len(holders)])
    if kind == "transfer_from" and flag % 2:  # mostly a spender that has an allowance
        allowed = sorted(key for key, value in model.allowances.items() if value)
        if allowed:
            class_id, owner, spender = allowed[flag % len(allowed)]
            token_class = model.classes[class_id]
            sender, other = _key_of(spender), owner
    by_role = {"mint": token_class.minter, "freeze": token_class.freezer, "thaw": token_class.freezer}
    if kind in by_role and flag % 4 != 0:  # mostly the role holder, sometimes anyone
        sender = _key_of(by_role[kind])
    calls: dict[str, Message] = {
        "mint": tokens_pb2.Mint(class_id=class_id, to=other, amount=U64_MAX if flag == 7 else 5 * amount),
        "transfer": tokens_pb2.Transfer(class_id=class_id, to=other, amount=amount),
        "transfer_from": tokens_pb2.TransferFrom(
            class_id=class_id, owner=other, to=ACCOUNTS[flag % len(ACCOUNTS)].account_id, amount=amount
        ),
        "approve": tokens_pb2.Approve(
            class_id=class_id,
            spender=other,
            amount=amount if flag % 3 else 0,
            expected_allowance=model.allowances.get((class_id, sender.account_id, other), 0) + flag % 2
            if flag % 5 == 0
            else None,
        ),
        "burn": tokens_pb2.Burn(class_id=class_id, amount=amount),
        "redeem": tokens_pb2.Redeem(class_id=class_id, amount=amount, reward=REWARD),
        "hold": tokens_pb2.Hold(class_id=class_id, amount=amount),
        "release": tokens_pb2.Release(class_id=class_id, amount=amount),
        "freeze": tokens_pb2.Freeze(class_id=class_id, account=other),
        "thaw": tokens_pb2.Thaw(class_id=class_id, account=other),
        "set_roles": tokens_pb2.SetRoles(
            class_id=class_id,
            owner=token_class.owner,
            minter=other if flag % 2 else MINTER.account_id,
            freezer=token_class.freezer,
        ),
        "ghost": tokens_pb2.Burn(class_id="ghost", amount=amount),
    }
    if kind == "set_roles":
        sender = _key_of(token_class.owner) if flag % 3 else sender
    return sender, calls[kind]


class Simulation:
    def __init__(self, store: KVStore) -> None:
        self.chain = TokensChain(store)
        for spec in CLASSES:
            self.chain.create(
                spec.class_id,
                transferable=spec.transferable,
                expiry_ms=spec.expiry_ms,
                max_supply=spec.max_supply,
            )
        self.model = Model()
        self.outcomes: dict[str, int] = {}

    def run_block(self, ops: list[Op], gap_ms: int) -> None:
        now = self.chain.now_ms + 1_000 + gap_ms
        calls = []
        expected = []
        for op in ops:
            sender, args = build_call(op, self.model)
            calls.append((sender, args))
            expected.append(self.model.apply(sender.account_id, args, now))
        result = self.chain.block(calls, gap_ms=gap_ms)  # checks the invariants and the events
        assert self.chain.now_ms == now
        self.model.end_block(now)
        for (_sender, args), receipt, error in zip(calls, result.receipts, expected, strict=True):
            found = None if receipt.success else receipt.error.name
            assert found == error, f"{type(args).__name__}({args}) gave {found}, the model says {error}"
            self.count(found or type(args).__name__)
        for event in self.chain.last_events:
            if event.name == "LotsExpired":
                self.count(event.name)
        self.compare()

    def count(self, outcome: str) -> None:
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1

    def compare(self) -> None:
        chain, model = self.chain, self.model
        for (class_id, account), found in sorted(model.holdings.items()):
            result = chain.balance(class_id, account)
            where = f"{account.hex()} in {class_id}"
            assert (result.balance, result.held, result.frozen) == (found.balance, found.held, found.frozen), where
            if model.classes[class_id].spec.expiry_ms:
                lots = [(lot.expires_at_ms, lot.amount) for lot in result.lots]
                assert lots == sorted(found.lots.items()), where
        for spec in CLASSES:
            assert chain.supply(spec.class_id) == model.supply(spec.class_id), spec.class_id
        stored = dict(ALLOWANCES.items(chain.state))
        expected = {
            class_id.encode() + b"/" + owner + spender: amount
            for (class_id, owner, spender), amount in model.allowances.items()
            if amount
        }
        assert stored == expected


def random_ops(rng: random.Random) -> list[Op]:
    return [
        (
            rng.choice(KINDS),
            rng.randrange(len(ACCOUNTS)),
            rng.randrange(len(ACCOUNTS)),
            rng.choice((rng.randint(1, 20), rng.randint(1, 120))),
            rng.randrange(len(CLASSES)),
            rng.randrange(20),
        )
        for _ in range(rng.randint(0, 8))
    ]


def test_seeded_simulation_matches_the_model(store: KVStore) -> None:
    rng = random.Random(20_250_101)
    simulation = Simulation(store)
    for _ in range(150):
        simulation.run_block(random_ops(rng), gap_ms=rng.choice((0, 0, 2_000, 6_000, 15_000)))
    outcomes = simulation.outcomes
    # The run must have exercised the interesting paths, not just failed everything.
    for kind in ("Mint", "Transfer", "TransferFrom", "Redeem", "Hold", "Release", "Freeze", "Thaw", "LotsExpired"):
        assert outcomes.get(kind, 0) > 0, kind
    for error in ("InsufficientBalance", "AccountFrozen", "AllowanceExceeded", "NotMinter", "SupplyExceeded"):
        assert outcomes.get(error, 0) > 0, error


OPS = st.tuples(
    st.sampled_from(KINDS),
    st.integers(0, len(ACCOUNTS) - 1),
    st.integers(0, len(ACCOUNTS) - 1),
    st.integers(1, 80),
    st.integers(0, len(CLASSES) - 1),
    st.integers(0, 19),
)
BLOCKS = st.lists(st.tuples(st.lists(OPS, max_size=6), st.sampled_from((0, 3_000, 9_000, 25_000))), max_size=15)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(blocks=BLOCKS)
def test_any_call_sequence_keeps_the_ledger_consistent(blocks: list[tuple[list[Op], int]]) -> None:
    simulation = Simulation(MemoryKV())
    for ops, gap_ms in blocks:
        simulation.run_block(ops, gap_ms)
