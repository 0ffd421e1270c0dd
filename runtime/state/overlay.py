"""Layered writes over a `KVReader`: a block layer, and a transaction layer on top of it.

A transaction's writes go to its own layer; `commit()` folds them into the layer below, `discard()`
drops them, so a failed call leaves no trace.
"""

from __future__ import annotations

from collections.abc import Iterator

from sortedcontainers import SortedList

from dcrm.runtime.state.kv import KVReader, prefix_upper_bound

__all__ = ["Overlay"]

_MISSING = object()


class Overlay:
    """A write layer over `base` (a store or another overlay). Deletions are recorded as None.

    Besides the dict of changes it keeps their keys in a SortedList (O(log n) insert), so a range read costs
    a bisection plus the keys in range, not a sort of everything the block wrote so far.
    """

    def __init__(self, base: KVReader) -> None:
        self.base = base
        self.changes: dict[bytes, bytes | None] = {}
        self._sorted_keys: SortedList = SortedList()

    def get(self, key: bytes) -> bytes | None:
        value = self.changes.get(key, _MISSING)
        if value is _MISSING:
            return self.base.get(key)
        return value  # type: ignore[return-value]

    def _set(self, key: bytes, value: bytes | None) -> None:
        if key not in self.changes:
            self._sorted_keys.add(key)
        self.changes[key] = value

    def put(self, key: bytes, value: bytes) -> None:
        self._set(key, value)

    def delete(self, key: bytes) -> None:
        self._set(key, None)

    def iterate(self, prefix: bytes, start: bytes = b"") -> Iterator[tuple[bytes, bytes]]:
        """Merge this layer's changes with the base in ascending key order."""
        bound = prefix_upper_bound(prefix)
        # A list copy: callers may write while they iterate.
        mine: list[bytes] = list(self._sorted_keys.irange(prefix + start, bound, inclusive=(True, False)))
        base_items = self.base.iterate(prefix, start)
        base_next = next(base_items, None)
        index = 0
        while index < len(mine) or base_next is not None:
            if base_next is not None and (index >= len(mine) or base_next[0] < mine[index]):
                yield base_next
                base_next = next(base_items, None)
                continue
            key = mine[index]
            index += 1
            if base_next is not None and base_next[0] == key:
                base_next = next(base_items, None)
            value = self.changes[key]
            if value is not None:
                yield key, value

    def child(self) -> Overlay:
        return Overlay(self)

    def commit(self) -> None:
        """Fold this layer's changes into its base, which must be an Overlay."""
        if not isinstance(self.base, Overlay):
            raise TypeError("only a child overlay can commit into its parent")
        parent = self.base
        for key, value in self.changes.items():
            parent._set(key, value)
        self.discard()

    def discard(self) -> None:
        self.changes = {}
        self._sorted_keys = SortedList()

    def sorted_changes(self) -> list[tuple[bytes, bytes | None]]:
        changes = self.changes
        return [(key, changes[key]) for key in self._sorted_keys]
