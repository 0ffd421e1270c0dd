"""Tokens module genesis: classes with their holdings, lots and allowances (normally none).

Every field is required and every list is sorted, so that `export(build(config)) == config` holds for
every config that builds. The total supply of a class is not given: it is the sum of its balances.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from dcrm.runtime.genesis import GenesisError, require_hex, require_int, require_keys, require_list
from dcrm.runtime.modules.tokens.calls import (
    CLASS_ID_PATTERN,
    MAX_DECIMALS,
    MAX_EXPIRY_MS,
    MAX_NAME_CHARS,
    SYMBOL_PATTERN,
    is_display_name,
)
from dcrm.runtime.modules.tokens.ledger import MAX_AMOUNT
from dcrm.runtime.modules.tokens.storage import (
    ACCOUNT_LENGTH,
    ALLOWANCES,
    CLASSES,
    EXPIRY_INDEX,
    HOLDINGS,
    LOTS,
    SUPPLY,
    allowance_key,
    class_prefix,
    expiry_key,
    holding_key,
    lot_key,
)
from dcrm.runtime.state.kv import KVReader
from dcrm.runtime.state.overlay import Overlay
from dcrm.v1 import tokens_pb2

FIELD = "modules.tokens"
DEFAULT_CONFIG: dict[str, Any] = {"classes": []}

CLASS_FIELDS = {
    "class_id",
    "name",
    "symbol",
    "decimals",
    "max_supply",
    "transferable",
    "expiry_ms",
    "owner",
    "minter",
    "freezer",
    "holdings",
    "allowances",
}
HOLDING_FIELDS = {"account", "balance", "held", "frozen", "next_lot", "lots"}
LOT_FIELDS = {"lot_id", "expires_at_ms", "amount"}
ALLOWANCE_FIELDS = {"owner", "spender", "amount"}


def build(state: Overlay, config: Mapping[str, Any]) -> None:
    require_keys(config, FIELD, required={"classes"})
    previous = ""
    for position, value in enumerate(require_list(config["classes"], f"{FIELD}.classes")):
        field = f"{FIELD}.classes[{position}]"
        token_class = _parse_class(value, field)
        if token_class.class_id <= previous:
            raise GenesisError(f"{field}.class_id", "classes must be sorted by class_id without repeats")
        previous = token_class.class_id
        CLASSES.put(state, token_class.class_id.encode(), token_class)
        supply = _build_holdings(state, token_class, value["holdings"], f"{field}.holdings")
        if token_class.HasField("max_supply") and supply > token_class.max_supply:
            raise GenesisError(
                f"{field}.holdings", f"balances sum to {supply}, past max_supply {token_class.max_supply}"
            )
        if supply:
            SUPPLY.put(state, token_class.class_id.encode(), supply)
        _build_allowances(state, token_class, value["allowances"], f"{field}.allowances")


def export(state: KVReader) -> dict[str, Any]:
    classes = []
    for _key, token_class in CLASSES.items(state):
        class_id = token_class.class_id
        prefix = class_prefix(class_id)
        holdings = []
        for key, holding in HOLDINGS.items(state, prefix):
            account = key[len(prefix) :]
            lots = [
                {"lot_id": lot.lot_id, "expires_at_ms": lot.expires_at_ms, "amount": lot.amount}
                for _lot_key, lot in LOTS.items(state, holding_key(class_id, account))
            ]
            holdings.append(
                {
                    "account": account.hex(),
                    "balance": holding.balance,
                    "held": holding.held,
                    "frozen": holding.frozen,
                    "next_lot": holding.next_lot,
                    "lots": lots,
                }
            )
        allowances = [
            {
                "owner": key[len(prefix) : -ACCOUNT_LENGTH].hex(),
                "spender": key[-ACCOUNT_LENGTH:].hex(),
                "amount": amount,
            }
            for key, amount in ALLOWANCES.items(state, prefix)
        ]
        classes.append(
            {
                "class_id": class_id,
                "name": token_class.name,
                "symbol": token_class.symbol,
                "decimals": token_class.decimals,
                "max_supply": token_class.max_supply if token_class.HasField("max_supply") else None,
                "transferable": token_class.transferable,
                "expiry_ms": token_class.expiry_ms,
                "owner": token_class.owner.hex(),
                "minter": token_class.minter.hex(),
                "freezer": token_class.freezer.hex(),
                "holdings": holdings,
                "allowances": allowances,
            }
        )
    return {"classes": classes}


def _require_bool(value: Any, field: str) -> bool:
    if not isinstance(value, bool):
        raise GenesisError(field, "expected true or false")
    return value


def _require_text(value: Any, field: str, valid: Callable[[str], bool], rule: str) -> str:
    if not isinstance(value, str) or not valid(value):
        raise GenesisError(field, f"expected {rule}")
    return value


def _parse_class(value: Any, field: str) -> tokens_pb2.TokenClass:
    require_keys(value, field, required=CLASS_FIELDS)
    class_id = _require_text(
        value["class_id"],
        f"{field}.class_id",
        lambda text: CLASS_ID_PATTERN.fullmatch(text) is not None,
        "1 to 32 characters of A-Z a-z 0-9 . _ -",
    )
    name = _require_text(
        value["name"],
        f"{field}.name",
        is_display_name,
        f"1 to {MAX_NAME_CHARS} characters without control characters",
    )
    symbol = _require_text(
        value["symbol"],
        f"{field}.symbol",
        lambda text: SYMBOL_PATTERN.fullmatch(text) is not None,
        "1 to 12 characters of A-Z a-z 0-9",
    )
    token_class = tokens_pb2.TokenClass(
        class_id=class_id,
        name=name,
        symbol=symbol,
        decimals=require_int(value["decimals"], f"{field}.decimals", maximum=MAX_DECIMALS),
        transferable=_require_bool(value["transferable"], f"{field}.transferable"),
        expiry_ms=require_int(value["expiry_ms"], f"{field}.expiry_ms", maximum=MAX_EXPIRY_MS),
        owner=require_hex(value["owner"], f"{field}.owner", ACCOUNT_LENGTH),
        minter=require_hex(value["minter"], f"{field}.minter", ACCOUNT_LENGTH),
        freezer=require_hex(value["freezer"], f"{field}.freezer", ACCOUNT_LENGTH),
    )
    if value["max_supply"] is not None:
        token_class.max_supply = require_int(value["max_supply"], f"{field}.max_supply", minimum=1)
    return token_class


def _build_holdings(state: Overlay, token_class: tokens_pb2.TokenClass, value: Any, field: str) -> int:
    """Store the holdings and their lots; returns the sum of their balances (the class's supply)."""
    class_id = token_class.class_id
    supply = 0
    previous = b""
    for position, item in enumerate(require_list(value, field)):
        at = f"{field}[{position}]"
        require_keys(item, at, required=HOLDING_FIELDS)
        account = require_hex(item["account"], f"{at}.account", ACCOUNT_LENGTH)
        if account <= previous:
            raise GenesisError(f"{at}.account", "holdings must be sorted by account without repeats")
        previous = account
        holding = tokens_pb2.Holding(
            balance=require_int(item["balance"], f"{at}.balance"),
            held=require_int(item["held"], f"{at}.held"),
            frozen=_require_bool(item["frozen"], f"{at}.frozen"),
            next_lot=require_int(item["next_lot"], f"{at}.next_lot"),
        )
        if holding.held > holding.balance:
            raise GenesisError(f"{at}.held", f"is {holding.held}, more than the balance {holding.balance}")
        if holding.balance == 0 and holding.held == 0 and not holding.frozen and holding.next_lot == 0:
            raise GenesisError(at, "an empty holding is not stored: leave it out")
        lots = _parse_lots(token_class, holding, item["lots"], f"{at}.lots")
        for lot in lots:
            LOTS.put(state, lot_key(class_id, account, lot.expires_at_ms), lot)
            EXPIRY_INDEX.put(state, expiry_key(lot.expires_at_ms, class_id, account, lot.lot_id), True)
        HOLDINGS.put(state, holding_key(class_id, account), holding)
        supply += holding.balance
        if supply > MAX_AMOUNT:
            raise GenesisError(f"{at}.balance", f"balances of {class_id!r} sum past 2^64 - 1")
    return supply


def _parse_lots(
    token_class: tokens_pb2.TokenClass, holding: tokens_pb2.Holding, value: Any, field: str
) -> list[tokens_pb2.Lot]:
    items = require_list(value, field)
    if not token_class.expiry_ms:
        if items or holding.next_lot:
            raise GenesisError(field, "a class without expiry keeps no lots: expected [] and next_lot 0")
        return []
    lots: list[tokens_pb2.Lot] = []
    seen_ids: set[int] = set()
    for position, item in enumerate(items):
        at = f"{field}[{position}]"
        require_keys(item, at, required=LOT_FIELDS)
        lot = tokens_pb2.Lot(
            lot_id=require_int(item["lot_id"], f"{at}.lot_id"),
            expires_at_ms=require_int(item["expires_at_ms"], f"{at}.expires_at_ms"),
            amount=require_int(item["amount"], f"{at}.amount", minimum=1),
        )
        if lot.lot_id >= holding.next_lot or lot.lot_id in seen_ids:
            raise GenesisError(f"{at}.lot_id", f"expected a unique id below next_lot {holding.next_lot}")
        if lots and lot.expires_at_ms <= lots[-1].expires_at_ms:
            raise GenesisError(f"{at}.expires_at_ms", "lots must be sorted by expires_at_ms without repeats")
        seen_ids.add(lot.lot_id)
        lots.append(lot)
    total = sum(lot.amount for lot in lots)
    if total != holding.balance:
        raise GenesisError(field, f"lot amounts sum to {total}, but the balance is {holding.balance}")
    return lots


def _build_allowances(state: Overlay, token_class: tokens_pb2.TokenClass, value: Any, field: str) -> None:
    previous = b""
    for position, item in enumerate(require_list(value, field)):
        at = f"{field}[{position}]"
        if not token_class.transferable:
            raise GenesisError(at, "a soulbound class has no allowances")
        require_keys(item, at, required=ALLOWANCE_FIELDS)
        owner = require_hex(item["owner"], f"{at}.owner", ACCOUNT_LENGTH)
        spender = require_hex(item["spender"], f"{at}.spender", ACCOUNT_LENGTH)
        if owner == spender:
            raise GenesisError(f"{at}.spender", "is the owner")
        if owner + spender <= previous:
            raise GenesisError(at, "allowances must be sorted by owner, then spender, without repeats")
        previous = owner + spender
        amount = require_int(item["amount"], f"{at}.amount", minimum=1)
        ALLOWANCES.put(state, allowance_key(token_class.class_id, owner, spender), amount)
