"""A read-only view of the keys under one prefix of a store, with the prefix stripped."""

from __future__ import annotations

from collections.abc import Iterator

from dcrm.runtime.state.kv import KVReader

__all__ = ["PrefixedReader"]


class PrefixedReader:
    def __init__(self, base: KVReader, prefix: bytes) -> None:
        self.base = base
        self.prefix = prefix

    def get(self, key: bytes) -> bytes | None:
        return self.base.get(self.prefix + key)

    def iterate(self, prefix: bytes, start: bytes = b"") -> Iterator[tuple[bytes, bytes]]:
        cut = len(self.prefix)
        for key, value in self.base.iterate(self.prefix + prefix, start):
            yield key[cut:], value
