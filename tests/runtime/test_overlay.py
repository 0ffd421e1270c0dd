"""Overlay layers agree with a plain dict model: reads, ordered range reads, commit and discard."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from dcrm.runtime.state.kv import MemoryKV
from dcrm.runtime.state.overlay import Overlay

KEYS = st.binary(min_size=1, max_size=3)
VALUES = st.none() | st.binary(max_size=4)  # None: delete
OPS = st.lists(st.tuples(KEYS, VALUES), max_size=40)


def apply(model: dict[bytes, bytes], layer: Overlay, ops: list[tuple[bytes, bytes | None]]) -> None:
    for key, value in ops:
        if value is None:
            layer.delete(key)
            model.pop(key, None)
        else:
            layer.put(key, value)
            model[key] = value


def expected_range(model: dict[bytes, bytes], prefix: bytes, start: bytes) -> list[tuple[bytes, bytes]]:
    return sorted((k, v) for k, v in model.items() if k.startswith(prefix) and k >= prefix + start)


@settings(max_examples=150, deadline=None)
@given(
    base=st.dictionaries(KEYS, st.binary(max_size=4), max_size=20),
    block_ops=OPS,
    tx_ops=OPS,
    commit=st.booleans(),
    prefix=st.binary(max_size=2),
    start=st.binary(max_size=1),
)
def test_layers_match_a_dict(
    base: dict[bytes, bytes],
    block_ops: list[tuple[bytes, bytes | None]],
    tx_ops: list[tuple[bytes, bytes | None]],
    commit: bool,
    prefix: bytes,
    start: bytes,
) -> None:
    block = Overlay(MemoryKV(base))
    block_model = dict(base)
    apply(block_model, block, block_ops)
    tx = block.child()
    tx_model = dict(block_model)
    apply(tx_model, tx, tx_ops)
    assert list(tx.iterate(prefix, start)) == expected_range(tx_model, prefix, start)
    assert all(tx.get(key) == tx_model.get(key) for key, _ in tx_ops + block_ops)
    if commit:
        tx.commit()
        block_model = tx_model
    else:
        tx.discard()
    assert list(block.iterate(prefix, start)) == expected_range(block_model, prefix, start)
    assert list(tx.iterate(b"")) == expected_range(block_model, b"", b"")  # an emptied layer reads through
    assert [key for key, _ in block.sorted_changes()] == sorted(block.changes)


def test_writes_during_iteration_do_not_disturb_it() -> None:
    layer = Overlay(MemoryKV({b"a1": b"x"}))
    layer.put(b"a2", b"y")
    seen = []
    for key, _ in layer.iterate(b"a"):
        seen.append(key)
        layer.put(key + b"!", b"z")
    assert seen == [b"a1", b"a2"]
