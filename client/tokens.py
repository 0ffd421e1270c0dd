"""The tokens module (index 3): loyalty token classes, balances, allowances, holds and expiring lots.

Calls (dcrm.v1.tokens messages): 0 CreateClass (system role "issuer"), 1 Mint (class minter), 2 Transfer,
3 Approve, 4 TransferFrom, 5 Burn, 6 Redeem, 7 Freeze and 8 Thaw (class freezer), 9 Hold, 10 Release,
11 SetRoles (class owner). Queries ("tokens" module): class, balance, allowance, lots. Amounts are integers
in the class's minor units (0 < amount < 2^64); decimals are display metadata. Use it as `client.tokens`:

```python
client.tokens.create_class(issuer, "acme-points", "ACME Rewards", "ACME", decimals=0,
                           transferable=False, expiry_ms=365 * 86_400_000)
client.tokens.mint(issuer, "acme-points", customer.account_id, 500, reference=sha256(order_id))
client.tokens.redeem(customer, "acme-points", 200, reward=sha256(b"catalogue/mug"))
print(client.tokens.balance("acme-points", customer.account_id).free)
```

Approving overwrites the previous allowance (ERC-20 semantics). Changing a non-zero allowance by a blind
overwrite lets the spender use the old allowance and then the new one; pass `expected_allowance` to make the
change a compare-and-set that fails with AllowanceChanged when the spender got there first.

State keys (for proofs, see `holding` and `total_supply`): b"tokens/class/" + class id,
b"tokens/supply/" + class id (8-byte big-endian), b"tokens/holding/" + class id + b"/" + account id,
b"tokens/lot/" + class id + b"/" + account id + expiry (8-byte big-endian ms),
b"tokens/allowance/" + class id + b"/" + owner + spender (8-byte big-endian).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from google.protobuf.message import DecodeError, Message

from dcrm.client.certificates import ValidatorKey
from dcrm.client.errors import ModuleError, ProtocolError
from dcrm.client.keys import ACCOUNT_ID_LENGTH
from dcrm.v1 import tokens_pb2, types_pb2

if TYPE_CHECKING:
    from dcrm.client.client import Account, Client

__all__ = [
    "APPROVE",
    "BURN",
    "CREATE_CLASS",
    "EVENTS",
    "FREEZE",
    "HOLD",
    "MINT",
    "MODULE_INDEX",
    "MODULE_NAME",
    "REDEEM",
    "RELEASE",
    "SET_ROLES",
    "THAW",
    "TRANSFER",
    "TRANSFER_FROM",
    "AccountFrozen",
    "AllowanceChanged",
    "AllowanceExceeded",
    "AlreadyFrozen",
    "AmountOverflow",
    "BadAccount",
    "BadAmount",
    "BadClassId",
    "BadExpiry",
    "BadMaxSupply",
    "BadMetadata",
    "BadReference",
    "ClassExists",
    "InsufficientBalance",
    "InsufficientHeld",
    "NotFreezer",
    "NotFrozen",
    "NotMinter",
    "NotOwner",
    "NotTransferable",
    "SameAccount",
    "SupplyExceeded",
    "TokensApi",
    "TokensModuleError",
    "UnknownClass",
    "allowance_key",
    "class_key",
    "holding_key",
    "supply_key",
]

MODULE_INDEX = 3
MODULE_NAME = "tokens"

# Call indices.
CREATE_CLASS = 0
MINT = 1
TRANSFER = 2
APPROVE = 3
TRANSFER_FROM = 4
BURN = 5
REDEEM = 6
FREEZE = 7
THAW = 8
HOLD = 9
RELEASE = 10
SET_ROLES = 11

# The module's events, for decoding receipts (dcrm.client.transactions.EVENT_TYPES).
EVENTS: tuple[type[Message], ...] = (
    tokens_pb2.ClassCreated,
    tokens_pb2.Minted,
    tokens_pb2.Transferred,
    tokens_pb2.Approved,
    tokens_pb2.Burned,
    tokens_pb2.Redeemed,
    tokens_pb2.Frozen,
    tokens_pb2.Thawed,
    tokens_pb2.Held,
    tokens_pb2.Released,
    tokens_pb2.LotsExpired,
    tokens_pb2.RolesChanged,
)

MAX_AMOUNT = 2**64 - 1
HASH_LENGTH = 32
_CLASS_ID = re.compile(r"[A-Za-z0-9._-]{1,32}")
_U64_BYTES = 8
_AmountCall = tokens_pb2.Burn | tokens_pb2.Hold | tokens_pb2.Release


# -- errors of the tokens module (index 3) ------------------------------------------------------------------


class TokensModuleError(ModuleError, module=MODULE_INDEX):
    """A call failed with an error of the tokens module."""


class UnknownClass(TokensModuleError, code=tokens_pb2.UNKNOWN_CLASS):
    """No token class has this id."""


class ClassExists(TokensModuleError, code=tokens_pb2.CLASS_EXISTS):
    """A token class with this id already exists."""


class BadClassId(TokensModuleError, code=tokens_pb2.BAD_CLASS_ID):
    """A class id is not 1 to 32 characters of A-Z a-z 0-9 . _ -."""


class BadMetadata(TokensModuleError, code=tokens_pb2.BAD_METADATA):
    """Name, symbol or decimals are out of bounds."""


class BadMaxSupply(TokensModuleError, code=tokens_pb2.BAD_MAX_SUPPLY):
    """A max supply is set to zero."""


class BadExpiry(TokensModuleError, code=tokens_pb2.BAD_EXPIRY):
    """An expiry duration is longer than the chain allows (100 years)."""


class BadAmount(TokensModuleError, code=tokens_pb2.BAD_AMOUNT):
    """An amount is zero."""


class BadAccount(TokensModuleError, code=tokens_pb2.BAD_ACCOUNT):
    """An account id is not 20 bytes."""


class BadReference(TokensModuleError, code=tokens_pb2.BAD_REFERENCE):
    """A reference or reward hash is not 32 bytes."""


class SameAccount(TokensModuleError, code=tokens_pb2.SAME_ACCOUNT):
    """The counterparty is the account itself (transfer to self, approve self)."""


class NotOwner(TokensModuleError, code=tokens_pb2.NOT_OWNER):
    """The caller is not the class owner."""


class NotMinter(TokensModuleError, code=tokens_pb2.NOT_MINTER):
    """The caller is not the class minter."""


class NotFreezer(TokensModuleError, code=tokens_pb2.NOT_FREEZER):
    """The caller is not the class freezer."""


class NotTransferable(TokensModuleError, code=tokens_pb2.NOT_TRANSFERABLE):
    """The class is soulbound: its tokens cannot change hands."""


class AccountFrozen(TokensModuleError, code=tokens_pb2.ACCOUNT_FROZEN):
    """The account is frozen in this class and can move nothing."""


class AlreadyFrozen(TokensModuleError, code=tokens_pb2.ALREADY_FROZEN):
    """The account is already frozen in this class."""


class NotFrozen(TokensModuleError, code=tokens_pb2.NOT_FROZEN):
    """The account is not frozen in this class."""


class SupplyExceeded(TokensModuleError, code=tokens_pb2.SUPPLY_EXCEEDED):
    """Minting would take the total supply past the class's max supply."""


