"""`dcrm tokens`: loyalty token classes, balances, allowances, holds and freezes, through the SDK (client.tokens).

Amounts are integers in the class's minor units. Accounts are 40 hex digits. A reference (mint) or reward
(redeem) is a 32-byte hash: give it as --reference HEX, or as --reference-of TEXT to hash TEXT with sha256
(an order number, a catalogue item). The module is described in docs/modules/tokens.md.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from dcrm.node.cli.calls import (
    add_action,
    connect,
    parse_duration_ms,
    parse_hash,
    report_call,
    report_read,
    signer,
)
from dcrm.node.cli.common import parse_account

__all__ = ["register"]


def _add_class(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--class", dest="class_id", required=True, metavar="CLASS", help="the token class id")


def _add_amount(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--amount", type=int, required=True, metavar="N", help="in the class's minor units")


def _add_hash(parser: argparse.ArgumentParser, name: str, what: str) -> None:
    found = parser.add_mutually_exclusive_group()
    found.add_argument(f"--{name}", metavar="HEX", help=f"the {what}: a 32-byte hash as 64 hex digits")
    found.add_argument(f"--{name}-of", metavar="TEXT", help=f"the {what}: the sha256 of TEXT")


def _call(
    actions: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    run: Callable[[argparse.Namespace], int],
    help_text: str,
    description: str,
) -> argparse.ArgumentParser:
    parser = add_action(actions, name, run, help_text=help_text, description=description)
    _add_class(parser)
    return parser


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    group = commands.add_parser(
        "tokens",
        help="loyalty token classes, balances and transfers (tokens module)",
        description="Loyalty token classes: mint, transfer, allowances, burn and redeem, freeze, holds, balances.",
    )
    actions = group.add_subparsers(dest="action", metavar="ACTION", required=True)
    _register_create_and_mint(actions)
    _register_moves(actions)
    _register_reads(actions)


def _register_create_and_mint(actions: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    create = _call(
        actions,
        "create-class",
        run_create_class,
        "an issuer creates a token class",
        "The key's account (role issuer) creates a class and owns it; minter and freezer default to it.",
    )
    create.add_argument("--name", required=True, metavar="NAME", help="1 to 64 characters")
    create.add_argument("--symbol", required=True, metavar="SYMBOL", help="1 to 12 of A-Z a-z 0-9")
    create.add_argument("--decimals", type=int, default=0, metavar="N", help="display metadata, 0 to 18")
    create.add_argument("--max-supply", type=int, metavar="N", help="a cap on the total supply (default: none)")
    create.add_argument("--soulbound", action="store_true", help="non-transferable points (ERC-5192)")
    create.add_argument(
        "--expiry", type=parse_duration_ms, default=0, metavar="DURATION", help="minted lots expire after, e.g. 365d"
    )
    create.add_argument("--minter", metavar="HEX", help="the minting account (default: the key's)")
    create.add_argument("--freezer", metavar="HEX", help="the freezing account (default: the key's)")

    mint = _call(
        actions, "mint", run_mint, "the class minter mints tokens", "The key's account (the minter) mints to --to."
    )
    mint.add_argument("--to", required=True, metavar="HEX", help="the receiving account")
    _add_amount(mint)
    _add_hash(mint, "reference", "reference of what earned the tokens (optional)")


def _register_moves(actions: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    transfer = _call(
        actions, "transfer", run_transfer, "send free tokens", "The key's account sends free tokens to --to."
    )
    transfer.add_argument("--to", required=True, metavar="HEX", help="the receiving account")
    _add_amount(transfer)

    approve = _call(
        actions,
        "approve",
        run_approve,
        "allow a spender to spend tokens",
        "Set --spender's allowance over the key's tokens to --amount (0 removes it; approving overwrites).",
    )
    approve.add_argument("--spender", required=True, metavar="HEX", help="the spending account")
    approve.add_argument("--amount", type=int, required=True, metavar="N", help="the new allowance")
    approve.add_argument(
        "--expected", type=int, metavar="N", help="fail with AllowanceChanged unless the allowance is N now"
    )

    transfer_from = _call(
        actions,
        "transfer-from",
        run_transfer_from,
        "spend another account's tokens within an allowance",
        "The key's account spends --owner's tokens within its allowance and sends them to --to.",
    )
    transfer_from.add_argument("--owner", required=True, metavar="HEX", help="the account whose tokens are spent")
    transfer_from.add_argument("--to", required=True, metavar="HEX", help="the receiving account")
    _add_amount(transfer_from)

    burn = _call(actions, "burn", run_burn, "destroy free tokens", "The key's account destroys free tokens.")
    _add_amount(burn)

    redeem = _call(
        actions,
        "redeem",
        run_redeem,
        "spend free tokens on a reward",
        "The key's account spends free tokens on the --reward.",
    )
    _add_amount(redeem)
    _add_hash(redeem, "reward", "reward (required)")

    for name, verb in (("freeze", "freezes"), ("thaw", "thaws")):
        parser = _call(
            actions,
            name,
            run_freeze_or_thaw,
            f"the class freezer {verb} an account",
            f"The key's account {verb} --account.",
        )
        parser.add_argument("--account", required=True, metavar="HEX", help="the account")
        parser.set_defaults(freeze_action=name)

    for name, verb in (("hold", "holds (stakes)"), ("release", "releases held")):
        parser = _call(
            actions, name, run_hold_or_release, f"the key's account {verb} tokens", f"The key's account {verb} tokens."
        )
        _add_amount(parser)
        parser.set_defaults(hold_action=name)


def _register_reads(actions: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    balance = add_action(
        actions,
        "balance",
        run_balance,
        help_text="an account's balance, free, held and lots",
        description="An account's balance in a class: total, free, held, frozen, and its oldest lots.",
        read=True,
    )
    _add_class(balance)
    balance.add_argument("account", metavar="ACCOUNT_HEX", help="the account (40 hex digits)")

    info = add_action(
        actions,
        "class",
        run_class,
        help_text="a token class and its supply",
        description="A class, its roles, supply.",
        read=True,
    )
    info.add_argument("class_id", metavar="CLASS")


# --- calls ------------------------------------------------------------------------------------------------------


def _amount_fields(args: argparse.Namespace, *extra: tuple[str, str, Any]) -> list[tuple[str, str, Any]]:
    return [("class", "class_id", args.class_id), *extra, ("amount", "amount", args.amount)]


def run_create_class(args: argparse.Namespace) -> int:
    minter = None if args.minter is None else parse_account(args.minter, "--minter")
    freezer = None if args.freezer is None else parse_account(args.freezer, "--freezer")
    with signer(args) as (client, account):
        receipt = client.tokens.create_class(
            account,
            args.class_id,
            args.name,
            args.symbol,
            decimals=args.decimals,
            max_supply=args.max_supply,
            transferable=not args.soulbound,
            expiry_ms=args.expiry,
            minter=minter,
            freezer=freezer,
            timeout=args.timeout,
        )
    fields = [
        ("class", "class_id", args.class_id),
        ("transferable", "transferable", not args.soulbound),
        ("expiry ms", "expiry_ms", args.expiry),
    ]
    return report_call(receipt, args.json, fields)


def run_mint(args: argparse.Namespace) -> int:
    to = parse_account(args.to, "--to")
    reference = parse_hash(args.reference, args.reference_of, "reference", required=False)
    with signer(args) as (client, account):
        receipt = client.tokens.mint(account, args.class_id, to, args.amount, reference=reference, timeout=args.timeout)
    return report_call(receipt, args.json, _amount_fields(args, ("to", "to", to.hex())))


def run_transfer(args: argparse.Namespace) -> int:
    to = parse_account(args.to, "--to")
    with signer(args) as (client, account):
        receipt = client.tokens.transfer(account, args.class_id, to, args.amount, timeout=args.timeout)
    return report_call(receipt, args.json, _amount_fields(args, ("to", "to", to.hex())))


def run_approve(args: argparse.Namespace) -> int:
    spender = parse_account(args.spender, "--spender")
    with signer(args) as (client, account):
        receipt = client.tokens.approve(
            account, args.class_id, spender, args.amount, expected_allowance=args.expected, timeout=args.timeout
        )
    return report_call(receipt, args.json, _amount_fields(args, ("spender", "spender", spender.hex())))


def run_transfer_from(args: argparse.Namespace) -> int:
    owner, to = parse_account(args.owner, "--owner"), parse_account(args.to, "--to")
    with signer(args) as (client, account):
        receipt = client.tokens.transfer_from(account, args.class_id, owner, to, args.amount, timeout=args.timeout)
    parties = (("owner", "owner", owner.hex()), ("to", "to", to.hex()))
    return report_call(receipt, args.json, _amount_fields(args, *parties))


def run_burn(args: argparse.Namespace) -> int:
    with signer(args) as (client, account):
        receipt = client.tokens.burn(account, args.class_id, args.amount, timeout=args.timeout)
    return report_call(receipt, args.json, _amount_fields(args))


def run_redeem(args: argparse.Namespace) -> int:
    reward = parse_hash(args.reward, args.reward_of, "reward", required=True)
    with signer(args) as (client, account):
        receipt = client.tokens.redeem(account, args.class_id, args.amount, reward, timeout=args.timeout)
    return report_call(receipt, args.json, _amount_fields(args, ("reward", "reward", reward.hex())))


def run_freeze_or_thaw(args: argparse.Namespace) -> int:
    target = parse_account(args.account, "--account")
    with signer(args) as (client, account):
        change = client.tokens.freeze if args.freeze_action == "freeze" else client.tokens.thaw
        receipt = change(account, args.class_id, target, timeout=args.timeout)
    fields = [("class", "class_id", args.class_id), ("account", "account", target.hex())]
    return report_call(receipt, args.json, [*fields, ("frozen", "frozen", args.freeze_action == "freeze")])


def run_hold_or_release(args: argparse.Namespace) -> int:
    with signer(args) as (client, account):
        change = client.tokens.hold if args.hold_action == "hold" else client.tokens.release
        receipt = change(account, args.class_id, args.amount, timeout=args.timeout)
    return report_call(receipt, args.json, _amount_fields(args))


# --- reads ------------------------------------------------------------------------------------------------------


def run_balance(args: argparse.Namespace) -> int:
    account = parse_account(args.account, "ACCOUNT_HEX")
    with connect(args) as client:
        found = client.tokens.balance(args.class_id, account)
    lots = [{"lot_id": lot.lot_id, "amount": lot.amount, "expires_at_ms": lot.expires_at_ms} for lot in found.lots]
    document = {
        "class_id": args.class_id,
        "account": account.hex(),
        "balance": found.balance,
        "free": found.free,
        "held": found.held,
        "frozen": found.frozen,
        "lots": lots,
        "more_lots": found.more_lots,
    }
    rows = [
        ("class", args.class_id),
        ("account", account.hex()),
        ("balance", str(found.balance)),
        ("free", str(found.free)),
        ("held", str(found.held)),
        ("frozen", "yes" if found.frozen else "no"),
    ]
    rows += [(f"lot {lot['lot_id']}", f"{lot['amount']} expire at {lot['expires_at_ms']} ms") for lot in lots]
    if found.more_lots:
        rows.append(("more lots", "yes (see the SDK's client.tokens.iter_lots)"))
    return report_read(args.json, document, rows)


def run_class(args: argparse.Namespace) -> int:
    with connect(args) as client:
        found = client.tokens.class_info(args.class_id)
    token_class = found.token_class
    max_supply = token_class.max_supply if token_class.HasField("max_supply") else None
    document = {
        "class_id": token_class.class_id,
        "name": token_class.name,
        "symbol": token_class.symbol,
        "decimals": token_class.decimals,
        "max_supply": max_supply,
        "total_supply": found.total_supply,
        "transferable": token_class.transferable,
        "expiry_ms": token_class.expiry_ms,
        "owner": token_class.owner.hex(),
        "minter": token_class.minter.hex(),
        "freezer": token_class.freezer.hex(),
    }
    rows = [
        ("class", token_class.class_id),
        ("name", f"{token_class.name} ({token_class.symbol}, {token_class.decimals} decimals)"),
        ("total supply", str(found.total_supply)),
        ("max supply", "none" if max_supply is None else str(max_supply)),
        ("transferable", "yes" if token_class.transferable else "no (soulbound)"),
        ("expiry", f"{token_class.expiry_ms} ms after minting" if token_class.expiry_ms else "never"),
        ("owner", token_class.owner.hex()),
        ("minter", token_class.minter.hex()),
        ("freezer", token_class.freezer.hex()),
    ]
    return report_read(args.json, document, rows)
