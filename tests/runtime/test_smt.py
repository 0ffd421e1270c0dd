"""The authenticated state tree against a from-scratch reference, on the in-memory and the LevelDB store."""

from __future__ import annotations

import random
from collections.abc import Iterable
from hashlib import sha256

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dcrm.client.proof import ProofError, verify_state_proof
from dcrm.runtime.state.kv import KVStore, MemoryKV
from dcrm.runtime.state.smt import EMPTY_ROOT, CorruptTreeError, SparseMerkleTree
from tests.support.runtime_harness import kv_backend

PREFIX = b"T"
BACKENDS = ["memory", "leveldb"]
# Few distinct keys, so random operations often update and delete keys that exist.
KEYS = st.binary(min_size=1, max_size=3)
VALUES = st.binary(max_size=40)
BATCH = st.dictionaries(KEYS, st.none() | VALUES, max_size=25)


# --- the reference: recompute the root from the whole state, by the definition ---------------------------


def _h(data: bytes) -> bytes:
    return sha256(data).digest()


def _nibble(path: bytes, depth: int) -> int:
    return path[depth // 2] >> 4 if depth % 2 == 0 else path[depth // 2] & 0x0F


def _subtree(leaves: list[tuple[bytes, bytes]], depth: int) -> bytes:
    if not leaves:
        return bytes(32)
    if len(leaves) == 1:
        return _h(b"\x00" + leaves[0][0] + leaves[0][1])
    children = [_subtree([leaf for leaf in leaves if _nibble(leaf[0], depth) == slot], depth + 1) for slot in range(16)]
    return _h(b"\x01" + b"".join(children))


def reference_root(state: dict[bytes, bytes]) -> bytes:
    """The root of `state` computed from scratch."""
    return _subtree([(_h(key), _h(value)) for key, value in state.items()], 0)


# --- helpers ----------------------------------------------------------------------------------------------


def commit(store: KVStore, changes: Iterable[tuple[bytes, bytes | None]]) -> bytes:
    """Update the tree in `store` and persist the node writes, as the node does after a block."""
    root, writes = SparseMerkleTree(store, PREFIX).update(changes)
    assert all(key.startswith(PREFIX) for key in writes)
    store.write(writes, sync=False)
    assert SparseMerkleTree(store, PREFIX).root() == root
    return root


def apply_to(state: dict[bytes, bytes], changes: dict[bytes, bytes | None]) -> None:
    for key, value in changes.items():
        if value is None:
            state.pop(key, None)
        else:
            state[key] = value


def check_stored_tree(store: KVStore, state: dict[bytes, bytes]) -> None:
    """Every stored node is reachable, well formed, correctly hashed and placed, and the leaves are `state`."""
    stored = dict(store.iterate(PREFIX))
    reached: set[bytes] = set()
    leaves: dict[bytes, bytes] = {}

    def walk(entry: bytes, hex_path: str) -> None:
        if entry[0] == 0:
            assert len(entry) == 97
            key_path, value_hash = entry[33:65], entry[65:97]
            assert key_path.hex().startswith(hex_path), "leaf off its path"
            assert entry[1:33] == _h(b"\x00" + key_path + value_hash)
            leaves[key_path] = value_hash
            return
        assert entry[0] == 1
        assert len(entry) == 33
        node_key = PREFIX + b"/" + hex_path.encode()
        record = stored[node_key]
        reached.add(node_key)
        bitmap = int.from_bytes(record[:2], "big")
        children: list[bytes | None] = []
        pos = 2
        for slot in range(16):
            if bitmap >> slot & 1:
                size = 97 if record[pos] == 0 else 33
                children.append(record[pos : pos + size])
                pos += size
            else:
                children.append(None)
        assert pos == len(record)
        present = [child for child in children if child is not None]
        assert present, "empty node stored"
        assert not (len(present) == 1 and present[0][0] == 0), "lone leaf not moved up"
        hashes = [bytes(32) if child is None else child[1:33] for child in children]
        assert entry[1:33] == _h(b"\x01" + b"".join(hashes))
        for slot, child in enumerate(children):
            if child is not None:
                walk(child, hex_path + format(slot, "x"))

    root_entry = stored.get(PREFIX)
    if root_entry is not None:
        reached.add(PREFIX)
        walk(root_entry, "")
    assert reached == set(stored), "unreachable nodes left in the store"
    assert leaves == {_h(key): _h(value) for key, value in state.items()}


def keys_sharing_prefix(nibbles: int, count: int) -> list[bytes]:
    """`count` keys whose paths share their first `nibbles` nibbles (found by a deterministic search)."""
    width = nibbles // 2 + 1
    groups: dict[str, list[bytes]] = {}
    index = 0
    while True:
        key = b"deep-%d" % index
        group = groups.setdefault(_h(key)[:width].hex()[:nibbles], [])
        group.append(key)
        if len(group) == count:
            return group
        index += 1


# --- the tree matches the reference ----------------------------------------------------------------------


def test_empty_tree(store: KVStore) -> None:
    tree = SparseMerkleTree(store, PREFIX)
    assert tree.root() == EMPTY_ROOT == bytes(32)
    assert tree.update([]) == (EMPTY_ROOT, {})


def test_one_key_root_is_its_leaf_hash(store: KVStore) -> None:
    root = commit(store, [(b"k", b"v")])
    assert root == _h(b"\x00" + _h(b"k") + _h(b"v"))
    check_stored_tree(store, {b"k": b"v"})


def test_golden_root() -> None:
    """A fixed vector: any change to hashing or layout shows here (and in the SDK's own test)."""
    state = {b"alice": b"1", b"bob": b"2", b"carol": b"3"}
    root, _writes = SparseMerkleTree(MemoryKV(), PREFIX).update(state.items())
    assert root == reference_root(state)
    assert root.hex() == "bf2cdfa0f6bdc168f28b82fc517cc11f2af4f4ee6ef4ce564dc649be8d35738b"


@pytest.mark.parametrize("backend", BACKENDS)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batches=st.lists(BATCH, min_size=1, max_size=6))
def test_random_batches_match_reference(backend: str, batches: list[dict[bytes, bytes | None]]) -> None:
    state: dict[bytes, bytes] = {}
    with kv_backend(backend) as store:
        for changes in batches:
            root = commit(store, changes.items())
            apply_to(state, changes)
            assert root == reference_root(state)
            check_stored_tree(store, state)


