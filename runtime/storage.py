"""Typed storage items over the runtime state. Every key is `<module>/<item>/<key>`.

Items encode values with a `Codec`; keys are readable, so a client can name a key in a proof query.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from google.protobuf.message import Message

from dcrm.runtime.state.kv import KVReader
from dcrm.runtime.state.overlay import Overlay

__all__ = [
    "BYTES",
    "FLAG",
    "U64",
    "Codec",
    "StorageMap",
    "StorageValue",
    "proto_codec",
]

V = TypeVar("V")
M = TypeVar("M", bound=Message)


@dataclass(frozen=True, slots=True)
class Codec(Generic[V]):
    encode: Callable[[V], bytes]
    decode: Callable[[bytes], V]


def _decode_u64(raw: bytes) -> int:
    return int.from_bytes(raw, "big")


U64: Codec[int] = Codec(lambda value: value.to_bytes(8, "big"), _decode_u64)
BYTES: Codec[bytes] = Codec(bytes, bytes)
FLAG: Codec[bool] = Codec(lambda _value: b"\x01", lambda _raw: True)


def proto_codec(message_type: type[M]) -> Codec[M]:
    """Values stored as serialized protobuf messages (runtime writes them once; they are not re-hashed)."""

    def decode(raw: bytes) -> M:
        message = message_type()
        message.ParseFromString(raw)
        return message

    return Codec(lambda message: message.SerializeToString(), decode)


class _Writable(Protocol):
    def put(self, key: bytes, value: bytes) -> None: ...

    def delete(self, key: bytes) -> None: ...


class StorageMap(Generic[V]):
    """A map from byte keys to typed values under one prefix."""

    def __init__(self, module: str, item: str, codec: Codec[V]) -> None:
        self.prefix = f"{module}/{item}/".encode()
        self.codec = codec

    def key(self, key: bytes) -> bytes:
        return self.prefix + key

    def get(self, state: KVReader, key: bytes) -> V | None:
        raw = state.get(self.prefix + key)
        return None if raw is None else self.codec.decode(raw)

    def contains(self, state: KVReader, key: bytes) -> bool:
        return state.get(self.prefix + key) is not None

    def put(self, state: Overlay | _Writable, key: bytes, value: V) -> None:
        state.put(self.prefix + key, self.codec.encode(value))

    def delete(self, state: Overlay | _Writable, key: bytes) -> None:
        state.delete(self.prefix + key)

    def items(self, state: KVReader, sub_prefix: bytes = b"", start: bytes = b"") -> Iterator[tuple[bytes, V]]:
        """(key without the item prefix, value) in ascending key order."""
        cut = len(self.prefix)
        for full_key, raw in state.iterate(self.prefix + sub_prefix, start):
            yield full_key[cut:], self.codec.decode(raw)


class StorageValue(Generic[V]):
    """A single typed value."""

    def __init__(self, module: str, item: str, codec: Codec[V]) -> None:
        self.key = f"{module}/{item}".encode()
        self.codec = codec

    def get(self, state: KVReader) -> V | None:
        raw = state.get(self.key)
        return None if raw is None else self.codec.decode(raw)

    def put(self, state: Overlay | _Writable, value: V) -> None:
        state.put(self.key, self.codec.encode(value))
