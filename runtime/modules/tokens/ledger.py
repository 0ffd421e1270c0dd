"""Balances, lots and supply: the named operations that the calls and the expiry sweep are built from.

Vocabulary, for one (class, account):
- balance: everything the account owns, held included. In an expiring class it is the sum of the account's
  lots; in a class without expiry there are no lots.
- held: the staked part of the balance. Not spendable, still counted in the total supply.
- expired: the lots whose `expires_at_ms` is not after the block's timestamp. They are never spendable, even
  in the block before the end-of-block sweep removes them.
- free: balance - expired - held (never below zero): what transfer, burn, redeem and hold may use.

Spending consumes lots oldest first (soonest expiry first); a transfer carries each consumed part to the
recipient with its expiry unchanged, so moving points never extends their life. Holds are backed by the
newest lots: spending and expiry take the oldest first, and a hold shrinks only when the lots under it
expire.

`check_*` functions read and raise; `do_*` functions write and assume their check passed.
"""

from __future__ import annotations

from dataclasses import dataclass

from dcrm.runtime.modules.tokens import errors
from dcrm.runtime.modules.tokens.storage import (
    CLASSES,
    EXPIRY_INDEX,
    HOLDINGS,
    LOTS,
    SUPPLY,
    expiry_key,
    holding_key,
    lot_key,
)
from dcrm.runtime.state.kv import KVReader
from dcrm.runtime.state.overlay import Overlay
from dcrm.v1 import tokens_pb2

MAX_AMOUNT = 2**64 - 1

__all__ = [
    "MAX_AMOUNT",
    "Spendable",
    "check_class",
    "check_free",
    "check_sum",
    "do_deposit",
    "do_withdraw",
    "get_holding",
    "get_supply",
    "put_holding",
    "put_supply",
]


@dataclass(frozen=True, slots=True)
class Spendable:
    """An account's balance split at one instant, and the lots a spend of a given amount takes from."""

    holding: tokens_pb2.Holding
    expired: int  # in lots that are due but not swept yet
    free: int
    parts: list[tuple[bytes, tokens_pb2.Lot, int]]  # (lot key, lot, amount to take), oldest first


def check_class(state: KVReader, class_id: str) -> tokens_pb2.TokenClass:
    token_class = CLASSES.get(state, class_id.encode())
    if token_class is None:
        raise errors.UNKNOWN_CLASS(f"no token class has class_id {class_id!r}")
    return token_class


def check_sum(current: int, amount: int, what: str) -> int:
    """current + amount, or AmountOverflow naming `what` when it passes 2^64 - 1."""
    total = current + amount
    if total > MAX_AMOUNT:
        raise errors.AMOUNT_OVERFLOW(f"{what} would be {total}, more than 2^64 - 1 = {MAX_AMOUNT}")
    return total


def get_holding(state: KVReader, class_id: str, account: bytes) -> tokens_pb2.Holding:
    return HOLDINGS.get(state, holding_key(class_id, account)) or tokens_pb2.Holding()


def put_holding(state: Overlay, class_id: str, account: bytes, holding: tokens_pb2.Holding) -> None:
    """Store `holding`; an empty one is deleted unless it has issued lot ids (kept so ids are never reused)."""
    key = holding_key(class_id, account)
    if holding.balance == 0 and holding.held == 0 and not holding.frozen and holding.next_lot == 0:
        HOLDINGS.delete(state, key)
    else:
        HOLDINGS.put(state, key, holding)


def get_supply(state: KVReader, class_id: str) -> int:
    return SUPPLY.get(state, class_id.encode()) or 0


def put_supply(state: Overlay, class_id: str, supply: int) -> None:
    if supply:
        SUPPLY.put(state, class_id.encode(), supply)
    else:
        SUPPLY.delete(state, class_id.encode())


def check_free(
    state: KVReader, token_class: tokens_pb2.TokenClass, account: bytes, amount: int, now_ms: int, action: str
) -> Spendable:
    """Raise AccountFrozen or InsufficientBalance unless `account` may take `amount` out of its free balance.

    One pass over the account's lots, which sort by expiry: the due ones come first (counted as expired),
    then the live ones that `amount` would consume, oldest first; the pass stops as soon as they cover it.
    """
    class_id = token_class.class_id
    holding = get_holding(state, class_id, account)
    expired = 0
    parts: list[tuple[bytes, tokens_pb2.Lot, int]] = []
    if token_class.expiry_ms:
        remaining = amount
        for key, lot in LOTS.items(state, holding_key(class_id, account)):
            if lot.expires_at_ms <= now_ms:
                expired += lot.amount
            elif remaining == 0:
                break
            else:
                part = min(remaining, lot.amount)
                parts.append((key, lot, part))
                remaining -= part
    found = Spendable(holding, expired, max(0, holding.balance - expired - holding.held), parts)
    if holding.frozen:
        raise errors.ACCOUNT_FROZEN(f"account {account.hex()} is frozen in class {class_id!r} and cannot {action}")
    if found.free < amount:
        raise errors.INSUFFICIENT_BALANCE(
            f"account {account.hex()} has {found.free} free in class {class_id!r} "
            f"(balance {holding.balance}, held {holding.held}, expired {expired}); {action} needs {amount}"
        )
    return found


def do_withdraw(
    state: Overlay, token_class: tokens_pb2.TokenClass, account: bytes, amount: int, checked: Spendable
) -> list[tuple[int, int]]:
    """Take `amount` out of the lots `check_free` chose; returns [(expires_at_ms, amount)], oldest first.

    In a class without expiry the one part is (0, amount).
    """
    class_id = token_class.class_id
    holding = checked.holding
    holding.balance -= amount
    put_holding(state, class_id, account, holding)
    if not token_class.expiry_ms:
        return [(0, amount)]
    parts = []
    for key, lot, part in checked.parts:
        if part == lot.amount:
            LOTS.delete(state, key)
            EXPIRY_INDEX.delete(state, expiry_key(lot.expires_at_ms, class_id, account, lot.lot_id))
        else:
            lot.amount -= part
            LOTS.put(state, key, lot)
        parts.append((lot.expires_at_ms, part))
    return parts


def do_deposit(
    state: Overlay, token_class: tokens_pb2.TokenClass, account: bytes, parts: list[tuple[int, int]]
) -> None:
    """Credit [(expires_at_ms, amount)] parts; each joins the account's lot with the same expiry, or starts one.

    The caller guarantees the balance stays within the total supply, so it cannot overflow.
    """
    class_id = token_class.class_id
    holding = get_holding(state, class_id, account)
    for expires_at_ms, amount in parts:
        holding.balance += amount
        if not token_class.expiry_ms:
            continue
        key = lot_key(class_id, account, expires_at_ms)
        lot = LOTS.get(state, key)
        if lot is None:
            lot = tokens_pb2.Lot(lot_id=holding.next_lot, amount=0, expires_at_ms=expires_at_ms)
            holding.next_lot += 1
            EXPIRY_INDEX.put(state, expiry_key(expires_at_ms, class_id, account, lot.lot_id), True)
        lot.amount += amount
        LOTS.put(state, key, lot)
    put_holding(state, class_id, account, holding)
