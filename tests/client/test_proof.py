"""State proof verification in the SDK: valid proofs pass, every kind of tampering fails with ProofError."""

from __future__ import annotations

from collections.abc import Callable
from hashlib import sha256

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dcrm.client.proof import ProofError, state_key_path, verify_state_proof
from dcrm.runtime.state.kv import MemoryKV
from dcrm.runtime.state.smt import SparseMerkleTree
from dcrm.v1.types_pb2 import ProofStep, StateProof

STATE = {b"key-%d" % index: b"value-%d" % index for index in range(400)}


def _h(data: bytes) -> bytes:
    return sha256(data).digest()


@pytest.fixture(scope="module")
def tree() -> tuple[bytes, SparseMerkleTree]:
    store = MemoryKV()
    root, writes = SparseMerkleTree(store).update(STATE.items())
    store.write(writes)
    return root, SparseMerkleTree(store)


def _absent_proof(tree: SparseMerkleTree, *, at_leaf: bool) -> StateProof:
    """A non-inclusion proof whose walk ends at another leaf (at_leaf) or at an empty slot."""
    for index in range(1000):
        proof = tree.prove(b"absent-%d" % index, None)
        if bool(proof.leaf_key_hash) == at_leaf:
            return proof
    raise AssertionError("no such key found")


def _copy(proof: StateProof) -> StateProof:
    copy = StateProof()
    copy.CopyFrom(proof)
    return copy


def test_state_key_path_is_sha256() -> None:
    assert state_key_path(b"abc") == _h(b"abc")


def test_hand_built_proofs() -> None:
    """Golden vectors from the definition, independent of the runtime's tree."""
    leaf = _h(b"\x00" + _h(b"k") + _h(b"v"))
    verify_state_proof(leaf, StateProof(key=b"k", value=b"v", exists=True))
    verify_state_proof(bytes(32), StateProof(key=b"k"))
    slot = _h(b"k")[0] >> 4
    siblings = [bytes(32)] * 16
    siblings[slot] = b""
    siblings[(slot + 1) % 16] = b"\x07" * 32
    children = list(siblings)
    children[slot] = leaf
    root = _h(b"\x01" + b"".join(children))
    verify_state_proof(
        root, StateProof(key=b"k", value=b"v", exists=True, steps=[ProofStep(slot=slot, siblings=siblings)])
    )


def test_valid_proofs_verify(tree: tuple[bytes, SparseMerkleTree]) -> None:
    root, smt = tree
    verify_state_proof(root, smt.prove(b"key-7", b"value-7"), key=b"key-7")
    verify_state_proof(root, _absent_proof(smt, at_leaf=True))
    verify_state_proof(root, _absent_proof(smt, at_leaf=False))


def _set_value(proof: StateProof) -> None:
    proof.value = b"value-8"


def _flip_sibling(proof: StateProof) -> None:
    step = proof.steps[-1]
    index = 0 if step.slot else 1
    step.siblings[index] = bytes([step.siblings[index][0] ^ 1]) + step.siblings[index][1:]


def _move_slot(proof: StateProof) -> None:
    step = proof.steps[0]
    step.siblings[step.slot], step.siblings[(step.slot + 1) % 16] = step.siblings[(step.slot + 1) % 16], b""
    step.slot = (step.slot + 1) % 16


def _slot_out_of_range(proof: StateProof) -> None:
    proof.steps[0].slot = 16


def _drop_sibling(proof: StateProof) -> None:
    del proof.steps[0].siblings[15]


def _fill_followed_slot(proof: StateProof) -> None:
    proof.steps[0].siblings[proof.steps[0].slot] = bytes(32)


def _short_sibling(proof: StateProof) -> None:
    step = proof.steps[0]
    step.siblings[0 if step.slot else 1] = b"\x01" * 31


def _other_key(proof: StateProof) -> None:
    proof.key = b"key-8"


def _claim_absent(proof: StateProof) -> None:
    proof.exists = False
    proof.value = b""


def _add_terminal_leaf(proof: StateProof) -> None:
    proof.leaf_key_hash = bytes(32)
    proof.leaf_value_hash = bytes(32)


def _drop_step(proof: StateProof) -> None:
    del proof.steps[-1]


def _too_many_steps(proof: StateProof) -> None:
    proof.steps.extend([proof.steps[0]] * 64)


