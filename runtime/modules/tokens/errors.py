"""Tokens module errors. Codes are the wire enum dcrm.v1.tokens.Error; never renumber."""

from __future__ import annotations

from dcrm.runtime.errors import ErrorKind, ModuleErrors
from dcrm.v1 import tokens_pb2

MODULE = "tokens"
INDEX = 3


_define = ModuleErrors(MODULE, INDEX).define


UNKNOWN_CLASS = _define(tokens_pb2.UNKNOWN_CLASS, "UnknownClass", "no token class has this id", ErrorKind.NOT_FOUND)
CLASS_EXISTS = _define(tokens_pb2.CLASS_EXISTS, "ClassExists", "a token class with this id already exists")
BAD_CLASS_ID = _define(
    tokens_pb2.BAD_CLASS_ID,
    "BadClassId",
    "a class id is not 1 to 32 characters of A-Z a-z 0-9 . _ -",
    ErrorKind.INVALID_ARGUMENT,
)
BAD_METADATA = _define(
    tokens_pb2.BAD_METADATA, "BadMetadata", "name, symbol or decimals are out of bounds", ErrorKind.INVALID_ARGUMENT
)
BAD_MAX_SUPPLY = _define(
    tokens_pb2.BAD_MAX_SUPPLY, "BadMaxSupply", "a max supply is set to zero", ErrorKind.INVALID_ARGUMENT
)
BAD_EXPIRY = _define(
    tokens_pb2.BAD_EXPIRY, "BadExpiry", "an expiry duration is longer than the chain allows", ErrorKind.INVALID_ARGUMENT
)
BAD_AMOUNT = _define(tokens_pb2.BAD_AMOUNT, "BadAmount", "an amount is zero", ErrorKind.INVALID_ARGUMENT)
BAD_ACCOUNT = _define(tokens_pb2.BAD_ACCOUNT, "BadAccount", "an account id is not 20 bytes", ErrorKind.INVALID_ARGUMENT)
BAD_REFERENCE = _define(
    tokens_pb2.BAD_REFERENCE, "BadReference", "a reference or reward hash is not 32 bytes", ErrorKind.INVALID_ARGUMENT
)
SAME_ACCOUNT = _define(
    tokens_pb2.SAME_ACCOUNT,
    "SameAccount",
    "the counterparty is the account itself (transfer to self, approve self)",
    ErrorKind.INVALID_ARGUMENT,
)
NOT_OWNER = _define(tokens_pb2.NOT_OWNER, "NotOwner", "the caller is not the class owner", ErrorKind.PERMISSION_DENIED)
NOT_MINTER = _define(
    tokens_pb2.NOT_MINTER, "NotMinter", "the caller is not the class minter", ErrorKind.PERMISSION_DENIED
)
NOT_FREEZER = _define(
    tokens_pb2.NOT_FREEZER, "NotFreezer", "the caller is not the class freezer", ErrorKind.PERMISSION_DENIED
)
NOT_TRANSFERABLE = _define(
    tokens_pb2.NOT_TRANSFERABLE, "NotTransferable", "the class is soulbound: its tokens cannot change hands"
)
ACCOUNT_FROZEN = _define(
    tokens_pb2.ACCOUNT_FROZEN, "AccountFrozen", "the account is frozen in this class and can move nothing"
)
ALREADY_FROZEN = _define(tokens_pb2.ALREADY_FROZEN, "AlreadyFrozen", "the account is already frozen in this class")
NOT_FROZEN = _define(tokens_pb2.NOT_FROZEN, "NotFrozen", "the account is not frozen in this class")
SUPPLY_EXCEEDED = _define(
    tokens_pb2.SUPPLY_EXCEEDED,
    "SupplyExceeded",
    "minting would take the total supply past the class's max supply",
)
AMOUNT_OVERFLOW = _define(tokens_pb2.AMOUNT_OVERFLOW, "AmountOverflow", "a total would exceed 2^64 - 1 minor units")
INSUFFICIENT_BALANCE = _define(
    tokens_pb2.INSUFFICIENT_BALANCE,
    "InsufficientBalance",
    "the free (unheld, unexpired) balance is smaller than the amount",
)
INSUFFICIENT_HELD = _define(
    tokens_pb2.INSUFFICIENT_HELD, "InsufficientHeld", "the held balance is smaller than the amount to release"
)
ALLOWANCE_EXCEEDED = _define(
    tokens_pb2.ALLOWANCE_EXCEEDED, "AllowanceExceeded", "the amount is larger than the spender's allowance"
)
ALLOWANCE_CHANGED = _define(
    tokens_pb2.ALLOWANCE_CHANGED,
    "AllowanceChanged",
    "the current allowance is not the expected one (compare-and-set failed)",
)

ALL = (
    UNKNOWN_CLASS,
    CLASS_EXISTS,
    BAD_CLASS_ID,
    BAD_METADATA,
    BAD_MAX_SUPPLY,
    BAD_EXPIRY,
    BAD_AMOUNT,
    BAD_ACCOUNT,
    BAD_REFERENCE,
    SAME_ACCOUNT,
    NOT_OWNER,
    NOT_MINTER,
    NOT_FREEZER,
    NOT_TRANSFERABLE,
    ACCOUNT_FROZEN,
    ALREADY_FROZEN,
    NOT_FROZEN,
    SUPPLY_EXCEEDED,
    AMOUNT_OVERFLOW,
    INSUFFICIENT_BALANCE,
    INSUFFICIENT_HELD,
    ALLOWANCE_EXCEEDED,
    ALLOWANCE_CHANGED,
)
