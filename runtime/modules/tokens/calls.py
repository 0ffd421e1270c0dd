"""Tokens module calls: thin handlers that check, mutate and emit. The ledger rules live in ledger.py."""

from __future__ import annotations

import re
from typing import Any

from dcrm.runtime.module import CallContext, CallDef
from dcrm.runtime.modules.system import roles
from dcrm.runtime.modules.tokens import errors
from dcrm.runtime.modules.tokens.ledger import (
    check_class,
    check_free,
    check_sum,
    do_deposit,
    do_withdraw,
    get_holding,
    get_supply,
    put_holding,
    put_supply,
)
from dcrm.runtime.modules.tokens.storage import ACCOUNT_LENGTH, ALLOWANCES, CLASSES, allowance_key
from dcrm.v1 import tokens_pb2

CLASS_ID_PATTERN = re.compile(r"[A-Za-z0-9._-]{1,32}")
SYMBOL_PATTERN = re.compile(r"[A-Za-z0-9]{1,12}")
MAX_NAME_CHARS = 64
MAX_DECIMALS = 18
MAX_EXPIRY_MS = 36_525 * 86_400_000  # 100 years
HASH_LENGTH = 32

# --- stateless argument checks (run at admission) ------------------------------------------------------


def check_class_id(class_id: str) -> None:
    if not CLASS_ID_PATTERN.fullmatch(class_id):
        raise errors.BAD_CLASS_ID(f"class_id {class_id!r} must be 1 to 32 characters of A-Z a-z 0-9 . _ -")


def check_account(account: bytes, field: str) -> None:
    if len(account) != ACCOUNT_LENGTH:
        raise errors.BAD_ACCOUNT(f"{field} must be {ACCOUNT_LENGTH} bytes, got {len(account)}")


def check_amount(amount: int) -> None:
    if amount == 0:
        raise errors.BAD_AMOUNT("amount must be at least 1 minor unit")


def check_hash(value: bytes, field: str, *, required: bool) -> None:
    if (value or required) and len(value) != HASH_LENGTH:
        wanted = f"{HASH_LENGTH} bytes" if required else f"empty or {HASH_LENGTH} bytes"
        raise errors.BAD_REFERENCE(f"{field} must be {wanted}, got {len(value)}")


def is_display_name(name: str) -> bool:
    """1 to 64 characters without control characters.

    Deliberately not str.isprintable(): its answer follows the Unicode version of the Python that runs it,
    and validators on different versions must agree on which transactions are valid.
    """
    return 1 <= len(name) <= MAX_NAME_CHARS and not any(ord(char) < 0x20 or 0x7F <= ord(char) <= 0x9F for char in name)


def check_create_class(args: tokens_pb2.CreateClass) -> None:
    check_class_id(args.class_id)
    if not is_display_name(args.name):
        raise errors.BAD_METADATA(
            f"name must be 1 to {MAX_NAME_CHARS} characters without control characters, got {args.name!r}"
        )
    if not SYMBOL_PATTERN.fullmatch(args.symbol):
        raise errors.BAD_METADATA(f"symbol must be 1 to 12 characters of A-Z a-z 0-9, got {args.symbol!r}")
    if args.decimals > MAX_DECIMALS:
        raise errors.BAD_METADATA(f"decimals must be at most {MAX_DECIMALS}, got {args.decimals}")
    if args.HasField("max_supply") and args.max_supply == 0:
        raise errors.BAD_MAX_SUPPLY("max_supply must be at least 1 when set (leave it unset for no limit)")
    if args.expiry_ms > MAX_EXPIRY_MS:
        raise errors.BAD_EXPIRY(f"expiry_ms must be at most {MAX_EXPIRY_MS} (100 years), got {args.expiry_ms}")
    for field, account in (("minter", args.minter), ("freezer", args.freezer)):
        if account:
            check_account(account, field)


def check_mint(args: tokens_pb2.Mint) -> None:
    check_class_id(args.class_id)
    check_account(args.to, "to")
    check_amount(args.amount)
    check_hash(args.reference, "reference", required=False)


def check_transfer(args: tokens_pb2.Transfer) -> None:
    check_class_id(args.class_id)
    check_account(args.to, "to")
    check_amount(args.amount)


