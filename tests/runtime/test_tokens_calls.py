"""The tokens module's calls: success, every error path and the permissions, on both backends.

Every block these tests apply is checked by TokensChain against the ledger invariants and its events.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from google.protobuf.message import Message

from dcrm.client.keys import SigningKey
from dcrm.runtime.errors import DispatchError, ErrorDef, Rejection, TxRejected
from dcrm.runtime.modules.tokens import errors
from dcrm.runtime.modules.tokens.calls import (
    check_approve,
    check_class_and_amount,
    check_create_class,
    check_freeze_args,
    check_mint,
    check_redeem,
    check_set_roles,
    check_transfer,
    check_transfer_from,
)
from dcrm.runtime.state.kv import KVStore
from dcrm.v1 import tokens_pb2
from tests.support.tokens_chain import (
    ALICE,
    BOB,
    CAROL,
    FREEZER,
    ISSUER,
    MINTER,
    TokensChain,
    assert_noop,
)

U64_MAX = 2**64 - 1
REWARD = bytes(range(32))


def chain_with_points(
    store: KVStore, *, transferable: bool = True, max_supply: int | None = None, expiry_ms: int = 0
) -> TokensChain:
    chain = TokensChain(store)
    chain.create("points", transferable=transferable, max_supply=max_supply, expiry_ms=expiry_ms)
    return chain


# --- create_class --------------------------------------------------------------------------------------


def test_issuer_creates_a_class_and_owns_it(store: KVStore) -> None:
    chain = TokensChain(store)
    args = tokens_pb2.CreateClass(
        class_id="acme.points-2025",
        name="ACME Rewards",
        symbol="ACME",
        decimals=2,
        max_supply=1_000_000,
        transferable=False,
        expiry_ms=31_536_000_000,
        minter=MINTER.account_id,
    )
    receipt = chain.ok(ISSUER, args)
    event = tokens_pb2.ClassCreated.FromString(receipt.events[0].data)
    assert receipt.events[0].name == "ClassCreated"
    found: tokens_pb2.ClassResult = chain.query(
        "class", tokens_pb2.ClassQuery(class_id=args.class_id), tokens_pb2.ClassResult
    )
    assert found.token_class == event.token_class
    assert found.total_supply == 0
    token_class = found.token_class
    assert (token_class.owner, token_class.minter, token_class.freezer) == (
        ISSUER.account_id,
        MINTER.account_id,
        ISSUER.account_id,  # an empty freezer defaults to the creator
    )
    assert (token_class.name, token_class.symbol, token_class.decimals) == ("ACME Rewards", "ACME", 2)
    assert token_class.HasField("max_supply")
    assert token_class.max_supply == 1_000_000
    assert not token_class.transferable
    assert token_class.expiry_ms == 31_536_000_000


def test_class_without_max_supply_has_none(store: KVStore) -> None:
    chain = chain_with_points(store)
    found: tokens_pb2.ClassResult = chain.query(
        "class", tokens_pb2.ClassQuery(class_id="points"), tokens_pb2.ClassResult
    )
    assert not found.token_class.HasField("max_supply")


def test_only_issuers_create_classes(store: KVStore) -> None:
    chain = TokensChain(store)
    args = tokens_pb2.CreateClass(class_id="points", name="Points", symbol="PTS")
    before = chain.state_without_nonce(ALICE)
    receipt = chain.call(ALICE, args)
    assert (receipt.error.module, receipt.error.name) == (0, "MissingRole")
    assert "issuer" in receipt.error.message
    assert chain.state_without_nonce(ALICE) == before
    # The mempool refuses it before it reaches a block.
    with pytest.raises(TxRejected) as caught:
        signed = chain.harness.decode(chain.sign(ALICE, args))
        chain.harness.runtime.validate_transaction(store, signed, chain.harness.height + 1)
    assert caught.value.reason is Rejection.PERMISSION_DENIED


def test_class_id_is_unique(store: KVStore) -> None:
    chain = chain_with_points(store)
    args = tokens_pb2.CreateClass(class_id="points", name="Other", symbol="OTH")
    receipt = assert_noop(chain, ISSUER, args, "ClassExists")
    assert "'points'" in receipt.error.message


@pytest.mark.parametrize(
    ("change", "error", "field"),
    [
        ({"class_id": ""}, errors.BAD_CLASS_ID, "class_id"),
        ({"class_id": "a/b"}, errors.BAD_CLASS_ID, "class_id"),
        ({"class_id": "x" * 33}, errors.BAD_CLASS_ID, "class_id"),
        ({"class_id": "pünkte"}, errors.BAD_CLASS_ID, "class_id"),
        ({"name": ""}, errors.BAD_METADATA, "name"),
        ({"name": "n" * 65}, errors.BAD_METADATA, "name"),
        ({"name": "two\nlines"}, errors.BAD_METADATA, "name"),
        ({"name": "next\x85line"}, errors.BAD_METADATA, "name"),
        ({"symbol": "P S"}, errors.BAD_METADATA, "symbol"),
        ({"symbol": "S" * 13}, errors.BAD_METADATA, "symbol"),
        ({"decimals": 19}, errors.BAD_METADATA, "decimals"),
        ({"max_supply": 0}, errors.BAD_MAX_SUPPLY, "max_supply"),
        ({"expiry_ms": 36_525 * 86_400_000 + 1}, errors.BAD_EXPIRY, "expiry_ms"),
        ({"minter": b"\x01" * 19}, errors.BAD_ACCOUNT, "minter"),
        ({"freezer": b"\x01" * 21}, errors.BAD_ACCOUNT, "freezer"),
    ],
)
def test_create_class_argument_checks(change: dict[str, Any], error: ErrorDef, field: str) -> None:
    fields: dict[str, Any] = {"class_id": "points", "name": "Points", "symbol": "PTS", "decimals": 2}
    fields.update(change)
    with pytest.raises(DispatchError) as caught:
        check_create_class(tokens_pb2.CreateClass(**fields))
    assert caught.value.error is error
    assert caught.value.message.startswith(field)


def test_names_may_use_any_script_but_no_control_characters() -> None:
    check_create_class(tokens_pb2.CreateClass(class_id="p", name="Prämienpunkte ★ 積分", symbol="PP"))
    with pytest.raises(DispatchError, match="without control characters"):
        check_create_class(tokens_pb2.CreateClass(class_id="p", name="tab\there", symbol="PP"))


def test_bad_arguments_are_refused_at_admission(store: KVStore) -> None:
    chain = TokensChain(store)
    tx = chain.sign(ISSUER, tokens_pb2.CreateClass(class_id="bad id", name="Points", symbol="PTS"))
    with pytest.raises(TxRejected) as caught:
        chain.harness.decode(tx)
    assert caught.value.reason is Rejection.BAD_ARGUMENTS
    assert caught.value.message.startswith("tokens.create_class: class_id 'bad id'")


def error_of(check: Callable[[Any], None], args: Message) -> ErrorDef:
    with pytest.raises(DispatchError) as caught:
        check(args)
    return caught.value.error


def test_argument_checks_of_every_call() -> None:
    account = ALICE.account_id
    assert error_of(check_mint, tokens_pb2.Mint(class_id="p", to=account, amount=0)) is errors.BAD_AMOUNT
    assert error_of(check_mint, tokens_pb2.Mint(class_id="p", to=b"", amount=1)) is errors.BAD_ACCOUNT
    bad_reference = tokens_pb2.Mint(class_id="p", to=account, amount=1, reference=b"x")
    assert error_of(check_mint, bad_reference) is errors.BAD_REFERENCE
    check_mint(tokens_pb2.Mint(class_id="p", to=account, amount=1, reference=REWARD))
    assert error_of(check_transfer, tokens_pb2.Transfer(class_id="p", to=account, amount=0)) is errors.BAD_AMOUNT
    assert error_of(check_transfer, tokens_pb2.Transfer(class_id="", to=account, amount=1)) is errors.BAD_CLASS_ID
    assert error_of(check_approve, tokens_pb2.Approve(class_id="p", spender=b"\x00")) is errors.BAD_ACCOUNT
    check_approve(tokens_pb2.Approve(class_id="p", spender=account, amount=0))  # zero removes an allowance
    bad_owner = tokens_pb2.TransferFrom(class_id="p", owner=b"", to=account, amount=1)
    assert error_of(check_transfer_from, bad_owner) is errors.BAD_ACCOUNT
    assert error_of(check_class_and_amount, tokens_pb2.Burn(class_id="p", amount=0)) is errors.BAD_AMOUNT
    assert error_of(check_class_and_amount, tokens_pb2.Hold(class_id="p", amount=0)) is errors.BAD_AMOUNT
    assert error_of(check_redeem, tokens_pb2.Redeem(class_id="p", amount=1)) is errors.BAD_REFERENCE
    assert error_of(check_redeem, tokens_pb2.Redeem(class_id="p", amount=1, reward=b"r" * 33)) is errors.BAD_REFERENCE
    assert error_of(check_freeze_args, tokens_pb2.Freeze(class_id="p", account=b"a")) is errors.BAD_ACCOUNT
    roles = tokens_pb2.SetRoles(class_id="p", owner=account, minter=account, freezer=b"")
    assert error_of(check_set_roles, roles) is errors.BAD_ACCOUNT


# --- mint ------------------------------------------------------------------------------------------------


def test_minter_mints(store: KVStore) -> None:
    chain = chain_with_points(store)
    args = tokens_pb2.Mint(class_id="points", to=ALICE.account_id, amount=250, reference=REWARD)
    receipt = chain.ok(MINTER, args)
    event = tokens_pb2.Minted.FromString(receipt.events[0].data)
    assert (event.to, event.amount, event.reference, event.minter, event.expires_at_ms) == (
        ALICE.account_id,
        250,
        REWARD,
        MINTER.account_id,
        0,
    )
    balance = chain.balance("points", ALICE)
    assert (balance.balance, balance.free, balance.held, list(balance.lots)) == (250, 250, 0, [])
    assert chain.supply("points") == 250


@pytest.mark.parametrize("who", [ISSUER, ALICE, FREEZER])
def test_only_the_minter_mints(store: KVStore, who: SigningKey) -> None:
    chain = chain_with_points(store)
    args = tokens_pb2.Mint(class_id="points", to=ALICE.account_id, amount=1)
    receipt = assert_noop(chain, who, args, "NotMinter")
    assert "minter of class 'points'" in receipt.error.message


def test_mint_into_unknown_class(store: KVStore) -> None:
    chain = chain_with_points(store)
    receipt = assert_noop(
        chain, MINTER, tokens_pb2.Mint(class_id="nope", to=ALICE.account_id, amount=1), "UnknownClass"
    )
    assert "'nope'" in receipt.error.message


def test_max_supply_is_enforced(store: KVStore) -> None:
    chain = chain_with_points(store, max_supply=1_000)
    chain.mint("points", ALICE, 600)
    receipt = assert_noop(
        chain, MINTER, tokens_pb2.Mint(class_id="points", to=BOB.account_id, amount=401), "SupplyExceeded"
    )
    assert "to 1001, past its max_supply 1000" in receipt.error.message
    chain.mint("points", BOB, 400)
    assert chain.supply("points") == 1_000


def test_supply_overflow_is_refused_precisely(store: KVStore) -> None:
    chain = chain_with_points(store)
    chain.mint("points", ALICE, U64_MAX)
    receipt = assert_noop(
        chain, MINTER, tokens_pb2.Mint(class_id="points", to=BOB.account_id, amount=1), "AmountOverflow"
    )
    assert receipt.error.message == (
        f"the total supply of 'points' would be {U64_MAX + 1}, more than 2^64 - 1 = {U64_MAX}"
    )


def test_frozen_accounts_can_receive(store: KVStore) -> None:
    chain = chain_with_points(store)
    chain.ok(FREEZER, tokens_pb2.Freeze(class_id="points", account=ALICE.account_id))
    chain.mint("points", ALICE, 10)
    chain.mint("points", BOB, 10)
    chain.ok(BOB, tokens_pb2.Transfer(class_id="points", to=ALICE.account_id, amount=5))
    assert chain.balance("points", ALICE).balance == 15


# --- transfer --------------------------------------------------------------------------------------------


def test_transfer_moves_free_tokens(store: KVStore) -> None:
    chain = chain_with_points(store)
    chain.mint("points", ALICE, 100)
    receipt = chain.ok(ALICE, tokens_pb2.Transfer(class_id="points", to=BOB.account_id, amount=30))
    event = tokens_pb2.Transferred.FromString(receipt.events[0].data)
    assert (event.sender, event.recipient, event.amount, event.spender) == (ALICE.account_id, BOB.account_id, 30, b"")
    assert (chain.balance("points", ALICE).balance, chain.balance("points", BOB).balance) == (70, 30)
    assert chain.supply("points") == 100


def test_transfer_of_whole_balance_removes_the_holding(store: KVStore) -> None:
    chain = chain_with_points(store)
    chain.mint("points", ALICE, 100)
    chain.ok(ALICE, tokens_pb2.Transfer(class_id="points", to=BOB.account_id, amount=100))
    assert store.get(b"Stokens/holding/points/" + ALICE.account_id) is None


def test_transfer_needs_free_balance(store: KVStore) -> None:
    chain = chain_with_points(store)
    chain.mint("points", ALICE, 100)
    chain.ok(ALICE, tokens_pb2.Hold(class_id="points", amount=60))
    receipt = assert_noop(
        chain, ALICE, tokens_pb2.Transfer(class_id="points", to=BOB.account_id, amount=41), "InsufficientBalance"
    )
    assert "has 40 free in class 'points' (balance 100, held 60, expired 0); transfer needs 41" in receipt.error.message
    chain.ok(ALICE, tokens_pb2.Transfer(class_id="points", to=BOB.account_id, amount=40))


def test_soulbound_points_do_not_move(store: KVStore) -> None:
    chain = chain_with_points(store, transferable=False)
    chain.mint("points", ALICE, 100)
    receipt = assert_noop(
        chain, ALICE, tokens_pb2.Transfer(class_id="points", to=BOB.account_id, amount=1), "NotTransferable"
    )
    assert "soulbound" in receipt.error.message
    assert_noop(
        chain, ALICE, tokens_pb2.Approve(class_id="points", spender=BOB.account_id, amount=1), "NotTransferable"
    )
    from_args = tokens_pb2.TransferFrom(class_id="points", owner=ALICE.account_id, to=CAROL.account_id, amount=1)
    assert_noop(chain, BOB, from_args, "NotTransferable")


def test_transfer_to_self_is_refused(store: KVStore) -> None:
    chain = chain_with_points(store)
    chain.mint("points", ALICE, 100)
    assert_noop(chain, ALICE, tokens_pb2.Transfer(class_id="points", to=ALICE.account_id, amount=1), "SameAccount")


# --- approve and transfer_from ---------------------------------------------------------------------------


def approve(amount: int, expected: int | None = None) -> tokens_pb2.Approve:
    return tokens_pb2.Approve(class_id="points", spender=BOB.account_id, amount=amount, expected_allowance=expected)


def spend(amount: int, to: bytes = CAROL.account_id) -> tokens_pb2.TransferFrom:
    return tokens_pb2.TransferFrom(class_id="points", owner=ALICE.account_id, to=to, amount=amount)


def test_approve_overwrites_the_allowance(store: KVStore) -> None:
    chain = chain_with_points(store)
    first = chain.ok(ALICE, approve(50))
    assert tokens_pb2.Approved.FromString(first.events[0].data).previous == 0
    second = chain.ok(ALICE, approve(20))
    event = tokens_pb2.Approved.FromString(second.events[0].data)
    assert (event.owner, event.spender, event.amount, event.previous) == (ALICE.account_id, BOB.account_id, 20, 50)
    assert chain.allowance("points", ALICE, BOB) == 20
    chain.ok(ALICE, approve(0))
    assert chain.allowance("points", ALICE, BOB) == 0
    assert not any(key.startswith(b"Stokens/allowance/") for key, _ in store.iterate(b"S"))


def test_compare_and_set_closes_the_approve_race(store: KVStore) -> None:
    chain = chain_with_points(store)
    chain.mint("points", ALICE, 100)
    chain.ok(ALICE, approve(50))
    # BOB spends 50 before ALICE's change to 20 lands; a blind overwrite would let him spend 20 more.
    chain.ok(BOB, spend(50))
    receipt = assert_noop(chain, ALICE, approve(20, expected=50), "AllowanceChanged")
    assert "is 0, not the expected_allowance 50" in receipt.error.message
    chain.ok(ALICE, approve(20, expected=0))
    assert chain.allowance("points", ALICE, BOB) == 20


def test_approve_self_is_refused(store: KVStore) -> None:
    chain = chain_with_points(store)
    args = tokens_pb2.Approve(class_id="points", spender=ALICE.account_id, amount=5)
    assert_noop(chain, ALICE, args, "SameAccount")


def test_transfer_from_spends_within_the_allowance(store: KVStore) -> None:
    chain = chain_with_points(store)
    chain.mint("points", ALICE, 100)
    chain.ok(ALICE, approve(60))
    receipt = chain.ok(BOB, spend(25))
    event = tokens_pb2.Transferred.FromString(receipt.events[0].data)
    assert (event.sender, event.recipient, event.amount, event.spender) == (
        ALICE.account_id,
        CAROL.account_id,
        25,
        BOB.account_id,
    )
    assert chain.allowance("points", ALICE, BOB) == 35
    receipt = assert_noop(chain, BOB, spend(36), "AllowanceExceeded")
    assert "amount 36 exceeds the allowance 35" in receipt.error.message
    chain.ok(BOB, spend(35, to=BOB.account_id))
    assert chain.allowance("points", ALICE, BOB) == 0
    assert (chain.balance("points", ALICE).balance, chain.balance("points", BOB).balance) == (40, 35)


def test_transfer_from_errors(store: KVStore) -> None:
    chain = chain_with_points(store)
    chain.mint("points", ALICE, 10)
    assert_noop(chain, BOB, spend(1), "AllowanceExceeded")  # no allowance at all
    chain.ok(ALICE, approve(50))
    assert_noop(chain, BOB, spend(11), "InsufficientBalance")  # allowed, but ALICE has only 10
    assert_noop(chain, BOB, spend(1, to=ALICE.account_id), "SameAccount")
    own = tokens_pb2.TransferFrom(class_id="points", owner=BOB.account_id, to=CAROL.account_id, amount=1)
    assert_noop(chain, BOB, own, "SameAccount")
    chain.ok(FREEZER, tokens_pb2.Freeze(class_id="points", account=ALICE.account_id))
    assert_noop(chain, BOB, spend(1), "AccountFrozen")


# --- burn and redeem -------------------------------------------------------------------------------------


def test_burn_and_redeem_destroy_free_tokens(store: KVStore) -> None:
    chain = chain_with_points(store, transferable=False)  # soulbound points can still be spent on rewards
    chain.mint("points", ALICE, 100)
    burned = chain.ok(ALICE, tokens_pb2.Burn(class_id="points", amount=10))
    assert tokens_pb2.Burned.FromString(burned.events[0].data).amount == 10
    redeemed = chain.ok(ALICE, tokens_pb2.Redeem(class_id="points", amount=30, reward=REWARD))
    event = tokens_pb2.Redeemed.FromString(redeemed.events[0].data)
    assert (redeemed.events[0].name, event.account, event.amount, event.reward) == (
        "Redeemed",
        ALICE.account_id,
        30,
        REWARD,
    )
    assert chain.balance("points", ALICE).balance == 60
    assert chain.supply("points") == 60
    chain.ok(ALICE, tokens_pb2.Hold(class_id="points", amount=50))
    assert_noop(chain, ALICE, tokens_pb2.Redeem(class_id="points", amount=11, reward=REWARD), "InsufficientBalance")
    assert_noop(chain, BOB, tokens_pb2.Burn(class_id="points", amount=1), "InsufficientBalance")


def test_burning_everything_clears_the_supply(store: KVStore) -> None:
    chain = chain_with_points(store)
    chain.mint("points", ALICE, 5)
    chain.ok(ALICE, tokens_pb2.Burn(class_id="points", amount=5))
    assert chain.supply("points") == 0
    assert store.get(b"Stokens/supply/points") is None


# --- freeze and thaw -------------------------------------------------------------------------------------


def test_freezer_freezes_and_thaws(store: KVStore) -> None:
    chain = chain_with_points(store)
    before = chain.state_without_nonce(FREEZER)
    frozen = chain.ok(FREEZER, tokens_pb2.Freeze(class_id="points", account=ALICE.account_id))
    event = tokens_pb2.Frozen.FromString(frozen.events[0].data)
    assert (event.account, event.freezer) == (ALICE.account_id, FREEZER.account_id)
    assert chain.balance("points", ALICE).frozen
    assert_noop(chain, FREEZER, tokens_pb2.Freeze(class_id="points", account=ALICE.account_id), "AlreadyFrozen")
    thawed = chain.ok(FREEZER, tokens_pb2.Thaw(class_id="points", account=ALICE.account_id))
    assert thawed.events[0].name == "Thawed"
    assert not chain.balance("points", ALICE).frozen
    assert chain.state_without_nonce(FREEZER) == before  # an empty holding leaves no record behind
    assert_noop(chain, FREEZER, tokens_pb2.Thaw(class_id="points", account=ALICE.account_id), "NotFrozen")


@pytest.mark.parametrize("who", [ISSUER, MINTER, ALICE])
def test_only_the_freezer_freezes(store: KVStore, who: SigningKey) -> None:
    chain = chain_with_points(store)
    args = tokens_pb2.Freeze(class_id="points", account=ALICE.account_id)
    assert_noop(chain, who, args, "NotFreezer")
    chain.ok(FREEZER, args)
    assert_noop(chain, who, tokens_pb2.Thaw(class_id="points", account=ALICE.account_id), "NotFreezer")


def test_frozen_accounts_move_nothing(store: KVStore) -> None:
    chain = chain_with_points(store)
    chain.mint("points", ALICE, 100)
    chain.ok(ALICE, tokens_pb2.Hold(class_id="points", amount=10))
    chain.ok(ALICE, approve(50))
    chain.ok(FREEZER, tokens_pb2.Freeze(class_id="points", account=ALICE.account_id))
    for args in (
        tokens_pb2.Transfer(class_id="points", to=BOB.account_id, amount=1),
        tokens_pb2.Burn(class_id="points", amount=1),
        tokens_pb2.Redeem(class_id="points", amount=1, reward=REWARD),
        tokens_pb2.Hold(class_id="points", amount=1),
        tokens_pb2.Release(class_id="points", amount=1),
    ):
        receipt = assert_noop(chain, ALICE, args, "AccountFrozen")
        assert f"account {ALICE.account_id.hex()} is frozen in class 'points'" in receipt.error.message
    assert_noop(chain, BOB, spend(1), "AccountFrozen")
    chain.ok(FREEZER, tokens_pb2.Thaw(class_id="points", account=ALICE.account_id))
    chain.ok(ALICE, tokens_pb2.Transfer(class_id="points", to=BOB.account_id, amount=1))


# --- hold and release ------------------------------------------------------------------------------------


def test_hold_and_release(store: KVStore) -> None:
    chain = chain_with_points(store)
    chain.mint("points", ALICE, 100)
    held = chain.ok(ALICE, tokens_pb2.Hold(class_id="points", amount=70))
    event = tokens_pb2.Held.FromString(held.events[0].data)
    assert (event.amount, event.held) == (70, 70)
    balance = chain.balance("points", ALICE)
    assert (balance.balance, balance.free, balance.held) == (100, 30, 70)
    assert chain.supply("points") == 100  # held tokens still count
    assert_noop(chain, ALICE, tokens_pb2.Hold(class_id="points", amount=31), "InsufficientBalance")
    released = chain.ok(ALICE, tokens_pb2.Release(class_id="points", amount=20))
    assert tokens_pb2.Released.FromString(released.events[0].data).held == 50
    receipt = assert_noop(chain, ALICE, tokens_pb2.Release(class_id="points", amount=51), "InsufficientHeld")
    assert "holds 50 in class 'points'; release needs 51" in receipt.error.message


def test_release_in_unknown_class(store: KVStore) -> None:
    chain = chain_with_points(store)
    assert_noop(chain, ALICE, tokens_pb2.Release(class_id="other", amount=1), "UnknownClass")


# --- set_roles -------------------------------------------------------------------------------------------


def test_owner_changes_roles(store: KVStore) -> None:
    chain = chain_with_points(store)
    args = tokens_pb2.SetRoles(
        class_id="points", owner=ALICE.account_id, minter=BOB.account_id, freezer=CAROL.account_id
    )
    receipt = chain.ok(ISSUER, args)
    event = tokens_pb2.RolesChanged.FromString(receipt.events[0].data)
    assert (event.owner, event.minter, event.freezer, event.changed_by) == (
        ALICE.account_id,
        BOB.account_id,
        CAROL.account_id,
        ISSUER.account_id,
    )
    assert_noop(chain, MINTER, tokens_pb2.Mint(class_id="points", to=ALICE.account_id, amount=1), "NotMinter")
    chain.ok(BOB, tokens_pb2.Mint(class_id="points", to=ALICE.account_id, amount=1))
    chain.ok(CAROL, tokens_pb2.Freeze(class_id="points", account=ALICE.account_id))
    # ISSUER handed the class over: only ALICE may change the roles now.
    assert_noop(chain, ISSUER, args, "NotOwner")
    chain.ok(ALICE, args)


@pytest.mark.parametrize("who", [MINTER, FREEZER, ALICE])
def test_only_the_owner_sets_roles(store: KVStore, who: SigningKey) -> None:
    chain = chain_with_points(store)
    args = tokens_pb2.SetRoles(
        class_id="points", owner=ALICE.account_id, minter=ALICE.account_id, freezer=ALICE.account_id
    )
    receipt = assert_noop(chain, who, args, "NotOwner")
    assert "owner of class 'points'" in receipt.error.message
