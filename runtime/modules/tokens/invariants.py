"""The tokens ledger's invariants as code, for tests and simulations (they read every key: never on chain).

`check_invariants(state)` checks one state:
- the total supply of a class equals the sum of its balances (held included), and respects max_supply;
- held <= balance for every holding (so nothing is negative: amounts are unsigned and free = balance - held);
- in an expiring class, a holding's balance equals the sum of its lots, every lot has an id below the
  holding's next_lot and exactly one expiry index entry, and every index entry names a stored lot; a class
  without expiry has no lots;
- with `now_ms`, no lot is expired at that instant (true after a block whose sweep was not capped);
- allowances are positive, between two different accounts, in transferable classes only;
- nothing is stored for a class that does not exist.

`check_block(before, after, events)` checks one block's transition against the events it emitted:
- every holding and supply moved exactly as the events say (mint, transfer, burn, redeem, expiry, hold,
  release), so no value appears or vanishes silently;
- no account moved tokens (sent, burned, redeemed, held or released) while it was frozen;
- no transfer_from spent more than the allowance in force at that moment, and each allowance ends where the
  approvals and spends say.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import NoReturn

from dcrm.runtime.modules.tokens.errors import MODULE
from dcrm.runtime.modules.tokens.storage import (
    ACCOUNT_LENGTH,
    ALLOWANCES,
    CLASSES,
    EXPIRY_INDEX,
    HOLDINGS,
    LOTS,
    SUPPLY,
    TIME_LENGTH,
    expiry_key,
    lot_key,
    parse_expiry_key,
)
from dcrm.runtime.state.kv import KVReader
from dcrm.v1 import tokens_pb2, types_pb2

__all__ = ["InvariantViolation", "block_events", "check_block", "check_invariants"]

MAX_AMOUNT = 2**64 - 1


class InvariantViolation(AssertionError):
    """The tokens state or a block's transition breaks a ledger rule; the message says which and where."""


def _fail(message: str) -> NoReturn:
    raise InvariantViolation(message)


def _split(key: bytes) -> tuple[str, bytes]:
    """(class id, rest) of a key laid out as class id + b"/" + rest."""
    class_id, _slash, rest = key.partition(b"/")
    return class_id.decode(), rest


def check_invariants(state: KVReader, *, now_ms: int | None = None) -> None:
    """Raise InvariantViolation naming the first broken rule of the tokens state."""
    classes = {class_id.decode(): token_class for class_id, token_class in CLASSES.items(state)}
    for class_id, token_class in classes.items():
        if token_class.class_id != class_id:
            _fail(f"class stored under {class_id!r} says class_id {token_class.class_id!r}")
        for role in ("owner", "minter", "freezer"):
            if len(getattr(token_class, role)) != ACCOUNT_LENGTH:
                _fail(f"class {class_id!r}: {role} is not a {ACCOUNT_LENGTH}-byte account")
    supply_sums: dict[str, int] = defaultdict(int)
    lot_keys_owned: set[bytes] = set()
    for key, holding in HOLDINGS.items(state):
        class_id, account = _split(key)
        where = f"holding of {account.hex()} in {class_id!r}"
        holder_class = classes.get(class_id)
        if holder_class is None:
            _fail(f"{where}: the class does not exist")
        if holding.held > holding.balance:
            _fail(f"{where}: held {holding.held} exceeds balance {holding.balance}")
        if holding.balance == 0 and holding.held == 0 and not holding.frozen and holding.next_lot == 0:
            _fail(f"{where}: an empty holding is stored")
        supply_sums[class_id] += holding.balance
        lot_keys_owned.update(_check_lots(state, holder_class, account, holding, now_ms, where))
    for class_id, token_class in classes.items():
        supply = SUPPLY.get(state, class_id.encode())
        if supply == 0:
            _fail(f"class {class_id!r}: a zero supply is stored")
        if (supply or 0) != supply_sums[class_id]:
            _fail(f"class {class_id!r}: total supply {supply or 0} != sum of balances {supply_sums[class_id]}")
        if token_class.HasField("max_supply") and supply_sums[class_id] > token_class.max_supply:
            _fail(f"class {class_id!r}: supply {supply_sums[class_id]} exceeds max_supply {token_class.max_supply}")
        if supply_sums[class_id] > MAX_AMOUNT:
            _fail(f"class {class_id!r}: supply {supply_sums[class_id]} exceeds 2^64 - 1")
    for class_id_bytes, _supply in SUPPLY.items(state):
        if class_id_bytes.decode() not in classes:
            _fail(f"supply stored for unknown class {class_id_bytes.decode()!r}")
    for key, _lot in LOTS.items(state):
        if key not in lot_keys_owned:
            _fail(f"lot {key.hex()} belongs to no holding")
    for key, _present in EXPIRY_INDEX.items(state):
        expires_at, class_id, account, lot_id = parse_expiry_key(key)
        lot = LOTS.get(state, lot_key(class_id, account, expires_at))
        if lot is None or lot.lot_id != lot_id:
            _fail(f"expiry entry ({expires_at}, {class_id!r}, {account.hex()}, lot {lot_id}) names no stored lot")
    _check_allowances(state, classes)


