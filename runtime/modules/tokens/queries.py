"""Tokens module queries, answered from committed state: after the end-of-block sweep of the last block."""

from __future__ import annotations

from typing import Any

from dcrm.runtime.module import QueryDef
from dcrm.runtime.modules.tokens.calls import check_account, check_class_id
from dcrm.runtime.modules.tokens.ledger import MAX_AMOUNT, check_class, get_holding, get_supply
from dcrm.runtime.modules.tokens.storage import ALLOWANCES, LOTS, allowance_key, holding_key, time_bytes
from dcrm.runtime.state.kv import KVReader
from dcrm.v1 import tokens_pb2

BALANCE_LOTS = 100
DEFAULT_LOTS_LIMIT = 100
MAX_LOTS_LIMIT = 1_000


def _lots(
    state: KVReader, class_id: str, account: bytes, after_ms: int, limit: int
) -> tuple[list[tokens_pb2.Lot], bool]:
    """Up to `limit` lots expiring after `after_ms`, oldest first, and whether more follow."""
    lots: list[tokens_pb2.Lot] = []
    if after_ms >= MAX_AMOUNT:
        return lots, False  # nothing can expire after the last representable instant
    for _key, lot in LOTS.items(state, holding_key(class_id, account), time_bytes(after_ms + 1)):
        if len(lots) == limit:
            return lots, True
        lots.append(lot)
    return lots, False


def token_class(state: KVReader, request: tokens_pb2.ClassQuery) -> tokens_pb2.ClassResult:
    check_class_id(request.class_id)
    found = check_class(state, request.class_id)
    return tokens_pb2.ClassResult(token_class=found, total_supply=get_supply(state, request.class_id))


def balance(state: KVReader, request: tokens_pb2.BalanceQuery) -> tokens_pb2.BalanceResult:
    check_class_id(request.class_id)
    check_account(request.account, "account")
    check_class(state, request.class_id)
    holding = get_holding(state, request.class_id, request.account)
    lots, more = _lots(state, request.class_id, request.account, 0, BALANCE_LOTS)
    return tokens_pb2.BalanceResult(
        balance=holding.balance,
        free=holding.balance - holding.held,
        held=holding.held,
        frozen=holding.frozen,
        lots=lots,
        more_lots=more,
    )


def allowance(state: KVReader, request: tokens_pb2.AllowanceQuery) -> tokens_pb2.AllowanceResult:
    check_class_id(request.class_id)
    check_account(request.owner, "owner")
    check_account(request.spender, "spender")
    check_class(state, request.class_id)
    amount = ALLOWANCES.get(state, allowance_key(request.class_id, request.owner, request.spender)) or 0
    return tokens_pb2.AllowanceResult(amount=amount)


def lots(state: KVReader, request: tokens_pb2.LotsQuery) -> tokens_pb2.LotsResult:
    check_class_id(request.class_id)
    check_account(request.account, "account")
    check_class(state, request.class_id)
    limit = min(request.limit or DEFAULT_LOTS_LIMIT, MAX_LOTS_LIMIT)
    found, more = _lots(state, request.class_id, request.account, request.expires_after_ms, limit)
    return tokens_pb2.LotsResult(lots=found, more=more)


QUERIES: tuple[QueryDef[Any, Any], ...] = (
    QueryDef("class", tokens_pb2.ClassQuery, tokens_pb2.ClassResult, token_class),
    QueryDef("balance", tokens_pb2.BalanceQuery, tokens_pb2.BalanceResult, balance),
    QueryDef("allowance", tokens_pb2.AllowanceQuery, tokens_pb2.AllowanceResult, allowance),
    QueryDef("lots", tokens_pb2.LotsQuery, tokens_pb2.LotsResult, lots),
)
