"""Hypothesis helpers that damage valid inputs: byte-level mutations of serialized data, and field-level
mutations of protobuf messages (a field set to an edge value, a value the chain knows, or random data).

Starting from valid inputs reaches code that random bytes never get past the first check of.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message
from hypothesis import strategies as st

__all__ = ["mutate_bytes", "mutate_message"]

_INT_RANGES = {
    FieldDescriptor.CPPTYPE_INT32: (-(2**31), 2**31 - 1),
    FieldDescriptor.CPPTYPE_UINT32: (0, 2**32 - 1),
    FieldDescriptor.CPPTYPE_INT64: (-(2**63), 2**63 - 1),
    FieldDescriptor.CPPTYPE_UINT64: (0, 2**64 - 1),
}


def mutate_bytes(data: st.DataObject, raw: bytes, *, max_steps: int = 3) -> bytes:
    """`raw` after 1 to `max_steps` of: flip bits of a byte, truncate, append, insert, delete a run, or
    overwrite a run with random bytes."""
    steps = data.draw(st.integers(1, max_steps), label="mutation steps")
    for _ in range(steps):
        if not raw:
            raw = data.draw(st.binary(min_size=1, max_size=32), label="from nothing")
            continue
        size = len(raw)
        kind = data.draw(st.sampled_from(["flip", "truncate", "append", "insert", "delete", "overwrite"]))
        at = data.draw(st.integers(0, size - 1), label="position")
        if kind == "flip":
            mask = data.draw(st.integers(1, 255), label="xor mask")
            raw = raw[:at] + bytes([raw[at] ^ mask]) + raw[at + 1 :]
        elif kind == "truncate":
            raw = raw[:at]
        elif kind == "append":
            raw = raw + data.draw(st.binary(min_size=1, max_size=64), label="tail")
        elif kind == "insert":
            raw = raw[:at] + data.draw(st.binary(min_size=1, max_size=16), label="inserted") + raw[at:]
        elif kind == "delete":
            length = data.draw(st.integers(1, min(16, size - at)), label="deleted")
            raw = raw[:at] + raw[at + length :]
        else:
            chunk = data.draw(st.binary(min_size=1, max_size=min(16, size - at)), label="overwrite")
            raw = raw[:at] + chunk + raw[at + len(chunk) :]
    return raw


def mutate_message(
    data: st.DataObject,
    message: Message,
    *,
    strings: Sequence[str] = (),
    blobs: Sequence[bytes] = (),
    max_steps: int = 3,
) -> None:
    """Change 1 to `max_steps` fields of `message` in place, anywhere in its tree: a scalar set to an edge
    value, a known value (`strings`, `blobs`) or a random one; a repeated field cleared, extended or with an
    element replaced; a message field cleared."""
    steps = data.draw(st.integers(1, max_steps), label="field mutations")
    for _ in range(steps):
        slots = list(_slots(message))
        if not slots:
            return
        owner, field = data.draw(st.sampled_from(slots), label="field")
        _mutate_field(data, owner, field, strings, blobs)


def _slots(message: Message) -> list[tuple[Message, FieldDescriptor]]:
    """Every field of `message` and of the messages set inside it."""
    found: list[tuple[Message, FieldDescriptor]] = []
    for field in cast(Sequence[FieldDescriptor], message.DESCRIPTOR.fields):
        found.append((message, field))
        if field.cpp_type != FieldDescriptor.CPPTYPE_MESSAGE:
            continue
        value: Any = getattr(message, field.name)
        if _is_repeated(field):
            for element in value:
                found.extend(_slots(element))
        elif message.HasField(field.name):
            found.extend(_slots(value))
    return found


def _is_repeated(field: FieldDescriptor) -> bool:
    repeated: bool = field.is_repeated  # protobuf >= 6 (`label` is deprecated)
    return repeated


def _mutate_field(
    data: st.DataObject, owner: Message, field: FieldDescriptor, strings: Sequence[str], blobs: Sequence[bytes]
) -> None:
    if field.cpp_type == FieldDescriptor.CPPTYPE_MESSAGE:
        if _is_repeated(field):
            container: Any = getattr(owner, field.name)
            action = data.draw(st.sampled_from(["clear", "add-empty", "duplicate"]), label="repeated message")
            if action == "clear":
                del container[:]
            elif action == "add-empty" or not container:
                container.add()
            else:
                container.add().CopyFrom(container[data.draw(st.integers(0, len(container) - 1))])
        else:
            owner.ClearField(field.name)
        return
    if _is_repeated(field):
        values: Any = getattr(owner, field.name)
        action = data.draw(st.sampled_from(["clear", "append", "replace"]), label="repeated scalar")
        if action == "clear":
            del values[:]
        elif action == "append" or not values:
            values.append(data.draw(_scalar(field, None, strings, blobs)))
        else:
            position = data.draw(st.integers(0, len(values) - 1))
            values[position] = data.draw(_scalar(field, values[position], strings, blobs))
        return
    if field.has_presence and data.draw(st.integers(0, 4), label="clear?") == 0:
        owner.ClearField(field.name)
        return
    current = getattr(owner, field.name)
    setattr(owner, field.name, data.draw(_scalar(field, current, strings, blobs), label=field.name))


def _scalar(
    field: FieldDescriptor, current: Any, strings: Sequence[str], blobs: Sequence[bytes]
) -> st.SearchStrategy[Any]:
    """A new value for a scalar field; `current` (None for a new element) lets it stay close to the valid one:
    a neighbouring number, bytes or text of the same length, so that checks of shape pass and the handler runs."""
    kind = field.cpp_type
    if kind in _INT_RANGES:
        low, high = _INT_RANGES[kind]
        edges = sorted({low, high, 0, 1, max(low, -1), high // 2 + 1})
        near = st.integers(max(low, current - 3), min(high, current + 3)) if isinstance(current, int) else st.just(0)
        return st.one_of(st.sampled_from(edges), st.integers(low, high), st.integers(max(low, -5), 100), near)
    if kind == FieldDescriptor.CPPTYPE_BOOL:
        return st.booleans()
    if kind == FieldDescriptor.CPPTYPE_ENUM:
        return st.integers(-1, 8)  # proto3 enums are open: unknown numbers decode and must be refused
    if kind == FieldDescriptor.CPPTYPE_STRING:
        if field.type == FieldDescriptor.TYPE_BYTES:
            known_bytes = st.sampled_from(list(blobs) or [b""])
            size = len(current) if isinstance(current, bytes) else 32
            alike = st.binary(min_size=size, max_size=size)
            return st.one_of(known_bytes, st.binary(max_size=80), known_bytes.map(lambda blob: blob[:-1]), alike)
        known = st.sampled_from(list(strings) or [""])
        alike_text = st.just(current[:-1] + "x") if isinstance(current, str) and current else st.just("x")
        return st.one_of(known, st.text(max_size=80), known.map(lambda text: text + "\x00"), alike_text)
    if kind in (FieldDescriptor.CPPTYPE_DOUBLE, FieldDescriptor.CPPTYPE_FLOAT):
        return st.floats(allow_nan=True)
    raise AssertionError(f"no strategy for field {field.full_name} of C++ type {kind}")
