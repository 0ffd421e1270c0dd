"""Expiring points: lots, oldest-first spending, the end-of-block sweep and its index, on both backends."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from dcrm.runtime import STATE_PREFIX
from dcrm.runtime.modules.tokens.expiry import sweep
from dcrm.runtime.state.kv import KVReader, KVStore
from dcrm.runtime.state.overlay import Overlay
from dcrm.runtime.state.prefixed import PrefixedReader
from dcrm.v1 import tokens_pb2
from tests.support.tokens_chain import ALICE, BOB, CAROL, FREEZER, MINTER, TokensChain, tokens_genesis

EXPIRY_MS = 10_000
U64_MAX = 2**64 - 1


def expiring_chain(store: KVStore, **options: Any) -> TokensChain:
    chain = TokensChain(store, **options)
    chain.create("points", expiry_ms=EXPIRY_MS)
    return chain


def lots_of(chain: TokensChain, who: Any) -> list[tuple[int, int, int]]:
    """(lot id, expires_at_ms, amount) of each lot, oldest first."""
    return [(lot.lot_id, lot.expires_at_ms, lot.amount) for lot in chain.balance("points", who).lots]


def expired_events(chain: TokensChain) -> list[tokens_pb2.LotsExpired]:
    return [tokens_pb2.LotsExpired.FromString(event.data) for event in chain.last_events if event.name == "LotsExpired"]


def test_minted_points_expire_at_the_end_of_their_block(store: KVStore) -> None:
    chain = expiring_chain(store)
    receipt = chain.mint("points", ALICE, 100)
    minted_at = chain.now_ms
    assert tokens_pb2.Minted.FromString(receipt.events[0].data).expires_at_ms == minted_at + EXPIRY_MS
    assert lots_of(chain, ALICE) == [(0, minted_at + EXPIRY_MS, 100)]
    chain.advance(EXPIRY_MS - 1)
    assert chain.balance("points", ALICE).balance == 100
    assert expired_events(chain) == []
    chain.advance(1)
    [event] = expired_events(chain)
    assert (event.class_id, event.account, event.amount, list(event.lot_ids), event.held_reduced) == (
        "points",
        ALICE.account_id,
        100,
        [0],
        0,
    )
    assert chain.balance("points", ALICE).balance == 0
    assert chain.supply("points") == 0
    assert not any(
        key.startswith(b"Stokens/expiry/") or key.startswith(b"Stokens/lot/") for key, _ in store.iterate(b"S")
    )


def test_spending_takes_the_oldest_lots_and_transfers_keep_their_expiry(store: KVStore) -> None:
    chain = expiring_chain(store)
    expiries = []
    for amount in (10, 20, 30):
        chain.mint("points", ALICE, amount)
        expiries.append(chain.now_ms + EXPIRY_MS)
    chain.ok(ALICE, tokens_pb2.Transfer(class_id="points", to=BOB.account_id, amount=15))
    assert lots_of(chain, ALICE) == [(1, expiries[1], 15), (2, expiries[2], 30)]
    assert lots_of(chain, BOB) == [(0, expiries[0], 10), (1, expiries[1], 5)]
    chain.ok(ALICE, tokens_pb2.Burn(class_id="points", amount=20))
    assert lots_of(chain, ALICE) == [(2, expiries[2], 25)]


def test_credits_with_the_same_expiry_join_one_lot(store: KVStore) -> None:
    chain = expiring_chain(store)
    chain.block(
        [
            (MINTER, tokens_pb2.Mint(class_id="points", to=ALICE.account_id, amount=5)),
            (MINTER, tokens_pb2.Mint(class_id="points", to=BOB.account_id, amount=7)),
            (MINTER, tokens_pb2.Mint(class_id="points", to=CAROL.account_id, amount=1)),
        ]
    )
    expires_at = chain.now_ms + EXPIRY_MS
    chain.block(
        [
            (ALICE, tokens_pb2.Transfer(class_id="points", to=CAROL.account_id, amount=5)),
            (BOB, tokens_pb2.Transfer(class_id="points", to=CAROL.account_id, amount=7)),
        ]
    )
    assert lots_of(chain, CAROL) == [(0, expires_at, 13)]


def test_due_lots_are_not_spendable_before_the_sweep(store: KVStore) -> None:
    chain = expiring_chain(store)
    chain.mint("points", ALICE, 10)
    chain.mint("points", ALICE, 5)
    first_expiry = chain.now_ms - 1_000 + EXPIRY_MS
    chain.advance(first_expiry - 1_000 - chain.now_ms)
    # This block's timestamp is the first lot's expiry: its calls already treat that lot as expired.
    result = chain.block(
        [
            (ALICE, tokens_pb2.Transfer(class_id="points", to=BOB.account_id, amount=6)),
            (ALICE, tokens_pb2.Transfer(class_id="points", to=BOB.account_id, amount=5)),
        ]
    )
    assert chain.now_ms == first_expiry
    failed, spent = result.receipts
    assert failed.error.name == "InsufficientBalance"
    assert "has 5 free in class 'points' (balance 15, held 0, expired 10); transfer needs 6" in failed.error.message
    assert spent.success
    assert [event.amount for event in expired_events(chain)] == [10]
    assert chain.balance("points", ALICE).balance == 0
    assert chain.balance("points", BOB).balance == 5


def test_holds_are_backed_by_the_newest_lots(store: KVStore) -> None:
    chain = expiring_chain(store)
    chain.mint("points", ALICE, 10)
    chain.mint("points", ALICE, 10)
    chain.ok(ALICE, tokens_pb2.Hold(class_id="points", amount=10))
    chain.advance(EXPIRY_MS - 2_000)  # the first lot expires; the hold stands on the second
    [event] = expired_events(chain)
    assert (event.amount, event.held_reduced) == (10, 0)
    balance = chain.balance("points", ALICE)
    assert (balance.balance, balance.held, balance.free) == (10, 10, 0)


def test_a_hold_shrinks_when_its_lots_expire(store: KVStore) -> None:
    chain = expiring_chain(store)
    chain.mint("points", ALICE, 10)
    chain.mint("points", ALICE, 10)
    chain.ok(ALICE, tokens_pb2.Hold(class_id="points", amount=15))
    chain.advance(EXPIRY_MS - 2_000)
    [event] = expired_events(chain)
    assert (event.amount, event.held_reduced) == (10, 5)
    balance = chain.balance("points", ALICE)
    assert (balance.balance, balance.held, balance.free) == (10, 10, 0)
    chain.advance(1_000)
    [event] = expired_events(chain)
    assert (event.amount, event.held_reduced) == (10, 10)
    assert chain.balance("points", ALICE).held == 0


def test_frozen_points_still_expire(store: KVStore) -> None:
    chain = expiring_chain(store)
    chain.mint("points", ALICE, 10)
    chain.ok(FREEZER, tokens_pb2.Freeze(class_id="points", account=ALICE.account_id))
    chain.advance(EXPIRY_MS)
    assert [event.amount for event in expired_events(chain)] == [10]
    balance = chain.balance("points", ALICE)
    assert (balance.balance, balance.frozen) == (0, True)


def test_lot_ids_are_never_reused(store: KVStore) -> None:
    chain = expiring_chain(store)
    chain.mint("points", ALICE, 10)
    chain.mint("points", ALICE, 10)
    chain.ok(ALICE, tokens_pb2.Burn(class_id="points", amount=20))
    chain.mint("points", ALICE, 10)
    assert [lot_id for lot_id, _, _ in lots_of(chain, ALICE)] == [2]


def test_a_capped_sweep_catches_up_in_later_blocks(store: KVStore) -> None:
    chain = expiring_chain(store, max_expiries_per_block=2)
    holders = [ALICE, BOB, CAROL, MINTER, FREEZER]
    chain.block([(MINTER, tokens_pb2.Mint(class_id="points", to=key.account_id, amount=3)) for key in holders])
    chain.advance(EXPIRY_MS)
    assert len(expired_events(chain)) == 2
    assert chain.supply("points") == 9
    # CAROL's lot is past due but not swept yet: it is still not spendable.
    receipt = chain.call(CAROL, tokens_pb2.Transfer(class_id="points", to=ALICE.account_id, amount=1))
    assert receipt.error.name == "InsufficientBalance"
    assert len(expired_events(chain)) == 2
    chain.advance(1_000)
    assert len(expired_events(chain)) == 1
    assert chain.supply("points") == 0


class CountingReader:
    """Counts the items that range reads return, to show what the sweep looks at."""

    def __init__(self, base: KVReader) -> None:
        self.base = base
        self.items_read = 0

    def get(self, key: bytes) -> bytes | None:
        return self.base.get(key)

    def iterate(self, prefix: bytes, start: bytes = b"") -> Iterator[tuple[bytes, bytes]]:
        for item in self.base.iterate(prefix, start):
            self.items_read += 1
            yield item


def test_the_sweep_reads_only_the_due_index_entries(store: KVStore) -> None:
    now = 1_800_000_000_000
    holders = []
    for number in range(1, 301):
        due = number <= 3
        lot = {"lot_id": 0, "expires_at_ms": now - number if due else now + number, "amount": 5}
        account = number.to_bytes(20, "big").hex()
        holdings = {"account": account, "balance": 5, "held": 0, "frozen": False, "next_lot": 1, "lots": [lot]}
        holders.append(holdings)
    points = {
        "class_id": "points",
        "name": "Points",
        "symbol": "PTS",
        "decimals": 0,
        "max_supply": None,
        "transferable": True,
        "expiry_ms": EXPIRY_MS,
        "owner": MINTER.account_id.hex(),
        "minter": MINTER.account_id.hex(),
        "freezer": MINTER.account_id.hex(),
        "holdings": holders,
        "allowances": [],
    }
    chain = TokensChain(store, tokens_genesis([points]))
    reader = CountingReader(PrefixedReader(store, STATE_PREFIX))
    events = sweep(Overlay(reader), now, limit=10_000)
    assert [event.account for event in events] == [number.to_bytes(20, "big") for number in (1, 2, 3)]
    assert reader.items_read == 4  # three due entries and the first that is not
    assert chain.supply("points") == 1_500


def test_lots_query_pages_oldest_first(store: KVStore) -> None:
    chain = expiring_chain(store)
    expiries = []
    for amount in range(1, 6):
        chain.mint("points", ALICE, amount)
        expiries.append(chain.now_ms + EXPIRY_MS)

    def page(after: int, limit: int) -> tuple[list[int], bool]:
        request = tokens_pb2.LotsQuery(class_id="points", account=ALICE.account_id, expires_after_ms=after, limit=limit)
        result: tokens_pb2.LotsResult = chain.query("lots", request, tokens_pb2.LotsResult)
        return [lot.amount for lot in result.lots], result.more

    assert page(0, 2) == ([1, 2], True)
    assert page(expiries[1], 2) == ([3, 4], True)
    assert page(expiries[3], 2) == ([5], False)
    assert page(U64_MAX, 2) == ([], False)
    assert page(0, 0) == ([1, 2, 3, 4, 5], False)  # 0 means the default page size
