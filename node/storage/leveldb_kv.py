"""The LevelDB (plyvel) implementation of the runtime's KVStore seam."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import plyvel

from dcrm.runtime.state.kv import KVReader, Writes, prefix_upper_bound

__all__ = ["LevelDBKV", "StoreLockedError"]

# A larger memtable cuts LevelDB's compaction stalls under block-sized write bursts (FIELD-NOTES).
WRITE_BUFFER_BYTES = 64 << 20


class StoreLockedError(RuntimeError):
    """Another process has the data folder open."""


def _iterate(source: Any, prefix: bytes, start: bytes) -> Iterator[tuple[bytes, bytes]]:
    stop = prefix_upper_bound(prefix)
    if stop is None:
        yield from source.iterator(start=prefix + start)
    else:
        yield from source.iterator(start=prefix + start, stop=stop)


class _Snapshot:
    def __init__(self, snapshot: Any) -> None:
        self._snapshot = snapshot

    def get(self, key: bytes) -> bytes | None:
        value: bytes | None = self._snapshot.get(key)
        return value

    def iterate(self, prefix: bytes, start: bytes = b"") -> Iterator[tuple[bytes, bytes]]:
        return _iterate(self._snapshot, prefix, start)


class LevelDBKV:
    """A LevelDB database in one folder. Only one process may open it at a time."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        try:
            self._db = plyvel.DB(str(self.path), create_if_missing=True, write_buffer_size=WRITE_BUFFER_BYTES)
        except plyvel.IOError as error:
            # plyvel puts LevelDB's message in args[0] as bytes: "IO error: lock .../LOCK: ..."
            if b"lock" in (error.args[0] if error.args and isinstance(error.args[0], bytes) else b""):
                raise StoreLockedError(f"{self.path} is in use by another process (LevelDB lock held)") from None
            raise

    def get(self, key: bytes) -> bytes | None:
        value: bytes | None = self._db.get(key)
        return value

    def iterate(self, prefix: bytes, start: bytes = b"") -> Iterator[tuple[bytes, bytes]]:
        return _iterate(self._db, prefix, start)

    def write(self, writes: Writes, *, sync: bool = True) -> None:
        """Apply every write atomically; with sync the data is on disk when this returns."""
        with self._db.write_batch(sync=sync) as batch:
            for key, value in writes.items():
                if value is None:
                    batch.delete(key)
                else:
                    batch.put(key, value)

    def snapshot(self) -> KVReader:
        return _Snapshot(self._db.snapshot())

    def close(self) -> None:
        self._db.close()
