"""The key-value seam between the runtime and whatever stores its state.

The runtime reads through `KVReader` and never writes: it returns the writes a block makes, and the
node persists them in one atomic batch together with the block.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator, Mapping
from typing import Protocol

__all__ = ["KVReader", "KVStore", "MemoryKV", "Writes", "prefix_upper_bound"]

# Key -> new value, or None to delete.
Writes = Mapping[bytes, bytes | None]


class KVReader(Protocol):
    """Read-only, consistent view of a key-value store."""

    def get(self, key: bytes) -> bytes | None: ...

    def iterate(self, prefix: bytes, start: bytes = b"") -> Iterator[tuple[bytes, bytes]]:
        """Items whose key starts with `prefix` and is >= prefix + start, in ascending key order."""
        ...


class KVStore(KVReader, Protocol):
    """A store that applies a set of writes atomically and hands out consistent snapshots."""

    def write(self, writes: Writes, *, sync: bool = True) -> None: ...

    def snapshot(self) -> KVReader: ...

    def close(self) -> None: ...


def prefix_upper_bound(prefix: bytes) -> bytes | None:
    """The smallest key greater than every key that starts with `prefix` (None: no bound)."""
    stripped = prefix.rstrip(b"\xff")
    if not stripped:
        return None
    return stripped[:-1] + bytes([stripped[-1] + 1])


class MemoryKV:
    """In-memory `KVStore`: a sorted key list beside a dict. Used by tests and the simulator."""

    def __init__(self, items: Mapping[bytes, bytes] | None = None) -> None:
        self._data: dict[bytes, bytes] = dict(items or {})
        self._keys: list[bytes] = sorted(self._data)

    def get(self, key: bytes) -> bytes | None:
        return self._data.get(key)

    def iterate(self, prefix: bytes, start: bytes = b"") -> Iterator[tuple[bytes, bytes]]:
        # Iterate over a copy so a caller may write while it walks.
        keys = self._keys
        low = bisect.bisect_left(keys, prefix + start)
        bound = prefix_upper_bound(prefix)
        high = len(keys) if bound is None else bisect.bisect_left(keys, bound)
        data = self._data
        for key in keys[low:high]:
            yield key, data[key]

    def write(self, writes: Writes, *, sync: bool = True) -> None:
        del sync  # nothing to flush in memory
        data = self._data
        added = False
        removed = False
        for key, value in writes.items():
            if value is None:
                if data.pop(key, None) is not None:
                    removed = True
            else:
                if key not in data:
                    added = True
                data[key] = value
        if added or removed:
            self._keys = sorted(data)

    def snapshot(self) -> KVReader:
        return MemoryKV(self._data)

    def close(self) -> None:
        self._data.clear()
        self._keys.clear()

    def __len__(self) -> int:
        return len(self._data)