def check_approve(args: tokens_pb2.Approve) -> None:
    check_class_id(args.class_id)
    check_account(args.spender, "spender")


def check_transfer_from(args: tokens_pb2.TransferFrom) -> None:
    check_class_id(args.class_id)
    check_account(args.owner, "owner")
    check_account(args.to, "to")
    check_amount(args.amount)


def check_class_and_amount(args: tokens_pb2.Burn | tokens_pb2.Redeem | tokens_pb2.Hold | tokens_pb2.Release) -> None:
    check_class_id(args.class_id)
    check_amount(args.amount)


def check_redeem(args: tokens_pb2.Redeem) -> None:
    check_class_and_amount(args)
    check_hash(args.reward, "reward", required=True)


def check_freeze_args(args: tokens_pb2.Freeze | tokens_pb2.Thaw) -> None:
    check_class_id(args.class_id)
    check_account(args.account, "account")


def check_set_roles(args: tokens_pb2.SetRoles) -> None:
    check_class_id(args.class_id)
    for field, account in (("owner", args.owner), ("minter", args.minter), ("freezer", args.freezer)):
        check_account(account, field)


# --- handlers --------------------------------------------------------------------------------------------


def _transferable_class(ctx: CallContext, class_id: str) -> tokens_pb2.TokenClass:
    token_class = check_class(ctx.state, class_id)
    if not token_class.transferable:
        raise errors.NOT_TRANSFERABLE(f"class {class_id!r} is soulbound: its tokens cannot change hands")
    return token_class


def _move(ctx: CallContext, token_class: tokens_pb2.TokenClass, sender: bytes, to: bytes, amount: int) -> None:
    checked = check_free(ctx.state, token_class, sender, amount, ctx.block.timestamp_ms, "transfer")
    do_deposit(ctx.state, token_class, to, do_withdraw(ctx.state, token_class, sender, amount, checked))


def _destroy(ctx: CallContext, class_id: str, amount: int, action: str) -> None:
    token_class = check_class(ctx.state, class_id)
    checked = check_free(ctx.state, token_class, ctx.origin, amount, ctx.block.timestamp_ms, action)
    do_withdraw(ctx.state, token_class, ctx.origin, amount, checked)
    put_supply(ctx.state, class_id, get_supply(ctx.state, class_id) - amount)


def create_class(ctx: CallContext, args: tokens_pb2.CreateClass) -> None:
    if CLASSES.contains(ctx.state, args.class_id.encode()):
        raise errors.CLASS_EXISTS(f"class_id {args.class_id!r} is taken")
    token_class = tokens_pb2.TokenClass(
        class_id=args.class_id,
        name=args.name,
        symbol=args.symbol,
        decimals=args.decimals,
        transferable=args.transferable,
        expiry_ms=args.expiry_ms,
        owner=ctx.origin,
        minter=args.minter or ctx.origin,
        freezer=args.freezer or ctx.origin,
    )
    if args.HasField("max_supply"):
        token_class.max_supply = args.max_supply
    CLASSES.put(ctx.state, args.class_id.encode(), token_class)
    ctx.emit(tokens_pb2.ClassCreated(token_class=token_class))


def mint(ctx: CallContext, args: tokens_pb2.Mint) -> None:
    token_class = check_class(ctx.state, args.class_id)
    if ctx.origin != token_class.minter:
        raise errors.NOT_MINTER(f"account {ctx.origin.hex()} is not the minter of class {args.class_id!r}")
    supply = check_sum(get_supply(ctx.state, args.class_id), args.amount, f"the total supply of {args.class_id!r}")
    if token_class.HasField("max_supply") and supply > token_class.max_supply:
        raise errors.SUPPLY_EXCEEDED(
            f"minting {args.amount} would take the supply of {args.class_id!r} to {supply}, "
            f"past its max_supply {token_class.max_supply}"
        )
    expires_at = 0
    if token_class.expiry_ms:
        expires_at = check_sum(ctx.block.timestamp_ms, token_class.expiry_ms, "the lot's expiry time in ms")
    do_deposit(ctx.state, token_class, args.to, [(expires_at, args.amount)])
    put_supply(ctx.state, args.class_id, supply)
    ctx.emit(
        tokens_pb2.Minted(
            class_id=args.class_id,
            to=args.to,
            amount=args.amount,
            expires_at_ms=expires_at,
            reference=args.reference,
            minter=ctx.origin,
        )
    )