@settings(max_examples=60, deadline=None)
@given(state=st.dictionaries(KEYS, VALUES, max_size=60), seed=st.integers(0, 2**32))
def test_root_and_nodes_independent_of_order_and_batching(state: dict[bytes, bytes], seed: int) -> None:
    at_once = MemoryKV()
    commit(at_once, state.items())
    items = list(state.items())
    random.Random(seed).shuffle(items)
    in_pieces = MemoryKV()
    cut = 0
    while cut < len(items):
        step = random.Random(seed + cut).randint(1, 8)
        commit(in_pieces, items[cut : cut + step])
        cut += step
    assert SparseMerkleTree(in_pieces, PREFIX).root() == SparseMerkleTree(at_once, PREFIX).root()
    # Nodes are stored by path, so the stored tree is canonical too.
    assert list(in_pieces.iterate(PREFIX)) == list(at_once.iterate(PREFIX))


@pytest.mark.parametrize("batch_size", [1, 7, 200])
def test_delete_everything_back_to_empty(store: KVStore, batch_size: int) -> None:
    state = {b"key-%d" % index: b"value-%d" % index for index in range(200)}
    assert commit(store, state.items()) == reference_root(state)
    keys = sorted(state)
    random.Random(batch_size).shuffle(keys)
    for start in range(0, len(keys), batch_size):
        commit(store, [(key, None) for key in keys[start : start + batch_size]])
        for key in keys[start : start + batch_size]:
            del state[key]
        assert SparseMerkleTree(store, PREFIX).root() == reference_root(state)
    assert SparseMerkleTree(store, PREFIX).root() == EMPTY_ROOT
    assert list(store.iterate(PREFIX)) == []


def test_deep_paths_split_and_collapse(store: KVStore) -> None:
    first, second, third = keys_sharing_prefix(4, 3)
    commit(store, [(first, b"1")])
    commit(store, [(second, b"2")])  # a leaf pushed down: a chain of nodes four levels deep
    assert len(list(store.iterate(PREFIX + b"/"))) >= 5
    check_stored_tree(store, {first: b"1", second: b"2"})
    commit(store, [(third, b"3"), (first, None)])
    check_stored_tree(store, {second: b"2", third: b"3"})
    commit(store, [(second, None)])  # the chain collapses: the lone leaf moves up to the root
    assert list(store.iterate(PREFIX + b"/")) == []
    assert SparseMerkleTree(store, PREFIX).root() == reference_root({third: b"3"})


def test_update_and_delete_absent_key_change_nothing(store: KVStore) -> None:
    state = {b"a": b"1", b"b": b"2", b"c": b"3"}
    root = commit(store, state.items())
    assert SparseMerkleTree(store, PREFIX).update([(b"zz", None), (b"yy", None)]) == (root, {})
    new_root, writes = SparseMerkleTree(store, PREFIX).update([(b"a", b"1")])
    assert new_root == root
    assert all(store.get(key) == record for key, record in writes.items())