def _check_lots(
    state: KVReader,
    token_class: tokens_pb2.TokenClass,
    account: bytes,
    holding: tokens_pb2.Holding,
    now_ms: int | None,
    where: str,
) -> list[bytes]:
    class_id = token_class.class_id
    prefix = class_id.encode() + b"/" + account
    lots = list(LOTS.items(state, prefix))
    if not token_class.expiry_ms:
        if lots or holding.next_lot:
            _fail(f"{where}: a class without expiry has lots or a lot counter")
        return []
    total = 0
    ids: set[int] = set()
    for key, lot in lots:
        expires_at = int.from_bytes(key[-TIME_LENGTH:], "big")
        if len(key) != len(prefix) + TIME_LENGTH or expires_at != lot.expires_at_ms:
            _fail(f"{where}: lot {lot.lot_id} is stored under expiry {expires_at}, says {lot.expires_at_ms}")
        if lot.amount == 0:
            _fail(f"{where}: lot {lot.lot_id} is empty")
        if lot.lot_id >= holding.next_lot or lot.lot_id in ids:
            _fail(f"{where}: lot id {lot.lot_id} repeats or is not below next_lot {holding.next_lot}")
        if not EXPIRY_INDEX.contains(state, expiry_key(lot.expires_at_ms, class_id, account, lot.lot_id)):
            _fail(f"{where}: lot {lot.lot_id} has no expiry index entry")
        if now_ms is not None and lot.expires_at_ms <= now_ms:
            _fail(f"{where}: lot {lot.lot_id} expired at {lot.expires_at_ms} but is still stored at {now_ms}")
        ids.add(lot.lot_id)
        total += lot.amount
    if total != holding.balance:
        _fail(f"{where}: lots sum to {total}, balance is {holding.balance}")
    return [key for key, _lot in lots]


def _check_allowances(state: KVReader, classes: dict[str, tokens_pb2.TokenClass]) -> None:
    for key, amount in ALLOWANCES.items(state):
        class_id, pair = _split(key)
        owner, spender = pair[:ACCOUNT_LENGTH], pair[ACCOUNT_LENGTH:]
        where = f"allowance of {spender.hex()} over {owner.hex()} in {class_id!r}"
        token_class = classes.get(class_id)
        if token_class is None or not token_class.transferable:
            _fail(f"{where}: the class does not exist or is soulbound")
        if amount == 0 or owner == spender or len(spender) != ACCOUNT_LENGTH:
            _fail(f"{where}: amount {amount} must be positive between two different accounts")


# --- block transitions -------------------------------------------------------------------------------------


def _decode(events: Iterable[types_pb2.Event]) -> list[object]:
    decoded: list[object] = []
    for event in events:
        if event.module != MODULE:
            continue
        message_type = getattr(tokens_pb2, event.name, None)
        if message_type is None:
            _fail(f"unknown tokens event {event.name!r}")
        decoded.append(message_type.FromString(event.data))
    return decoded


def block_events(
    receipts: Sequence[types_pb2.Receipt], hook_events: Sequence[types_pb2.Event]
) -> list[types_pb2.Event]:
    """A block's events in execution order: successful calls' events, then the end-of-block hook's."""
    return [event for receipt in receipts if receipt.success for event in receipt.events] + list(hook_events)


def check_block(before: KVReader, after: KVReader, events: Sequence[types_pb2.Event]) -> None:
    """Raise InvariantViolation unless the block from `before` to `after` moved exactly what `events` say."""
    replay = _Replay(before)
    for event in _decode(events):
        replay.apply(event)
    replay.compare(after)


def _holding_key(class_id: str, account: bytes) -> bytes:
    return class_id.encode() + b"/" + account


