"""The end-of-block sweep that removes expired lots.

It walks the expiry index, which sorts by expiry time first, from its start and stops at the first entry
that is not due: the work is proportional to the lots that expire, never to the number of accounts.
At most `limit` lots are removed per block so a mass expiry cannot stall a block; the rest follow in the
next blocks, and until then the ledger already treats them as expired (see ledger.check_free).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from dcrm.runtime.modules.tokens.ledger import get_holding, get_supply, put_holding, put_supply
from dcrm.runtime.modules.tokens.storage import EXPIRY_INDEX, LOTS, TIME_LENGTH, lot_key, parse_expiry_key
from dcrm.runtime.state.overlay import Overlay
from dcrm.v1 import tokens_pb2

__all__ = ["DEFAULT_MAX_EXPIRIES_PER_BLOCK", "sweep"]

DEFAULT_MAX_EXPIRIES_PER_BLOCK = 10_000


@dataclass(slots=True)
class _Expired:
    amount: int = 0
    lot_ids: list[int] = field(default_factory=list)


def sweep(state: Overlay, now_ms: int, limit: int) -> list[tokens_pb2.LotsExpired]:
    """Remove up to `limit` lots due at `now_ms`; one LotsExpired per (class, account), sorted by both."""
    due: list[bytes] = []
    for key, _present in EXPIRY_INDEX.items(state):
        if len(due) == limit or int.from_bytes(key[:TIME_LENGTH], "big") > now_ms:
            break
        due.append(key)
    expired: dict[tuple[str, bytes], _Expired] = {}
    for key in due:
        expires_at_ms, class_id, account, lot_id = parse_expiry_key(key)
        stored = lot_key(class_id, account, expires_at_ms)
        lot = LOTS.get(state, stored)
        if lot is None or lot.lot_id != lot_id:
            raise AssertionError(f"expiry index entry {key.hex()} names a lot that is not stored")
        LOTS.delete(state, stored)
        EXPIRY_INDEX.delete(state, key)
        entry = expired.setdefault((class_id, account), _Expired())
        entry.amount += lot.amount
        entry.lot_ids.append(lot_id)
    events = []
    removed_per_class: dict[str, int] = {}
    for class_id, account in sorted(expired):
        entry = expired[(class_id, account)]
        holding = get_holding(state, class_id, account)
        holding.balance -= entry.amount
        # Expired points cannot stay staked: the hold shrinks to what is left.
        held_reduced = max(0, holding.held - holding.balance)
        holding.held -= held_reduced
        put_holding(state, class_id, account, holding)
        removed_per_class[class_id] = removed_per_class.get(class_id, 0) + entry.amount
        events.append(
            tokens_pb2.LotsExpired(
                class_id=class_id,
                account=account,
                amount=entry.amount,
                lot_ids=entry.lot_ids,
                held_reduced=held_reduced,
            )
        )
    for class_id in sorted(removed_per_class):
        put_supply(state, class_id, get_supply(state, class_id) - removed_per_class[class_id])
    return events