def test_uncommitted_update_leaves_the_store_unchanged(store: KVStore) -> None:
    """A rejected proposal: the update is computed, never persisted, and nothing is left behind."""
    root = commit(store, [(b"key-%d" % index, b"v") for index in range(50)])
    before = list(store.iterate(PREFIX))
    proposed, _writes = SparseMerkleTree(store, PREFIX).update([(b"new", b"x"), (b"key-1", None)])
    assert proposed != root
    assert list(store.iterate(PREFIX)) == before
    assert commit(store, [(b"other", b"y")]) == reference_root(
        {**{b"key-%d" % index: b"v" for index in range(50)}, b"other": b"y"}
    )


def test_duplicate_keys_are_rejected() -> None:
    with pytest.raises(ValueError, match="duplicate key"):
        SparseMerkleTree(MemoryKV(), PREFIX).update([(b"a", b"1"), (b"a", None)])


def test_missing_node_is_reported() -> None:
    store = MemoryKV()
    commit(store, [(b"key-%d" % index, b"v") for index in range(40)])
    store.write({PREFIX + b"/": None})
    with pytest.raises(CorruptTreeError, match="missing"):
        SparseMerkleTree(store, PREFIX).update([(b"x", b"y")])
    with pytest.raises(CorruptTreeError):
        SparseMerkleTree(store, PREFIX).prove(b"x", None)


def test_trees_under_different_prefixes_are_independent() -> None:
    store = MemoryKV()
    store.write(SparseMerkleTree(store, b"A").update([(b"k", b"1")])[1])
    store.write(SparseMerkleTree(store, b"B").update([(b"k", b"2")])[1])
    assert SparseMerkleTree(store, b"A").root() == reference_root({b"k": b"1"})
    assert SparseMerkleTree(store, b"B").root() == reference_root({b"k": b"2"})


# --- proofs -----------------------------------------------------------------------------------------------


def test_proofs_on_empty_and_one_key_trees(store: KVStore) -> None:
    proof = SparseMerkleTree(store, PREFIX).prove(b"k", None)
    assert not proof.exists
    assert list(proof.steps) == []
    verify_state_proof(EMPTY_ROOT, proof)
    root = commit(store, [(b"k", b"v")])
    tree = SparseMerkleTree(store, PREFIX)
    verify_state_proof(root, tree.prove(b"k", b"v"))
    absent = tree.prove(b"other", None)
    assert absent.leaf_key_hash == _h(b"k")
    verify_state_proof(root, absent)


@pytest.mark.parametrize("backend", BACKENDS)
@settings(max_examples=30, deadline=None)
@given(state=st.dictionaries(KEYS, VALUES, min_size=1, max_size=80), probes=st.lists(KEYS, max_size=20))
def test_every_proof_verifies(backend: str, state: dict[bytes, bytes], probes: list[bytes]) -> None:
    with kv_backend(backend) as store:
        root = commit(store, state.items())
        tree = SparseMerkleTree(store, PREFIX)
        for key in [*state, *probes]:
            proof = tree.prove(key, state.get(key))
            assert proof.exists == (key in state)
            verify_state_proof(root, proof, key=key)


def test_non_inclusion_proofs_end_at_empty_slots_and_at_other_leaves(store: KVStore) -> None:
    state = {b"key-%d" % index: b"v%d" % index for index in range(300)}
    root = commit(store, state.items())
    tree = SparseMerkleTree(store, PREFIX)
    terminals = set()
    for index in range(200):
        proof = tree.prove(b"absent-%d" % index, None)
        verify_state_proof(root, proof)
        terminals.add("leaf" if proof.leaf_key_hash else "empty")
    assert terminals == {"leaf", "empty"}


def test_prove_rejects_a_value_that_disagrees_with_the_tree(store: KVStore) -> None:
    commit(store, [(b"a", b"1"), (b"b", b"2")])
    tree = SparseMerkleTree(store, PREFIX)
    with pytest.raises(ValueError, match="not the one in the tree"):
        tree.prove(b"a", b"9")
    with pytest.raises(ValueError, match="no value was given"):
        tree.prove(b"a", None)
    with pytest.raises(ValueError, match="not in the tree"):
        tree.prove(b"zzz", b"1")


def test_proof_fails_against_another_root(store: KVStore) -> None:
    old_root = commit(store, [(b"a", b"1"), (b"b", b"2")])
    commit(store, [(b"a", b"3")])
    proof = SparseMerkleTree(store, PREFIX).prove(b"a", b"3")
    with pytest.raises(ProofError, match="root"):
        verify_state_proof(old_root, proof)
