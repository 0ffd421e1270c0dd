"""The PBFT write-ahead vote log in the node's LevelDB: every vote is on disk before it is sent.

Keys: W ++ height (8 bytes) ++ sequence (8 bytes) -> serialized VoteLogEntry. Appends are synced.
"""

from __future__ import annotations

from dcrm.runtime.state.kv import KVStore

__all__ = ["VoteLogStore"]

_PREFIX = b"W"


class VoteLogStore:
    def __init__(self, kv: KVStore) -> None:
        self._kv = kv
        last = None
        for key, _ in kv.iterate(_PREFIX):
            last = key
        self._sequence = 0 if last is None else int.from_bytes(last[9:17], "big") + 1

    def append(self, height: int, entry: bytes) -> None:
        """Durably record `entry` (fsync) before returning."""
        key = _PREFIX + height.to_bytes(8, "big") + self._sequence.to_bytes(8, "big")
        self._sequence += 1
        self._kv.write({key: entry}, sync=True)

    def entries_above(self, height: int) -> list[bytes]:
        """Entries for heights above `height`, in the order they were written per height."""
        return [value for _, value in self._kv.iterate(_PREFIX, (height + 1).to_bytes(8, "big"))]

    def prune_through(self, height: int) -> None:
        stale = [key for key, _ in self._kv.iterate(_PREFIX) if int.from_bytes(key[1:9], "big") <= height]
        if stale:
            self._kv.write(dict.fromkeys(stale), sync=False)
