"""Authenticated state: a batched 16-ary sparse Merkle tree over the KV seam.

The tree commits to a set of (key, value) pairs. A key's path is sha256(key): 64 nibbles, high nibble first.

- empty subtree: 32 zero bytes (`EMPTY_ROOT`);
- leaf: sha256(b"\\x00" + sha256(key) + sha256(value));
- internal node: sha256(b"\\x01" + its 16 child hashes concatenated).

A subtree that holds a single leaf is that leaf (compressed leaves): a leaf sits at the shallowest slot where
its path is unique, and no internal node has a lone leaf as its only child. The whole tree is the subtree at
the empty path, so a one-key tree's root is that key's leaf hash.

Storage under a prefix (default b"T"), keyed by path, so only the latest version exists and nothing needs
garbage collection:

- `prefix`: the root entry (a child entry as below, for the subtree at the empty path); absent when empty;
- `prefix + b"/" + the path's nibbles as hex digits`: the internal node there (the root node: `prefix + b"/"`).

A node record is a 2-byte big-endian bitmap of present children (bit s for slot s), then the entries of the
present children in slot order. A child entry is kind byte 0, the leaf hash, the key path and the value hash
(97 bytes) for a leaf, or kind byte 1 and the node hash (33 bytes) for an internal node: leaf entries carry
their key path so a walk needs no extra read. The tree keeps value hashes only; the runtime stores the values.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable
from hashlib import sha256
from operator import itemgetter

from dcrm.runtime.state.kv import KVReader
from dcrm.v1.types_pb2 import ProofStep, StateProof

__all__ = ["EMPTY_ROOT", "MAX_DEPTH", "CorruptTreeError", "SparseMerkleTree"]

EMPTY_ROOT = bytes(32)
MAX_DEPTH = 64  # nibbles in a key path

_ZERO = EMPTY_ROOT
_LEAF = 0  # kind bytes double as the hash domain bytes
_NODE = 1
_LEAF_LEN = 97
_NODE_LEN = 33
_LEAF_DOMAIN = b"\x00"
_NODE_DOMAIN = b"\x01"

# A node with 16 internal children (every node of the upper levels): its length and where its entries and
# child hashes lie, so decoding it is two C-level maps.
_FULL_LEN = 2 + 16 * _NODE_LEN
_FULL_ENTRIES = tuple(slice(2 + _NODE_LEN * slot, 2 + _NODE_LEN * (slot + 1)) for slot in range(16))
_FULL_HASHES = tuple(slice(3 + _NODE_LEN * slot, 2 + _NODE_LEN * (slot + 1)) for slot in range(16))

# Hex digits -> nibble values: a path's nibbles are one translate() of its hex form.
_HEX_TO_NIBBLES = bytes.maketrans(b"0123456789abcdef", bytes(range(16)))

# The entries of a node's 16 slots, None for an empty slot.
_Entries = list[bytes | None]


class CorruptTreeError(RuntimeError):
    """The stored nodes do not form a valid tree: a node is missing or malformed."""


# Bitmap -> its set slots, filled on first use (at most 65,536 small tuples; never affects results).
_SLOTS: dict[int, tuple[int, ...]] = {}


def _slots_of(bitmap: int) -> tuple[int, ...]:
    """The slots whose bit is set in `bitmap`, ascending."""
    slots = _SLOTS.get(bitmap)
    if slots is None:
        slots = _SLOTS[bitmap] = tuple(slot for slot in range(16) if bitmap >> slot & 1)
    return slots


def _decode(record: bytes, key: bytes) -> tuple[int, _Entries, list[bytes]]:
    """Split a node record into its bitmap, its 16 child entries and its 16 child hashes (zeros: empty)."""
    if len(record) == _FULL_LEN and record[0] == 0xFF and record[1] == 0xFF:
        get = record.__getitem__
        return 0xFFFF, list(map(get, _FULL_ENTRIES)), list(map(get, _FULL_HASHES))
    entries: _Entries = [None] * 16
    hashes = [_ZERO] * 16
    bitmap = 0
    pos = 2
    try:
        bitmap = record[0] << 8 | record[1]
        for slot in _slots_of(bitmap):
            # Literal lengths: this loop runs for most children of the lower levels.
            if record[pos]:
                end = pos + 33
                entries[slot] = record[pos:end]
                hashes[slot] = record[pos + 1 : end]
            else:
                end = pos + 97
                entries[slot] = record[pos:end]
                hashes[slot] = record[pos + 1 : pos + 33]
            pos = end
    except IndexError:
        pos = -1
    if pos != len(record) or not bitmap:
        raise CorruptTreeError(f"malformed node record at {key!r}")
    return bitmap, entries, hashes


def _check_root_entry(entry: bytes | None) -> bytes | None:
    if entry is not None and not (
        (entry[:1] == _LEAF_DOMAIN and len(entry) == _LEAF_LEN)
        or (entry[:1] == _NODE_DOMAIN and len(entry) == _NODE_LEN)
    ):
        raise CorruptTreeError(f"malformed root entry {entry!r}")
    return entry


def _leaf_entry(key_path: bytes, value_hash: bytes) -> bytes:
    return b"".join((_LEAF_DOMAIN, sha256(_LEAF_DOMAIN + key_path + value_hash).digest(), key_path, value_hash))


def _node_entry(hashes: list[bytes]) -> bytes:
    return _NODE_DOMAIN + sha256(_NODE_DOMAIN + b"".join(hashes)).digest()


def _nibbles(key_path: bytes) -> tuple[bytes, bytes]:
    """(hex digits, nibble values) of a key path, one byte per nibble."""
    hex_path = key_path.hex().encode()
    return hex_path, hex_path.translate(_HEX_TO_NIBBLES)


class SparseMerkleTree:
    """The tree stored in `reader` under `prefix`, read-only.

    `update` computes a new root and the node writes but writes nothing: the caller persists the writes (with
    the block, in one atomic batch), after which a view over the store sees the new tree.
    """

    def __init__(self, reader: KVReader, prefix: bytes = b"T") -> None:
        self._reader = reader
        self._prefix = prefix
        self._node_prefix = prefix + b"/"

    def root(self) -> bytes:
        """The 32-byte root hash; `EMPTY_ROOT` for an empty tree."""
        entry = _check_root_entry(self._reader.get(self._prefix))
        return EMPTY_ROOT if entry is None else entry[1:33]

    def update(self, changes: Iterable[tuple[bytes, bytes | None]]) -> tuple[bytes, dict[bytes, bytes | None]]:
        """Apply `changes` (state key, new value or None to delete; any order) and return the new root and the
        node writes to persist under the prefix (store key -> record, None to delete).

        One pass over the sorted key paths: a node shared by several changes is read and re-hashed once.
        Deleting an absent key changes nothing. Raises ValueError on a duplicate key, and CorruptTreeError when
        a stored node is missing or malformed.
        """
        items = sorted(
            ((sha256(key).digest(), None if value is None else sha256(value).digest()) for key, value in changes),
            key=itemgetter(0),  # paths only: a duplicate key must reach the check, not compare None with bytes
        )
        root_entry = _check_root_entry(self._reader.get(self._prefix))
        writes: dict[bytes, bytes | None] = {}
        if items:
            batch = _Batch(self._reader, self._node_prefix, items, writes)
            new_entry = batch.update_slot(0, root_entry, 0, len(items))
            if new_entry != root_entry:
                writes[self._prefix] = new_entry
            root_entry = new_entry
        return (EMPTY_ROOT if root_entry is None else root_entry[1:33]), writes

    def prove(self, key: bytes, value: bytes | None) -> StateProof:
        """An inclusion proof of (key, value), or a non-inclusion proof of `key` when `value` is None.

        `value` is the key's current state value. Raises ValueError when the tree disagrees (the key is absent,
        present though `value` is None, or holds another value), CorruptTreeError on a missing or bad node.
        """
        key_path = sha256(key).digest()
        hex_path, nibbles = _nibbles(key_path)
        steps: list[ProofStep] = []
        entry = _check_root_entry(self._reader.get(self._prefix))
        depth = 0
        while entry is not None and entry[0] == _NODE:
            node_key = self._node_prefix + hex_path[:depth]
            record = self._reader.get(node_key)
            if record is None or depth >= MAX_DEPTH:
                raise CorruptTreeError(f"missing or misplaced node at {node_key!r}")
            _bitmap, entries, siblings = _decode(record, node_key)
            slot = nibbles[depth]
            siblings[slot] = b""
            steps.append(ProofStep(slot=slot, siblings=siblings))
            entry = entries[slot]
            depth += 1
        proof = StateProof(key=key, steps=steps)
        if entry is not None and entry[33:65] == key_path:
            if value is None:
                raise ValueError(f"key {key!r} is in the tree but no value was given")
            if sha256(value).digest() != entry[65:97]:
                raise ValueError(f"the value given for key {key!r} is not the one in the tree")
            proof.value = value
            proof.exists = True
        elif value is not None:
            raise ValueError(f"key {key!r} is not in the tree")
        elif entry is not None:
            proof.leaf_key_hash = entry[33:65]
            proof.leaf_value_hash = entry[65:97]
        return proof


class _Batch:
    """One `update`: the sorted changes as parallel lists, and the writes made so far."""

    def __init__(
        self,
        reader: KVReader,
        node_prefix: bytes,
        items: list[tuple[bytes, bytes | None]],
        writes: dict[bytes, bytes | None],
    ) -> None:
        self.get = reader.get
        self.node_prefix = node_prefix
        self.writes = writes
        self.paths: list[bytes] = []
        self.hex_paths: list[bytes] = []  # for store keys: node_prefix + hex_path[:depth]
        self.nibbles: list[bytes] = []  # for slots: nibbles[depth]
        self.entries: list[bytes | None] = []  # each change's new leaf entry, None for a deletion
        previous = None
        for key_path, value_hash in items:
            if key_path == previous:
                raise ValueError(f"duplicate key in one update (key path {key_path.hex()})")
            previous = key_path
            hex_path, nibbles = _nibbles(key_path)
            self.paths.append(key_path)
            self.hex_paths.append(hex_path)
            self.nibbles.append(nibbles)
            self.entries.append(None if value_hash is None else _leaf_entry(key_path, value_hash))

    def update_slot(self, depth: int, entry: bytes | None, lo: int, hi: int) -> bytes | None:
        """The new entry of a slot at `depth` that holds `entry`, after changes [lo, hi) (all below it)."""
        if entry is not None and entry[0] == _NODE:
            return self.update_node(depth, entry, lo, hi)
        if hi - lo == 1:
            # The common cases: a write into an empty slot, or a change of the slot's own leaf.
            if entry is None or entry[33:65] == self.paths[lo]:
                return self.entries[lo]
            if self.entries[lo] is None:
                return entry  # deleting an absent key
        # A fresh subtree: the changed leaves, plus the old leaf unless a change replaces or deletes it.
        fresh = [(self.nibbles[i], self.hex_paths[i], self.entries[i]) for i in range(lo, hi)]
        if entry is not None:
            old_path = entry[33:65]
            found = bisect_left(self.paths, old_path, lo, hi)
            if found == hi or self.paths[found] != old_path:
                hex_path, nibbles = _nibbles(old_path)
                fresh.append((nibbles, hex_path, entry))
                fresh.sort()
        leaves = [(nibbles, hex_path, leaf) for nibbles, hex_path, leaf in fresh if leaf is not None]
        if len(leaves) <= 1:
            return leaves[0][2] if leaves else None
        return self.build(depth, leaves)

    def update_node(self, depth: int, entry: bytes, lo: int, hi: int) -> bytes | None:
        """The new entry of the internal node at `depth` (its current entry: `entry`) after changes [lo, hi)."""
        node_key = self.node_prefix + self.hex_paths[lo][:depth]
        record = self.get(node_key)
        if record is None or depth >= MAX_DEPTH:
            raise CorruptTreeError(f"missing or misplaced node at {node_key!r}")
        bitmap, entries, hashes = _decode(record, node_key)
        nibbles = self.nibbles
        child_depth = depth + 1
        start = lo
        while start < hi:
            slot = nibbles[start][depth]
            end = start + 1
            while end < hi and nibbles[end][depth] == slot:
                end += 1
            child = self.update_slot(child_depth, entries[slot], start, end)
            entries[slot] = child
            if child is None:
                hashes[slot] = _ZERO
                bitmap &= ~(1 << slot)
            else:
                hashes[slot] = child[1:33]
                bitmap |= 1 << slot
            start = end
        if bitmap & (bitmap - 1) == 0:  # at most one child left
            only = entries[bitmap.bit_length() - 1] if bitmap else None
            if only is None or only[0] == _LEAF:
                # Empty, or a lone leaf that moves up into the parent's slot: this node disappears.
                self.writes[node_key] = None
                return only
        new_record = bitmap.to_bytes(2, "big") + b"".join(filter(None, entries))
        if new_record == record:
            return entry  # only deletions of absent keys below: nothing to write or hash
        self.writes[node_key] = new_record
        return _node_entry(hashes)

    def build(self, depth: int, leaves: list[tuple[bytes, bytes, bytes]]) -> bytes:
        """Write a fresh internal node at `depth` over `leaves` (two or more, sorted); return its entry."""
        if depth >= MAX_DEPTH:
            raise CorruptTreeError("two leaves with one key path")
        entries: _Entries = [None] * 16
        hashes = [_ZERO] * 16
        bitmap = 0
        child_depth = depth + 1
        count = len(leaves)
        start = 0
        while start < count:
            slot = leaves[start][0][depth]
            end = start + 1
            while end < count and leaves[end][0][depth] == slot:
                end += 1
            child = leaves[start][2] if end - start == 1 else self.build(child_depth, leaves[start:end])
            entries[slot] = child
            hashes[slot] = child[1:33]
            bitmap |= 1 << slot
            start = end
        node_key = self.node_prefix + leaves[0][1][:depth]
        self.writes[node_key] = bitmap.to_bytes(2, "big") + b"".join(filter(None, entries))
        return _node_entry(hashes)