def transfer(ctx: CallContext, args: tokens_pb2.Transfer) -> None:
    token_class = _transferable_class(ctx, args.class_id)
    if args.to == ctx.origin:
        raise errors.SAME_ACCOUNT("to is the sender: a transfer to oneself is refused")
    _move(ctx, token_class, ctx.origin, args.to, args.amount)
    ctx.emit(tokens_pb2.Transferred(class_id=args.class_id, sender=ctx.origin, recipient=args.to, amount=args.amount))


def approve(ctx: CallContext, args: tokens_pb2.Approve) -> None:
    _transferable_class(ctx, args.class_id)
    if args.spender == ctx.origin:
        raise errors.SAME_ACCOUNT("spender is the sender: an account needs no allowance for its own tokens")
    key = allowance_key(args.class_id, ctx.origin, args.spender)
    current = ALLOWANCES.get(ctx.state, key) or 0
    if args.HasField("expected_allowance") and current != args.expected_allowance:
        raise errors.ALLOWANCE_CHANGED(
            f"the allowance of {args.spender.hex()} is {current}, not the expected_allowance {args.expected_allowance}"
        )
    if args.amount:
        ALLOWANCES.put(ctx.state, key, args.amount)
    else:
        ALLOWANCES.delete(ctx.state, key)
    ctx.emit(
        tokens_pb2.Approved(
            class_id=args.class_id, owner=ctx.origin, spender=args.spender, amount=args.amount, previous=current
        )
    )


def transfer_from(ctx: CallContext, args: tokens_pb2.TransferFrom) -> None:
    token_class = _transferable_class(ctx, args.class_id)
    if args.owner == ctx.origin:
        raise errors.SAME_ACCOUNT("owner is the sender: use transfer to move one's own tokens")
    if args.to == args.owner:
        raise errors.SAME_ACCOUNT("to is the owner: a transfer to oneself is refused")
    key = allowance_key(args.class_id, args.owner, ctx.origin)
    allowance = ALLOWANCES.get(ctx.state, key) or 0
    if args.amount > allowance:
        raise errors.ALLOWANCE_EXCEEDED(
            f"amount {args.amount} exceeds the allowance {allowance} that {args.owner.hex()} "
            f"gave {ctx.origin.hex()} in class {args.class_id!r}"
        )
    _move(ctx, token_class, args.owner, args.to, args.amount)
    if allowance == args.amount:
        ALLOWANCES.delete(ctx.state, key)
    else:
        ALLOWANCES.put(ctx.state, key, allowance - args.amount)
    ctx.emit(
        tokens_pb2.Transferred(
            class_id=args.class_id, sender=args.owner, recipient=args.to, amount=args.amount, spender=ctx.origin
        )
    )


def burn(ctx: CallContext, args: tokens_pb2.Burn) -> None:
    _destroy(ctx, args.class_id, args.amount, "burn")
    ctx.emit(tokens_pb2.Burned(class_id=args.class_id, account=ctx.origin, amount=args.amount))


def redeem(ctx: CallContext, args: tokens_pb2.Redeem) -> None:
    _destroy(ctx, args.class_id, args.amount, "redeem")
    ctx.emit(tokens_pb2.Redeemed(class_id=args.class_id, account=ctx.origin, amount=args.amount, reward=args.reward))


def _check_freezer(ctx: CallContext, class_id: str) -> None:
    token_class = check_class(ctx.state, class_id)
    if ctx.origin != token_class.freezer:
        raise errors.NOT_FREEZER(f"account {ctx.origin.hex()} is not the freezer of class {class_id!r}")