class AmountOverflow(TokensModuleError, code=tokens_pb2.AMOUNT_OVERFLOW):
    """A total would exceed 2^64 - 1 minor units."""


class InsufficientBalance(TokensModuleError, code=tokens_pb2.INSUFFICIENT_BALANCE):
    """The free (unheld, unexpired) balance is smaller than the amount."""


class InsufficientHeld(TokensModuleError, code=tokens_pb2.INSUFFICIENT_HELD):
    """The held balance is smaller than the amount to release."""


class AllowanceExceeded(TokensModuleError, code=tokens_pb2.ALLOWANCE_EXCEEDED):
    """The amount is larger than the spender's allowance."""


class AllowanceChanged(TokensModuleError, code=tokens_pb2.ALLOWANCE_CHANGED):
    """The current allowance is not the expected one (compare-and-set failed)."""


# -- state keys ---------------------------------------------------------------------------------------------


def _check_class_id(class_id: str) -> None:
    if not _CLASS_ID.fullmatch(class_id):
        raise ValueError(f"class_id {class_id!r} must be 1 to 32 characters of A-Z a-z 0-9 . _ -")


def _check_account(account_id: bytes, what: str) -> None:
    if len(account_id) != ACCOUNT_ID_LENGTH:
        raise ValueError(f"{what} must be a {ACCOUNT_ID_LENGTH}-byte account id, got {len(account_id)} bytes")


