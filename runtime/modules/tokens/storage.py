"""Tokens module storage items and their key layouts.

Class ids contain no "/" (see calls.check_class_id), and account ids are exactly 20 bytes, so every key
below parses back unambiguously.
"""

from __future__ import annotations

from dcrm.runtime.modules.tokens.errors import MODULE
from dcrm.runtime.storage import FLAG, U64, StorageMap, proto_codec
from dcrm.v1 import tokens_pb2

ACCOUNT_LENGTH = 20
TIME_LENGTH = 8  # u64 big-endian milliseconds, so keys sort by time
LOT_ID_LENGTH = 8

# class id -> the class and its roles
CLASSES: StorageMap[tokens_pb2.TokenClass] = StorageMap(MODULE, "class", proto_codec(tokens_pb2.TokenClass))
# class id -> total supply (absent: 0). Kept apart from the class so mint and burn rewrite 8 bytes only.
SUPPLY: StorageMap[int] = StorageMap(MODULE, "supply", U64)
# class id + b"/" + account -> the account's holding
HOLDINGS: StorageMap[tokens_pb2.Holding] = StorageMap(MODULE, "holding", proto_codec(tokens_pb2.Holding))
# class id + b"/" + account + expires_at -> the account's lot expiring then (one per instant: credits merge)
LOTS: StorageMap[tokens_pb2.Lot] = StorageMap(MODULE, "lot", proto_codec(tokens_pb2.Lot))
# expires_at + class id + b"/" + account + lot id -> present while the lot exists. Sorted by time first, so
# the end-of-block sweep reads only the entries that are due.
EXPIRY_INDEX: StorageMap[bool] = StorageMap(MODULE, "expiry", FLAG)
# class id + b"/" + owner + spender -> allowance (absent: 0)
ALLOWANCES: StorageMap[int] = StorageMap(MODULE, "allowance", U64)


def class_prefix(class_id: str) -> bytes:
    return class_id.encode() + b"/"


def holding_key(class_id: str, account: bytes) -> bytes:
    return class_prefix(class_id) + account


def time_bytes(timestamp_ms: int) -> bytes:
    return timestamp_ms.to_bytes(TIME_LENGTH, "big")


def lot_key(class_id: str, account: bytes, expires_at_ms: int) -> bytes:
    return holding_key(class_id, account) + time_bytes(expires_at_ms)


def expiry_key(expires_at_ms: int, class_id: str, account: bytes, lot_id: int) -> bytes:
    return time_bytes(expires_at_ms) + holding_key(class_id, account) + lot_id.to_bytes(LOT_ID_LENGTH, "big")


def parse_expiry_key(key: bytes) -> tuple[int, str, bytes, int]:
    """(expires_at_ms, class id, account, lot id) of an EXPIRY_INDEX key (without the item prefix)."""
    expires_at = int.from_bytes(key[:TIME_LENGTH], "big")
    lot_id = int.from_bytes(key[-LOT_ID_LENGTH:], "big")
    account = key[-LOT_ID_LENGTH - ACCOUNT_LENGTH : -LOT_ID_LENGTH]
    class_id = key[TIME_LENGTH : -LOT_ID_LENGTH - ACCOUNT_LENGTH - 1].decode()
    return expires_at, class_id, account, lot_id


def allowance_key(class_id: str, owner: bytes, spender: bytes) -> bytes:
    return class_prefix(class_id) + owner + spender