def freeze(ctx: CallContext, args: tokens_pb2.Freeze) -> None:
    _check_freezer(ctx, args.class_id)
    holding = get_holding(ctx.state, args.class_id, args.account)
    if holding.frozen:
        raise errors.ALREADY_FROZEN(f"account {args.account.hex()} is already frozen in class {args.class_id!r}")
    holding.frozen = True
    put_holding(ctx.state, args.class_id, args.account, holding)
    ctx.emit(tokens_pb2.Frozen(class_id=args.class_id, account=args.account, freezer=ctx.origin))


def thaw(ctx: CallContext, args: tokens_pb2.Thaw) -> None:
    _check_freezer(ctx, args.class_id)
    holding = get_holding(ctx.state, args.class_id, args.account)
    if not holding.frozen:
        raise errors.NOT_FROZEN(f"account {args.account.hex()} is not frozen in class {args.class_id!r}")
    holding.frozen = False
    put_holding(ctx.state, args.class_id, args.account, holding)
    ctx.emit(tokens_pb2.Thawed(class_id=args.class_id, account=args.account, freezer=ctx.origin))


def hold(ctx: CallContext, args: tokens_pb2.Hold) -> None:
    token_class = check_class(ctx.state, args.class_id)
    found = check_free(ctx.state, token_class, ctx.origin, args.amount, ctx.block.timestamp_ms, "hold")
    holding = found.holding
    holding.held += args.amount
    put_holding(ctx.state, args.class_id, ctx.origin, holding)
    ctx.emit(tokens_pb2.Held(class_id=args.class_id, account=ctx.origin, amount=args.amount, held=holding.held))


def release(ctx: CallContext, args: tokens_pb2.Release) -> None:
    check_class(ctx.state, args.class_id)
    holding = get_holding(ctx.state, args.class_id, ctx.origin)
    if holding.frozen:
        raise errors.ACCOUNT_FROZEN(
            f"account {ctx.origin.hex()} is frozen in class {args.class_id!r} and cannot release"
        )
    if holding.held < args.amount:
        raise errors.INSUFFICIENT_HELD(
            f"account {ctx.origin.hex()} holds {holding.held} in class {args.class_id!r}; release needs {args.amount}"
        )
    holding.held -= args.amount
    put_holding(ctx.state, args.class_id, ctx.origin, holding)
    ctx.emit(tokens_pb2.Released(class_id=args.class_id, account=ctx.origin, amount=args.amount, held=holding.held))


def set_roles(ctx: CallContext, args: tokens_pb2.SetRoles) -> None:
    token_class = check_class(ctx.state, args.class_id)
    if ctx.origin != token_class.owner:
        raise errors.NOT_OWNER(f"account {ctx.origin.hex()} is not the owner of class {args.class_id!r}")
    token_class.owner, token_class.minter, token_class.freezer = args.owner, args.minter, args.freezer
    CLASSES.put(ctx.state, args.class_id.encode(), token_class)
    ctx.emit(
        tokens_pb2.RolesChanged(
            class_id=args.class_id, owner=args.owner, minter=args.minter, freezer=args.freezer, changed_by=ctx.origin
        )
    )


CALLS: tuple[CallDef[Any], ...] = (
    CallDef(0, "create_class", tokens_pb2.CreateClass, create_class, roles.ISSUER, check_create_class),
    CallDef(1, "mint", tokens_pb2.Mint, mint, None, check_mint),
    CallDef(2, "transfer", tokens_pb2.Transfer, transfer, None, check_transfer),
    CallDef(3, "approve", tokens_pb2.Approve, approve, None, check_approve),
    CallDef(4, "transfer_from", tokens_pb2.TransferFrom, transfer_from, None, check_transfer_from),
    CallDef(5, "burn", tokens_pb2.Burn, burn, None, check_class_and_amount),
    CallDef(6, "redeem", tokens_pb2.Redeem, redeem, None, check_redeem),
    CallDef(7, "freeze", tokens_pb2.Freeze, freeze, None, check_freeze_args),
    CallDef(8, "thaw", tokens_pb2.Thaw, thaw, None, check_freeze_args),
    CallDef(9, "hold", tokens_pb2.Hold, hold, None, check_class_and_amount),
    CallDef(10, "release", tokens_pb2.Release, release, None, check_class_and_amount),
    CallDef(11, "set_roles", tokens_pb2.SetRoles, set_roles, None, check_set_roles),
)