def _check_amount(amount: int, what: str = "amount", *, minimum: int = 1) -> None:
    if isinstance(amount, bool) or not isinstance(amount, int) or not minimum <= amount <= MAX_AMOUNT:
        raise ValueError(f"{what} must be an integer from {minimum} to 2^64 - 1 minor units, got {amount!r}")


def _check_hash(value: bytes, what: str, *, required: bool) -> None:
    if (value or required) and len(value) != HASH_LENGTH:
        raise ValueError(f"{what} must be a {HASH_LENGTH}-byte hash, got {len(value)} bytes")


def class_key(class_id: str) -> bytes:
    """The state key of a class (a dcrm.v1.tokens.TokenClass). Raises ValueError for a bad class id."""
    _check_class_id(class_id)
    return b"tokens/class/" + class_id.encode()


def supply_key(class_id: str) -> bytes:
    """The state key of a class's total supply (8-byte big-endian; absent means 0)."""
    _check_class_id(class_id)
    return b"tokens/supply/" + class_id.encode()


def holding_key(class_id: str, account_id: bytes) -> bytes:
    """The state key of an account's holding (a dcrm.v1.tokens.Holding; absent means empty)."""
    _check_class_id(class_id)
    _check_account(account_id, "account_id")
    return b"tokens/holding/" + class_id.encode() + b"/" + account_id


def allowance_key(class_id: str, owner: bytes, spender: bytes) -> bytes:
    """The state key of an allowance (8-byte big-endian; absent means 0)."""
    _check_class_id(class_id)
    _check_account(owner, "owner")
    _check_account(spender, "spender")
    return b"tokens/allowance/" + class_id.encode() + b"/" + owner + spender