INCLUSION_TAMPERING: list[tuple[Callable[[StateProof], None], str]] = [
    (_set_value, "leads to root"),
    (_flip_sibling, "leads to root"),
    (_move_slot, "the key path has nibble"),
    (_slot_out_of_range, "out of range"),
    (_drop_sibling, "15 siblings, expected 16"),
    (_fill_followed_slot, "must be left empty"),
    (_short_sibling, "32 bytes"),
    (_other_key, "nibble|leads to root"),
    (_claim_absent, "leads to root"),
    (_add_terminal_leaf, "must not carry a terminal leaf"),
    (_drop_step, "leads to root"),
    (_too_many_steps, "steps"),
]


@pytest.mark.parametrize(("tamper", "message"), INCLUSION_TAMPERING, ids=[t.__name__ for t, _ in INCLUSION_TAMPERING])
def test_tampered_inclusion_proof_fails(
    tree: tuple[bytes, SparseMerkleTree], tamper: Callable[[StateProof], None], message: str
) -> None:
    root, smt = tree
    proof = _copy(smt.prove(b"key-7", b"value-7"))
    tamper(proof)
    with pytest.raises(ProofError, match=message):
        verify_state_proof(root, proof)


def test_wrong_root_or_key_fails(tree: tuple[bytes, SparseMerkleTree]) -> None:
    root, smt = tree
    proof = smt.prove(b"key-7", b"value-7")
    with pytest.raises(ProofError, match="leads to root"):
        verify_state_proof(bytes(32), proof)
    with pytest.raises(ProofError, match="32 bytes"):
        verify_state_proof(root[:31], proof)
    with pytest.raises(ProofError, match="not b'key-8'"):
        verify_state_proof(root, proof, key=b"key-8")


def test_tampered_non_inclusion_proofs_fail(tree: tuple[bytes, SparseMerkleTree]) -> None:
    root, smt = tree
    at_leaf = _absent_proof(smt, at_leaf=True)

    own_leaf = _copy(at_leaf)
    own_leaf.leaf_key_hash = state_key_path(own_leaf.key)
    with pytest.raises(ProofError, match="key's own leaf"):
        verify_state_proof(root, own_leaf)

    off_path = _copy(at_leaf)
    off_path.leaf_key_hash = bytes([at_leaf.leaf_key_hash[0] ^ 0xF0]) + at_leaf.leaf_key_hash[1:]
    with pytest.raises(ProofError, match="not on the key's path"):
        verify_state_proof(root, off_path)

    wrong_value_hash = _copy(at_leaf)
    wrong_value_hash.leaf_value_hash = bytes(32)
    with pytest.raises(ProofError, match="leads to root"):
        verify_state_proof(root, wrong_value_hash)

    with_value = _copy(at_leaf)
    with_value.value = b"x"
    with pytest.raises(ProofError, match="empty value"):
        verify_state_proof(root, with_value)

    short_hash = _copy(at_leaf)
    short_hash.leaf_value_hash = b"\x01"
    with pytest.raises(ProofError, match="32 bytes each"):
        verify_state_proof(root, short_hash)

    empty = _absent_proof(smt, at_leaf=False)
    stray = _copy(empty)
    stray.leaf_value_hash = bytes(32)
    with pytest.raises(ProofError, match="must not carry a leaf value hash"):
        verify_state_proof(root, stray)

    # An absent key's empty slot claimed for a present key: the walk must follow that key's own path.
    present = _copy(empty)
    present.key = b"key-7"
    with pytest.raises(ProofError, match=r"nibble|leads to root"):
        verify_state_proof(root, present)


@settings(max_examples=60, deadline=None)
@given(index=st.integers(0, 399), choice=st.data())
def test_any_flipped_sibling_byte_fails(
    tree: tuple[bytes, SparseMerkleTree], index: int, choice: st.DataObject
) -> None:
    root, smt = tree
    proof = _copy(smt.prove(b"key-%d" % index, b"value-%d" % index))
    depth = choice.draw(st.integers(0, len(proof.steps) - 1))
    step = proof.steps[depth]
    slot = choice.draw(st.integers(0, 15).filter(lambda slot: slot != step.slot))
    byte = choice.draw(st.integers(0, 31))
    sibling = bytearray(step.siblings[slot])
    sibling[byte] ^= choice.draw(st.integers(1, 255))
    step.siblings[slot] = bytes(sibling)
    with pytest.raises(ProofError, match="leads to root"):
        verify_state_proof(root, proof)
