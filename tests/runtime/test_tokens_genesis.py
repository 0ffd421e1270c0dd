"""Tokens genesis: export(build(g)) == g, state carried through an export, and errors that name the field."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from dcrm.runtime import STATE_PREFIX, Genesis, GenesisError
from dcrm.runtime.state.kv import KVStore, MemoryKV
from dcrm.v1 import tokens_pb2
from tests.support.runtime_harness import RuntimeHarness
from tests.support.tokens_chain import ALICE, BOB, CAROL, FREEZER, ISSUER, MINTER, TokensChain, tokens_genesis

FIELD = "modules.tokens.classes"


def expiring_class() -> dict[str, Any]:
    return {
        "class_id": "miles",
        "name": "Air miles",
        "symbol": "MILE",
        "decimals": 0,
        "max_supply": 1_000_000,
        "transferable": False,
        "expiry_ms": 31_536_000_000,
        "owner": ISSUER.account_id.hex(),
        "minter": MINTER.account_id.hex(),
        "freezer": FREEZER.account_id.hex(),
        # ALICE's account id sorts before BOB's.
        "holdings": [
            {
                "account": ALICE.account_id.hex(),
                "balance": 30,
                "held": 12,
                "frozen": False,
                "next_lot": 4,
                "lots": [
                    {"lot_id": 2, "expires_at_ms": 1_800_000_000_000, "amount": 10},
                    {"lot_id": 0, "expires_at_ms": 1_800_000_500_000, "amount": 20},
                ],
            },
            {"account": BOB.account_id.hex(), "balance": 0, "held": 0, "frozen": True, "next_lot": 0, "lots": []},
        ],
        "allowances": [],
    }


def plain_class() -> dict[str, Any]:
    owner, spender = sorted([ALICE.account_id.hex(), CAROL.account_id.hex()])
    return {
        "class_id": "coupons",
        "name": "Coupons",
        "symbol": "CPN",
        "decimals": 2,
        "max_supply": None,
        "transferable": True,
        "expiry_ms": 0,
        "owner": ISSUER.account_id.hex(),
        "minter": ISSUER.account_id.hex(),
        "freezer": ISSUER.account_id.hex(),
        "holdings": [
            {"account": CAROL.account_id.hex(), "balance": 500, "held": 0, "frozen": False, "next_lot": 0, "lots": []}
        ],
        "allowances": [{"owner": owner, "spender": spender, "amount": 75}],
    }


def config() -> list[dict[str, Any]]:
    return [plain_class(), expiring_class()]  # sorted by class_id


def test_default_genesis_is_empty_and_round_trips(store: KVStore) -> None:
    chain = TokensChain(store)
    genesis = chain.harness.genesis
    assert genesis.modules["tokens"] == {"classes": []}
    assert chain.harness.runtime.export_genesis(store) == genesis


def test_rich_genesis_round_trips(store: KVStore) -> None:
    genesis = tokens_genesis(config()).build()
    chain = TokensChain(store, tokens_genesis(config()))
    exported = chain.harness.runtime.export_genesis(store)
    assert exported.modules["tokens"] == genesis.modules["tokens"]
    assert exported.canonical_bytes() == genesis.canonical_bytes()
    assert chain.supply("miles") == 30
    assert chain.supply("coupons") == 500
    balance = chain.balance("miles", ALICE)
    assert (balance.balance, balance.held, balance.free) == (30, 12, 18)
    assert [lot.lot_id for lot in balance.lots] == [2, 0]
    assert chain.balance("miles", BOB).frozen


def test_exported_state_rebuilds_the_same_tokens_state(store: KVStore) -> None:
    chain = TokensChain(store, tokens_genesis(config()))
    chain.ok(MINTER, tokens_pb2.Mint(class_id="miles", to=CAROL.account_id, amount=40))
    chain.ok(CAROL, tokens_pb2.Hold(class_id="miles", amount=15))
    chain.ok(CAROL, tokens_pb2.Approve(class_id="coupons", spender=BOB.account_id, amount=9))
    chain.ok(CAROL, tokens_pb2.Transfer(class_id="coupons", to=ALICE.account_id, amount=100))
    exported = chain.harness.runtime.export_genesis(store)
    rebuilt = MemoryKV()
    RuntimeHarness(rebuilt, Genesis.from_json(exported.to_json()))

    def tokens_state(kv: KVStore) -> dict[bytes, bytes]:
        return dict(kv.iterate(STATE_PREFIX + b"tokens/"))

    assert tokens_state(rebuilt) == tokens_state(store)


def mutation(path: str, value: Any) -> Callable[[list[dict[str, Any]]], None]:
    """Set `value` at a dotted path below the classes list ("0.holdings.0.held"); "-" deletes the key."""

    def apply(classes: list[dict[str, Any]]) -> None:
        *parents, last = path.split(".")
        node: Any = classes
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        if value == "-":
            del node[last]
        elif isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value

    return apply


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        ("0.class_id", "bad id", f"{FIELD}[0].class_id"),
        ("0.class_id", "zzz", f"{FIELD}[1].class_id"),  # out of order: miles now comes before zzz
        ("0.name", "", f"{FIELD}[0].name"),
        ("0.symbol", "C P N", f"{FIELD}[0].symbol"),
        ("0.decimals", 19, f"{FIELD}[0].decimals"),
        ("0.max_supply", 0, f"{FIELD}[0].max_supply"),
        ("1.max_supply", 29, f"{FIELD}[1].holdings"),
        ("0.transferable", "yes", f"{FIELD}[0].transferable"),
        ("0.expiry_ms", -1, f"{FIELD}[0].expiry_ms"),
        ("0.owner", "ab", f"{FIELD}[0].owner"),
        ("0.freezer", "-", f"{FIELD}[0].freezer"),
        ("0.holdings.0.held", 501, f"{FIELD}[0].holdings[0].held"),
        ("0.holdings.0.lots", [{"lot_id": 0, "expires_at_ms": 1, "amount": 500}], f"{FIELD}[0].holdings[0].lots"),
        ("0.holdings.0.balance", 0, f"{FIELD}[0].holdings[0]"),
        ("0.allowances.0.amount", 0, f"{FIELD}[0].allowances[0].amount"),
        ("0.allowances.0.spender", None, f"{FIELD}[0].allowances[0].spender"),
        ("1.holdings.0.lots.0.lot_id", 4, f"{FIELD}[1].holdings[0].lots[0].lot_id"),
        ("1.holdings.0.lots.0.lot_id", 0, f"{FIELD}[1].holdings[0].lots[1].lot_id"),
        ("1.holdings.0.lots.1.expires_at_ms", 1_800_000_000_000, f"{FIELD}[1].holdings[0].lots[1].expires_at_ms"),
        ("1.holdings.0.lots.1.amount", 21, f"{FIELD}[1].holdings[0].lots"),
        ("1.holdings.0.lots.1.amount", 0, f"{FIELD}[1].holdings[0].lots[1].amount"),
        ("1.holdings.1.account", ALICE.account_id.hex(), f"{FIELD}[1].holdings[1].account"),
        ("1.allowances", [{"owner": "00" * 20, "spender": "01" * 20, "amount": 1}], f"{FIELD}[1].allowances[0]"),
        ("1.extra", 1, f"{FIELD}[1].extra"),
    ],
)
def test_bad_genesis_names_the_field(path: str, value: Any, field: str) -> None:
    classes = copy.deepcopy(config())
    if value is None:  # an allowance to oneself
        classes[0]["allowances"][0]["spender"] = classes[0]["allowances"][0]["owner"]
    else:
        mutation(path, value)(classes)
    with pytest.raises(GenesisError) as caught:
        TokensChain(MemoryKV(), tokens_genesis(classes))
    assert caught.value.field == field


def test_tokens_section_is_required() -> None:
    genesis = tokens_genesis().build()
    modules = {name: section for name, section in genesis.modules.items() if name != "tokens"}
    with pytest.raises(GenesisError) as caught:
        RuntimeHarness(MemoryKV(), Genesis(genesis.chain_id, genesis.timestamp_ms, modules))
    assert caught.value.field == "modules.tokens"