class TokensApi:
    """Typed calls and queries of the tokens module through one Client (available as `client.tokens`).

    Every call method signs with `account`, waits for the commit and returns the receipt. It raises
    ValueError for arguments the chain would refuse (bad class id, account id, amount or hash) before
    anything is sent, the RpcError subclass of a rejection, and with `check` (the default) the
    TokensModuleError subclass of a failed call.
    """

    def __init__(self, client: Client) -> None:
        self._client = client

    def _submit(
        self, account: Account, method: int, args: Message, timeout: float | None, check: bool
    ) -> types_pb2.Receipt:
        return account.submit_and_wait(MODULE_INDEX, method, args, timeout=timeout, check=check)

    def _amount_call(
        self,
        account: Account,
        method: int,
        message_type: type[_AmountCall],
        class_id: str,
        amount: int,
        timeout: float | None,
        check: bool,
    ) -> types_pb2.Receipt:
        """Burn, Hold or Release: `amount` of the class, for `account` itself."""
        _check_class_id(class_id)
        _check_amount(amount)
        return self._submit(account, method, message_type(class_id=class_id, amount=amount), timeout, check)

    def _target_call(
        self,
        account: Account,
        method: int,
        message_type: type[tokens_pb2.Freeze | tokens_pb2.Thaw],
        class_id: str,
        target: bytes,
        timeout: float | None,
        check: bool,
    ) -> types_pb2.Receipt:
        """Freeze or Thaw: `target`'s tokens of the class."""
        _check_class_id(class_id)
        _check_account(target, "target")
        return self._submit(account, method, message_type(class_id=class_id, account=target), timeout, check)

    # -- calls ----------------------------------------------------------------------------------------------

    def create_class(
        self,
        account: Account,
        class_id: str,
        name: str,
        symbol: str,
        *,
        decimals: int = 0,
        max_supply: int | None = None,
        transferable: bool = True,
        expiry_ms: int = 0,
        minter: bytes | None = None,
        freezer: bytes | None = None,
        timeout: float | None = None,
        check: bool = True,
    ) -> types_pb2.Receipt:
        """`account` (system role "issuer") creates a class and owns it; minter and freezer default to it.

        `expiry_ms` > 0 makes every minted lot expire that long after it is earned; `transferable=False`
        makes soulbound points. Raises as the class docstring says; ClassExists, MissingRole, BadMetadata...
        """
        _check_class_id(class_id)
        if max_supply is not None:
            _check_amount(max_supply, "max_supply")
        for what, value in (("minter", minter), ("freezer", freezer)):
            if value is not None:
                _check_account(value, what)
        args = tokens_pb2.CreateClass(
            class_id=class_id,
            name=name,
            symbol=symbol,
            decimals=decimals,
            max_supply=max_supply,
            transferable=transferable,
            expiry_ms=expiry_ms,
            minter=minter or b"",
            freezer=freezer or b"",
        )
        return self._submit(account, CREATE_CLASS, args, timeout, check)

    def mint(
        self,
        account: Account,
        class_id: str,
        to: bytes,
        amount: int,
        *,
        reference: bytes = b"",
        timeout: float | None = None,
        check: bool = True,
    ) -> types_pb2.Receipt:
        """`account` (the class minter) mints `amount` to `to`; `reference` is an optional 32-byte hash of
        what earned it. Raises NotMinter, SupplyExceeded, AmountOverflow among others."""
        _check_class_id(class_id)
        _check_account(to, "to")
        _check_amount(amount)
        _check_hash(reference, "reference", required=False)
        args = tokens_pb2.Mint(class_id=class_id, to=to, amount=amount, reference=reference)
        return self._submit(account, MINT, args, timeout, check)

    def transfer(
        self,
        account: Account,
        class_id: str,
        to: bytes,
        amount: int,
        *,
        timeout: float | None = None,
        check: bool = True,
    ) -> types_pb2.Receipt:
        """`account` sends `amount` of its free tokens to `to` (oldest lots first; they keep their expiry).

        Raises NotTransferable, AccountFrozen, InsufficientBalance, SameAccount among others."""
        _check_class_id(class_id)
        _check_account(to, "to")
        _check_amount(amount)
        args = tokens_pb2.Transfer(class_id=class_id, to=to, amount=amount)
        return self._submit(account, TRANSFER, args, timeout, check)

    def approve(
        self,
        account: Account,
        class_id: str,
        spender: bytes,
        amount: int,
        *,
        expected_allowance: int | None = None,
        timeout: float | None = None,
        check: bool = True,
    ) -> types_pb2.Receipt:
        """`account` sets the allowance of `spender` to `amount` (0 removes it), overwriting the old one.

        With `expected_allowance`, fails with AllowanceChanged unless the current allowance equals it.
        """
        _check_class_id(class_id)
        _check_account(spender, "spender")
        _check_amount(amount, minimum=0)
        if expected_allowance is not None:
            _check_amount(expected_allowance, "expected_allowance", minimum=0)
        args = tokens_pb2.Approve(
            class_id=class_id, spender=spender, amount=amount, expected_allowance=expected_allowance
        )
        return self._submit(account, APPROVE, args, timeout, check)

    def transfer_from(
        self,
        account: Account,
        class_id: str,
        owner: bytes,
        to: bytes,
        amount: int,
        *,
        timeout: float | None = None,
        check: bool = True,
    ) -> types_pb2.Receipt:
        """`account` spends `amount` of `owner`'s tokens within its allowance, sending them to `to`.

        Raises AllowanceExceeded, AccountFrozen (the owner), InsufficientBalance among others."""
        _check_class_id(class_id)
        _check_account(owner, "owner")
        _check_account(to, "to")
        _check_amount(amount)
        args = tokens_pb2.TransferFrom(class_id=class_id, owner=owner, to=to, amount=amount)
        return self._submit(account, TRANSFER_FROM, args, timeout, check)

    def burn(
        self, account: Account, class_id: str, amount: int, *, timeout: float | None = None, check: bool = True
    ) -> types_pb2.Receipt:
        """`account` destroys `amount` of its free tokens. Raises AccountFrozen, InsufficientBalance."""
        return self._amount_call(account, BURN, tokens_pb2.Burn, class_id, amount, timeout, check)

    def redeem(
        self,
        account: Account,
        class_id: str,
        amount: int,
        reward: bytes,
        *,
        timeout: float | None = None,
        check: bool = True,
    ) -> types_pb2.Receipt:
        """`account` spends `amount` of its free tokens on the reward identified by the 32-byte hash `reward`.

        The tokens are burned and a Redeemed event records the reward. Raises like `burn`."""
        _check_class_id(class_id)
        _check_amount(amount)
        _check_hash(reward, "reward", required=True)
        args = tokens_pb2.Redeem(class_id=class_id, amount=amount, reward=reward)
        return self._submit(account, REDEEM, args, timeout, check)

    def freeze(
        self,
        account: Account,
        class_id: str,
        target: bytes,
        *,
        timeout: float | None = None,
        check: bool = True,
    ) -> types_pb2.Receipt:
        """`account` (the class freezer) freezes `target`. Raises NotFreezer, AlreadyFrozen among others."""
        return self._target_call(account, FREEZE, tokens_pb2.Freeze, class_id, target, timeout, check)

    def thaw(
        self,
        account: Account,
        class_id: str,
        target: bytes,
        *,
        timeout: float | None = None,
        check: bool = True,
    ) -> types_pb2.Receipt:
        """`account` (the class freezer) thaws `target`. Raises NotFreezer, NotFrozen among others."""
        return self._target_call(account, THAW, tokens_pb2.Thaw, class_id, target, timeout, check)

    def hold(
        self, account: Account, class_id: str, amount: int, *, timeout: float | None = None, check: bool = True
    ) -> types_pb2.Receipt:
        """`account` holds (stakes) `amount` of its free tokens. Raises AccountFrozen, InsufficientBalance."""
        return self._amount_call(account, HOLD, tokens_pb2.Hold, class_id, amount, timeout, check)

    def release(
        self, account: Account, class_id: str, amount: int, *, timeout: float | None = None, check: bool = True
    ) -> types_pb2.Receipt:
        """`account` releases `amount` of its held tokens. Raises AccountFrozen, InsufficientHeld."""
        return self._amount_call(account, RELEASE, tokens_pb2.Release, class_id, amount, timeout, check)

    def set_roles(
        self,
        account: Account,
        class_id: str,
        *,
        owner: bytes,
        minter: bytes,
        freezer: bytes,
        timeout: float | None = None,
        check: bool = True,
    ) -> types_pb2.Receipt:
        """`account` (the class owner) replaces the three class roles. Raises NotOwner among others."""
        _check_class_id(class_id)
        for what, value in (("owner", owner), ("minter", minter), ("freezer", freezer)):
            _check_account(value, what)
        args = tokens_pb2.SetRoles(class_id=class_id, owner=owner, minter=minter, freezer=freezer)
        return self._submit(account, SET_ROLES, args, timeout, check)

    # -- queries (unverified) -------------------------------------------------------------------------------

    def class_info(self, class_id: str) -> tokens_pb2.ClassResult:
        """The class, its roles and its total supply. Raises NotFound for an unknown class, RpcError subclasses."""
        _check_class_id(class_id)
        request = tokens_pb2.ClassQuery(class_id=class_id)
        return self._client.query(MODULE_NAME, "class", request, tokens_pb2.ClassResult)

    def balance(self, class_id: str, account_id: bytes) -> tokens_pb2.BalanceResult:
        """Balance, free, held, frozen and the oldest lots (at most 100) as of the last committed block.

        Raises ValueError for bad arguments, NotFound for an unknown class, and RpcError subclasses.
        """
        _check_class_id(class_id)
        _check_account(account_id, "account_id")
        request = tokens_pb2.BalanceQuery(class_id=class_id, account=account_id)
        return self._client.query(MODULE_NAME, "balance", request, tokens_pb2.BalanceResult)

    def allowance(self, class_id: str, owner: bytes, spender: bytes) -> int:
        """What `spender` may still spend of `owner`'s tokens. Raises like `balance`."""
        _check_class_id(class_id)
        _check_account(owner, "owner")
        _check_account(spender, "spender")
        request = tokens_pb2.AllowanceQuery(class_id=class_id, owner=owner, spender=spender)
        return self._client.query(MODULE_NAME, "allowance", request, tokens_pb2.AllowanceResult).amount

    def lots(
        self, class_id: str, account_id: bytes, *, expires_after_ms: int = 0, limit: int = 0
    ) -> tokens_pb2.LotsResult:
        """One page of the account's lots expiring after `expires_after_ms`, oldest first (limit 0: 100).

        Raises like `balance`.
        """
        _check_class_id(class_id)
        _check_account(account_id, "account_id")
        request = tokens_pb2.LotsQuery(
            class_id=class_id, account=account_id, expires_after_ms=expires_after_ms, limit=limit
        )
        return self._client.query(MODULE_NAME, "lots", request, tokens_pb2.LotsResult)

    def iter_lots(self, class_id: str, account_id: bytes, *, page_size: int = 0) -> Iterator[tokens_pb2.Lot]:
        """Every lot of the account, oldest first, fetched page by page. Raises like `balance`."""
        after = 0
        while True:
            page = self.lots(class_id, account_id, expires_after_ms=after, limit=page_size)
            yield from page.lots
            if not page.more or not page.lots:
                return
            after = page.lots[-1].expires_at_ms

    # -- verified reads -------------------------------------------------------------------------------------

    def holding(
        self,
        class_id: str,
        account_id: bytes,
        *,
        verify: bool = True,
        validators: Sequence[ValidatorKey] | None = None,
    ) -> tokens_pb2.Holding:
        """The account's holding (balance, held, frozen) read with a state proof (see Client.query_state).

        An absent key is an empty holding. Raises ValueError for bad arguments, ProofError or
        CertificateError when verification fails, ProtocolError when the value does not decode, RpcError.
        """
        value = self._client.query_state(holding_key(class_id, account_id), verify=verify, validators=validators)
        if value is None:
            return tokens_pb2.Holding()
        try:
            return tokens_pb2.Holding.FromString(value)
        except DecodeError as error:
            raise ProtocolError(f"the holding of {account_id.hex()} in {class_id!r} does not decode: {error}") from None

    def total_supply(
        self, class_id: str, *, verify: bool = True, validators: Sequence[ValidatorKey] | None = None
    ) -> int:
        """The class's total supply read with a state proof. Raises like `holding`."""
        value = self._client.query_state(supply_key(class_id), verify=verify, validators=validators)
        if value is None:
            return 0
        if len(value) != _U64_BYTES:
            raise ProtocolError(f"the supply of {class_id!r} is {len(value)} bytes, expected {_U64_BYTES}")
        return int.from_bytes(value, "big")
