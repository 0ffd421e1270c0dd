"""The invariant checkers catch each kind of corruption they claim to catch."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from dcrm.runtime import STATE_PREFIX
from dcrm.runtime.modules.tokens import InvariantViolation, check_block, check_invariants
from dcrm.runtime.modules.tokens.storage import expiry_key, lot_key
from dcrm.runtime.state.kv import MemoryKV
from dcrm.runtime.state.prefixed import PrefixedReader
from dcrm.v1 import tokens_pb2, types_pb2
from tests.support.tokens_chain import ALICE, BOB, CAROL, FREEZER, MINTER, TokensChain

EXPIRY_MS = 60_000
S = STATE_PREFIX + b"tokens/"


def populated() -> TokensChain:
    """Two classes: expiring "points" (ALICE holds two lots, part held) and soulbound "badges"."""
    chain = TokensChain(MemoryKV())
    chain.create("points", expiry_ms=EXPIRY_MS)
    chain.create("badges", transferable=False)
    chain.mint("points", ALICE, 100)
    chain.mint("points", ALICE, 50)
    chain.mint("badges", BOB, 3)
    chain.ok(ALICE, tokens_pb2.Hold(class_id="points", amount=20))
    chain.ok(ALICE, tokens_pb2.Approve(class_id="points", spender=BOB.account_id, amount=30))
    return chain


def holding(chain: TokensChain, class_id: str, who: bytes) -> tokens_pb2.Holding:
    raw = chain.store.get(S + b"holding/" + class_id.encode() + b"/" + who)
    assert raw is not None
    return tokens_pb2.Holding.FromString(raw)


def first_lot(chain: TokensChain) -> tokens_pb2.Lot:
    lots = chain.balance("points", ALICE).lots
    return lots[0]


def u64(value: int) -> bytes:
    return value.to_bytes(8, "big")


def corrupt_supply(chain: TokensChain) -> None:
    chain.store.write({S + b"supply/points": u64(151)})


def corrupt_held(chain: TokensChain) -> None:
    found = holding(chain, "points", ALICE.account_id)
    found.held = found.balance + 1
    chain.store.write({S + b"holding/points/" + ALICE.account_id: found.SerializeToString()})


def drop_index_entry(chain: TokensChain) -> None:
    lot = first_lot(chain)
    chain.store.write({S + b"expiry/" + expiry_key(lot.expires_at_ms, "points", ALICE.account_id, lot.lot_id): None})


def add_stray_index_entry(chain: TokensChain) -> None:
    chain.store.write({S + b"expiry/" + expiry_key(5, "points", BOB.account_id, 0): b"\x01"})


def change_lot_amount(chain: TokensChain) -> None:
    lot = first_lot(chain)
    lot.amount += 1
    chain.store.write({S + b"lot/" + lot_key("points", ALICE.account_id, lot.expires_at_ms): lot.SerializeToString()})


def allowance_in_soulbound_class(chain: TokensChain) -> None:
    chain.store.write({S + b"allowance/badges/" + BOB.account_id + ALICE.account_id: u64(1)})


def holding_of_unknown_class(chain: TokensChain) -> None:
    chain.store.write({S + b"holding/ghost/" + ALICE.account_id: tokens_pb2.Holding(balance=1).SerializeToString()})


def empty_holding(chain: TokensChain) -> None:
    chain.store.write({S + b"holding/badges/" + CAROL.account_id: tokens_pb2.Holding().SerializeToString()})


@pytest.mark.parametrize(
    ("corrupt", "message"),
    [
        (corrupt_supply, "class 'points': total supply 151 != sum of balances 150"),
        (corrupt_held, "held 151 exceeds balance 150"),
        (drop_index_entry, "lot 0 has no expiry index entry"),
        (add_stray_index_entry, "names no stored lot"),
        (change_lot_amount, "lots sum to 151, balance is 150"),
        (allowance_in_soulbound_class, "in 'badges': the class does not exist or is soulbound"),
        (holding_of_unknown_class, "in 'ghost': the class does not exist"),
        (empty_holding, "an empty holding is stored"),
    ],
)
def test_check_invariants_names_the_broken_rule(corrupt: Callable[[TokensChain], None], message: str) -> None:
    chain = populated()
    check_invariants(chain.state)
    corrupt(chain)
    with pytest.raises(InvariantViolation, match=message):
        check_invariants(chain.state)


def test_an_expired_lot_left_in_state_is_reported() -> None:
    chain = populated()
    expires_at = first_lot(chain).expires_at_ms
    check_invariants(chain.state, now_ms=expires_at - 1)
    with pytest.raises(InvariantViolation, match=f"expired at {expires_at} but is still stored"):
        check_invariants(chain.state, now_ms=expires_at)


def event(message: tokens_pb2.Transferred | tokens_pb2.Approved) -> types_pb2.Event:
    return types_pb2.Event(module="tokens", name=type(message).__name__, data=message.SerializeToString())


def test_check_block_catches_value_moved_without_an_event() -> None:
    chain = populated()
    before = PrefixedReader(chain.store.snapshot(), STATE_PREFIX)
    corrupt_held(chain)
    with pytest.raises(InvariantViolation, match=r"held of \w+ in 'points' moved by 131, the events say 0"):
        check_block(before, chain.state, [])


def test_check_block_catches_a_spend_past_the_allowance() -> None:
    chain = populated()
    before = PrefixedReader(chain.store.snapshot(), STATE_PREFIX)
    spent = tokens_pb2.Transferred(
        class_id="points", sender=ALICE.account_id, recipient=CAROL.account_id, amount=31, spender=BOB.account_id
    )
    with pytest.raises(InvariantViolation, match="spent 31 of 'points' with allowance 30"):
        check_block(before, chain.state, [event(spent)])


def test_check_block_catches_a_stale_approval() -> None:
    chain = populated()
    before = PrefixedReader(chain.store.snapshot(), STATE_PREFIX)
    approved = tokens_pb2.Approved(
        class_id="points", owner=ALICE.account_id, spender=BOB.account_id, amount=5, previous=0
    )
    with pytest.raises(InvariantViolation, match="was 0, it was 30"):
        check_block(before, chain.state, [event(approved)])


def test_check_block_catches_a_frozen_account_moving() -> None:
    chain = populated()
    chain.ok(FREEZER, tokens_pb2.Freeze(class_id="points", account=ALICE.account_id))
    before = PrefixedReader(chain.store.snapshot(), STATE_PREFIX)
    moved = tokens_pb2.Transferred(class_id="points", sender=ALICE.account_id, recipient=CAROL.account_id, amount=1)
    with pytest.raises(InvariantViolation, match=r"frozen account \w+ moved 1 of 'points'"):
        check_block(before, chain.state, [event(moved)])


def test_check_block_accepts_what_the_chain_did() -> None:
    chain = populated()
    # TokensChain already checks every block; this one mixes every kind of event in one block.
    chain.block(
        [
            (BOB, tokens_pb2.TransferFrom(class_id="points", owner=ALICE.account_id, to=CAROL.account_id, amount=30)),
            (ALICE, tokens_pb2.Release(class_id="points", amount=5)),
            (MINTER, tokens_pb2.Mint(class_id="points", to=BOB.account_id, amount=7)),
            (FREEZER, tokens_pb2.Freeze(class_id="points", account=CAROL.account_id)),
            (BOB, tokens_pb2.Redeem(class_id="badges", amount=1, reward=bytes(32))),
        ]
    )
    assert [event.name for event in chain.last_events] == ["Transferred", "Released", "Minted", "Frozen", "Redeemed"]
    chain.advance(EXPIRY_MS)
    assert {event.name for event in chain.last_events} == {"LotsExpired"}