class _Replay:
    """Expected changes of one block, accumulated event by event from the state before it."""

    def __init__(self, before: KVReader) -> None:
        self.before = before
        self.balance: dict[bytes, int] = defaultdict(int)  # holding key -> expected change
        self.held: dict[bytes, int] = defaultdict(int)
        self.supply: dict[str, int] = defaultdict(int)
        self.frozen: dict[bytes, bool] = {}
        self.allowances: dict[bytes, int] = {}  # allowance key -> value after the events so far

    def apply(self, event: object) -> None:
        if isinstance(event, tokens_pb2.Minted):
            self.balance[_holding_key(event.class_id, event.to)] += event.amount
            self.supply[event.class_id] += event.amount
        elif isinstance(event, tokens_pb2.Transferred):
            self._transferred(event)
        elif isinstance(event, tokens_pb2.Burned | tokens_pb2.Redeemed):
            self._debit(event.class_id, event.account, event.amount, type(event).__name__)
            self.supply[event.class_id] -= event.amount
        elif isinstance(event, tokens_pb2.Held | tokens_pb2.Released):
            key = _holding_key(event.class_id, event.account)
            if self._is_frozen(key):
                _fail(f"frozen account {event.account.hex()} changed its hold in {event.class_id!r}")
            self.held[key] += event.amount if isinstance(event, tokens_pb2.Held) else -event.amount
        elif isinstance(event, tokens_pb2.LotsExpired):
            key = _holding_key(event.class_id, event.account)
            self.balance[key] -= event.amount  # expiry is not a move: it applies to frozen accounts too
            self.held[key] -= event.held_reduced
            self.supply[event.class_id] -= event.amount
        elif isinstance(event, tokens_pb2.Approved):
            key = event.class_id.encode() + b"/" + event.owner + event.spender
            if event.previous != self._allowance(key):
                _fail(f"Approved says the allowance {key.hex()} was {event.previous}, it was {self._allowance(key)}")
            self.allowances[key] = event.amount
        elif isinstance(event, tokens_pb2.Frozen | tokens_pb2.Thawed):
            self.frozen[_holding_key(event.class_id, event.account)] = isinstance(event, tokens_pb2.Frozen)

    def _is_frozen(self, key: bytes) -> bool:
        if key not in self.frozen:
            found = HOLDINGS.get(self.before, key)
            self.frozen[key] = found is not None and found.frozen
        return self.frozen[key]

    def _allowance(self, key: bytes) -> int:
        if key not in self.allowances:
            self.allowances[key] = ALLOWANCES.get(self.before, key) or 0
        return self.allowances[key]

    def _debit(self, class_id: str, account: bytes, amount: int, what: str) -> None:
        key = _holding_key(class_id, account)
        if self._is_frozen(key):
            _fail(f"frozen account {account.hex()} moved {amount} of {class_id!r} ({what})")
        self.balance[key] -= amount

    def _transferred(self, event: tokens_pb2.Transferred) -> None:
        self._debit(event.class_id, event.sender, event.amount, "transfer")
        self.balance[_holding_key(event.class_id, event.recipient)] += event.amount
        if event.spender:
            key = event.class_id.encode() + b"/" + event.sender + event.spender
            allowed = self._allowance(key)
            if event.amount > allowed:
                _fail(f"{event.spender.hex()} spent {event.amount} of {event.class_id!r} with allowance {allowed}")
            self.allowances[key] = allowed - event.amount

    def compare(self, after: KVReader) -> None:
        start = dict(HOLDINGS.items(self.before))
        end = dict(HOLDINGS.items(after))
        for key in sorted(set(start) | set(end) | set(self.balance) | set(self.held)):
            first = start.get(key) or tokens_pb2.Holding()
            last = end.get(key) or tokens_pb2.Holding()
            class_id, account = _split(key)
            for field, expected in (("balance", self.balance.get(key, 0)), ("held", self.held.get(key, 0))):
                moved = getattr(last, field) - getattr(first, field)
                if moved != expected:
                    _fail(f"{field} of {account.hex()} in {class_id!r} moved by {moved}, the events say {expected}")
        classes = {key.decode() for key, _ in SUPPLY.items(self.before)} | {
            key.decode() for key, _ in SUPPLY.items(after)
        }
        for class_id in sorted(classes | set(self.supply)):
            moved = (SUPPLY.get(after, class_id.encode()) or 0) - (SUPPLY.get(self.before, class_id.encode()) or 0)
            if moved != self.supply.get(class_id, 0):
                _fail(f"supply of {class_id!r} moved by {moved}, the events say {self.supply.get(class_id, 0)}")
        start_allowances = dict(ALLOWANCES.items(self.before))
        end_allowances = dict(ALLOWANCES.items(after))
        for key in sorted(set(start_allowances) | set(end_allowances) | set(self.allowances)):
            expected = self.allowances.get(key, start_allowances.get(key, 0))
            found = end_allowances.get(key, 0)
            if found != expected:
                _fail(f"allowance {key.hex()} is {found}, the events leave it at {expected}")
