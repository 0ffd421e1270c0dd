"""Verify state proofs against a state root, without the runtime.

A `StateProof` walks the 16-ary sparse Merkle tree of the state from the root down to the key's path, which is
sha256(key). Leaf hash: sha256(b"\\x00" + key path + sha256(value)); internal node hash: sha256(b"\\x01" + its 16
child hashes); an empty subtree: 32 zero bytes. The walk ends at the key's own leaf (inclusion), or, for an
absent key, at an empty slot or at another key's leaf.
"""

from __future__ import annotations

from hashlib import sha256

from dcrm.v1.types_pb2 import StateProof

__all__ = ["ProofError", "state_key_path", "verify_state_proof"]

_EMPTY = bytes(32)
_MAX_STEPS = 64  # nibbles in a key path


class ProofError(ValueError):
    """A state proof does not prove what it claims against the given root."""


def state_key_path(key: bytes) -> bytes:
    """The 32-byte path of a state key in the tree: sha256(key)."""
    return sha256(key).digest()


def _leaf_hash(key_path: bytes, value_hash: bytes) -> bytes:
    return sha256(b"\x00" + key_path + value_hash).digest()


def _node_hash(children: list[bytes]) -> bytes:
    return sha256(b"\x01" + b"".join(children)).digest()


def _nibble(path: bytes, depth: int) -> int:
    byte = path[depth >> 1]
    return byte & 0x0F if depth & 1 else byte >> 4


def verify_state_proof(state_root: bytes, proof: StateProof, *, key: bytes | None = None) -> None:
    """Check that `proof` proves `proof.key` holds `proof.value` (exists) or is absent, under `state_root`.

    Pass `key` to also check that the proof is about that key. Raises ProofError saying what is wrong.
    """
    if len(state_root) != 32:
        raise ProofError(f"state root must be 32 bytes, got {len(state_root)}")
    if key is not None and proof.key != key:
        raise ProofError(f"proof is for key {proof.key!r}, not {key!r}")
    path = state_key_path(proof.key)
    steps = proof.steps
    if len(steps) > _MAX_STEPS:
        raise ProofError(f"proof has {len(steps)} steps; a path has only {_MAX_STEPS} nibbles")

    if proof.exists:
        if proof.leaf_key_hash or proof.leaf_value_hash:
            raise ProofError("inclusion proof must not carry a terminal leaf")
        node = _leaf_hash(path, sha256(proof.value).digest())
    elif proof.value:
        raise ProofError("non-inclusion proof must have an empty value")
    elif not proof.leaf_key_hash:
        if proof.leaf_value_hash:
            raise ProofError("non-inclusion proof ending at an empty slot must not carry a leaf value hash")
        node = _EMPTY
    else:
        other = proof.leaf_key_hash
        if len(other) != 32 or len(proof.leaf_value_hash) != 32:
            raise ProofError("terminal leaf key hash and value hash must be 32 bytes each")
        if other == path:
            raise ProofError("non-inclusion proof ends at the key's own leaf: the key is present")
        if any(_nibble(other, depth) != _nibble(path, depth) for depth in range(len(steps))):
            raise ProofError("terminal leaf is not on the key's path")
        node = _leaf_hash(other, proof.leaf_value_hash)

    for depth in range(len(steps) - 1, -1, -1):
        step = steps[depth]
        expected = _nibble(path, depth)
        if step.slot > 15:
            raise ProofError(f"step {depth}: slot {step.slot} out of range 0-15")
        if step.slot != expected:
            raise ProofError(f"step {depth}: follows slot {step.slot} but the key path has nibble {expected}")
        children = list(step.siblings)
        if len(children) != 16:
            raise ProofError(f"step {depth}: {len(children)} siblings, expected 16")
        if children[expected]:
            raise ProofError(f"step {depth}: the followed slot {expected} must be left empty")
        if any(len(child) != 32 for slot, child in enumerate(children) if slot != expected):
            raise ProofError(f"step {depth}: every sibling hash must be 32 bytes")
        children[expected] = node
        node = _node_hash(children)

    if node != state_root:
        raise ProofError(f"proof leads to root {node.hex()}, not {state_root.hex()}")
