"""The tokens SDK helpers (`client.tokens`) against a real single-validator node process."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from dcrm.client import Client, ModuleError, module_error_class
from dcrm.client.keys import sha256
from dcrm.client.tokens import (
    AccountFrozen,
    AllowanceChanged,
    InsufficientBalance,
    NotMinter,
    NotTransferable,
    TokensApi,
    TokensModuleError,
    holding_key,
)
from dcrm.client.transactions import decode_event
from dcrm.runtime.modules.tokens import errors as runtime_errors
from dcrm.v1 import tokens_pb2
from tests.support.node_process import NodeProcess, local_node
from tests.support.tokens_chain import ALICE, BOB, CAROL, FREEZER, ISSUER, MINTER, tokens_genesis

YEAR_MS = 365 * 86_400_000


def test_every_runtime_error_has_its_sdk_class() -> None:
    for error in runtime_errors.ALL:
        cls = module_error_class(3, error.code)
        assert issubclass(cls, TokensModuleError)
        assert cls.__name__ == error.name
    assert module_error_class(3, 999) is TokensModuleError
    assert sorted(error.code for error in runtime_errors.ALL) == sorted(tokens_pb2.Error.values())[1:]


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeProcess]:
    process = local_node(tmp_path_factory.mktemp("tokens-node"), tokens_genesis())
    process.start()
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture
def client(node: NodeProcess) -> Iterator[Client]:
    with Client(node.endpoint) as connected:
        yield connected


def test_loyalty_flow_through_the_sdk(client: Client) -> None:
    tokens = client.tokens
    assert isinstance(tokens, TokensApi)
    issuer, minter, freezer = client.account(ISSUER), client.account(MINTER), client.account(FREEZER)
    alice, bob = client.account(ALICE), client.account(BOB)
    created = tokens.create_class(
        issuer,
        "acme",
        "ACME Rewards",
        "ACME",
        decimals=2,
        expiry_ms=YEAR_MS,
        minter=MINTER.account_id,
        freezer=FREEZER.account_id,
    )
    assert isinstance(decode_event(created.events[0]), tokens_pb2.ClassCreated)
    info = tokens.class_info("acme")
    assert (info.token_class.owner, info.token_class.minter) == (ISSUER.account_id, MINTER.account_id)

    minted = tokens.mint(minter, "acme", ALICE.account_id, 1_000, reference=sha256(b"order-17"))
    event = decode_event(minted.events[0])
    assert isinstance(event, tokens_pb2.Minted)
    assert event.reference == sha256(b"order-17")
    tokens.mint(minter, "acme", ALICE.account_id, 500)

    tokens.transfer(alice, "acme", BOB.account_id, 300)
    tokens.approve(alice, "acme", BOB.account_id, 200, expected_allowance=0)
    with pytest.raises(AllowanceChanged) as caught:
        tokens.approve(alice, "acme", BOB.account_id, 50, expected_allowance=0)
    assert caught.value.module == 3
    assert "is 200, not the expected_allowance 0" in caught.value.message
    tokens.transfer_from(bob, "acme", ALICE.account_id, CAROL.account_id, 150)
    assert tokens.allowance("acme", ALICE.account_id, BOB.account_id) == 50

    tokens.hold(alice, "acme", 400)
    tokens.release(alice, "acme", 100)
    redeemed = tokens.redeem(alice, "acme", 50, sha256(b"catalogue/mug"))
    assert isinstance(decode_event(redeemed.events[0]), tokens_pb2.Redeemed)

    balance = tokens.balance("acme", ALICE.account_id)
    assert (balance.balance, balance.held, balance.free) == (1_000, 300, 700)
    assert [lot.amount for lot in tokens.iter_lots("acme", ALICE.account_id, page_size=1)] == [
        lot.amount for lot in balance.lots
    ]
    assert sum(lot.amount for lot in balance.lots) == 1_000

    # Verified reads check the commit certificate and the state proof.
    holding = tokens.holding("acme", ALICE.account_id)
    assert (holding.balance, holding.held) == (1_000, 300)
    assert tokens.total_supply("acme") == info.total_supply + 1_500 - 50
    assert tokens.holding("acme", ISSUER.account_id) == tokens_pb2.Holding()

    tokens.freeze(freezer, "acme", ALICE.account_id)
    with pytest.raises(AccountFrozen):
        tokens.burn(alice, "acme", 1)
    tokens.thaw(freezer, "acme", ALICE.account_id)
    tokens.burn(alice, "acme", 1)

    tokens.set_roles(issuer, "acme", owner=ISSUER.account_id, minter=ISSUER.account_id, freezer=FREEZER.account_id)
    with pytest.raises(NotMinter):
        tokens.mint(minter, "acme", ALICE.account_id, 1)


def test_failed_calls_raise_typed_errors_or_return_the_receipt(client: Client) -> None:
    tokens = client.tokens
    issuer, carol = client.account(ISSUER), client.account(CAROL)
    tokens.create_class(issuer, "badges", "Badges", "BDG", transferable=False)
    tokens.mint(issuer, "badges", CAROL.account_id, 3)
    with pytest.raises(NotTransferable) as caught:
        tokens.transfer(carol, "badges", ALICE.account_id, 1)
    assert isinstance(caught.value, ModuleError)
    receipt = tokens.burn(carol, "badges", 4, check=False)
    assert not receipt.success
    assert receipt.error.name == "InsufficientBalance"
    with pytest.raises(InsufficientBalance):
        tokens.burn(carol, "badges", 4)
    assert tokens.balance("badges", CAROL.account_id).balance == 3


def test_arguments_are_checked_before_anything_is_sent(client: Client) -> None:
    tokens, carol = client.tokens, client.account(CAROL)
    cases: list[tuple[Callable[[], object], str]] = [
        (lambda: tokens.transfer(carol, "bad id", ALICE.account_id, 1), "class_id 'bad id'"),
        (lambda: tokens.transfer(carol, "acme", b"short", 1), "to must be a 20-byte account id"),
        (lambda: tokens.transfer(carol, "acme", ALICE.account_id, 0), "amount must be an integer from 1"),
        (lambda: tokens.transfer(carol, "acme", ALICE.account_id, 2**64), "amount must be an integer from 1"),
        (lambda: tokens.redeem(carol, "acme", 1, b"not a hash"), "reward must be a 32-byte hash"),
        (lambda: tokens.mint(carol, "acme", ALICE.account_id, 1, reference=b"x"), "reference must be a 32-byte"),
        (lambda: tokens.approve(carol, "acme", ALICE.account_id, -1), "amount must be an integer from 0"),
    ]
    nonce = carol.next_nonce
    for call, message in cases:
        with pytest.raises(ValueError, match=message):
            call()
    assert carol.next_nonce == nonce
    assert holding_key("acme", ALICE.account_id) == b"tokens/holding/acme/" + ALICE.account_id
