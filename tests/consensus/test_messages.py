"""Signed consensus messages: real secp256k1 signatures, domain separation, certificates, block headers."""

from __future__ import annotations

import hashlib

import coincurve
import pytest

from dcrm.node.consensus.pbft import (
    HeaderBlockInspector,
    MessageVerifier,
    Rejected,
    Secp256k1Recoverer,
    Secp256k1Signer,
    ValidatorSet,
    VoteKind,
)
from dcrm.node.consensus.pbft.messages import MessageSigner
from dcrm.node.consensus.pbft.signing import RecoveryCache, account_id
from dcrm.v1 import types_pb2
from tests.consensus.harness import CHAIN_ID, Committee

SECRETS = [hashlib.sha256(b"validator %d" % i).digest() for i in range(4)]


def test_secp256k1_signatures_name_their_signer() -> None:
    signer = Secp256k1Signer(SECRETS[0])
    signature = signer.sign(b"message")
    recoverer = Secp256k1Recoverer()
    assert len(signature) == 65
    assert recoverer.recover(b"message", signature) == signer.account
    assert recoverer.recover(b"other message", signature) != signer.account
    assert recoverer.recover(b"message", signature[:64]) is None
    assert recoverer.recover(b"message", b"\x00" * 65) is None


def test_vote_signature_is_over_the_exact_vote_body_bytes() -> None:
    """What clients check in a commit certificate: sha256 of VoteBody bytes, signed by the account's key."""
    signer = Secp256k1Signer(SECRETS[1])
    vote = MessageSigner(CHAIN_ID, signer).vote(VoteKind.COMMIT, 5, 2, b"\x01" * 32)
    public_key = coincurve.PublicKey.from_signature_and_message(vote.signature, vote.body)
    assert account_id(public_key.format(compressed=True)) == signer.account
    body = types_pb2.VoteBody.FromString(vote.body)
    assert (body.kind, body.chain_id, body.height, body.view) == (types_pb2.VoteBody.COMMIT, CHAIN_ID, 5, 2)


def test_a_proposal_signature_never_passes_for_a_vote() -> None:
    signers = [Secp256k1Signer(secret) for secret in SECRETS]
    validators = ValidatorSet(signer.account for signer in signers)
    proposal = MessageSigner(CHAIN_ID, signers[0]).proposal(1, 0, b"\x02" * 32, b"block")
    verifier = MessageVerifier(CHAIN_ID, Secp256k1Recoverer())
    assert verifier.proposal(proposal).proposer == signers[0].account
    # The signature covers the domain tag too: over the bare body it names some unknown key.
    assert Secp256k1Recoverer().recover(proposal.body, proposal.signature) not in validators
    with pytest.raises(Rejected):
        verifier.vote(types_pb2.SignedVote(body=proposal.body, signature=proposal.signature))


def test_view_change_must_match_the_certificate_it_carries() -> None:
    committee = Committee()
    verifier = MessageVerifier(CHAIN_ID, committee.keyring.recoverer)
    hashed = b"\x03" * 32
    certificate = committee.prepared([0, 1, 2], 1, 0, hashed)
    honest = committee.view_change(3, 1, 1, certificate, b"block")
    assert verifier.view_change(honest, committee.validators).prepared == certificate
    stripped = committee.view_change(3, 1, 1, certificate, b"block")
    stripped.ClearField("prepared")  # a leader dropping the certificate from an honest view change
    weak = committee.view_change(3, 1, 1, committee.prepared([0, 1], 1, 0, hashed), b"block")
    repeated = committee.view_change(3, 1, 1, committee.prepared([0, 0, 0], 1, 0, hashed), b"block")
    not_below = committee.view_change(3, 1, 1, committee.prepared([0, 1, 2], 1, 1, hashed), b"block")
    for forged in (stripped, weak, repeated, not_below):
        with pytest.raises(Rejected):
            verifier.view_change(forged, committee.validators)


def test_commit_certificate_needs_a_quorum_of_one_view() -> None:
    committee = Committee()
    verifier = MessageVerifier(CHAIN_ID, committee.keyring.recoverer)
    hashed = b"\x04" * 32
    verifier.commit_certificate(committee.certificate([0, 1, 2], 7, 3, hashed), committee.validators)
    repeated = committee.certificate([0, 1, 1, 1], 7, 3, hashed)
    wrong_height = committee.certificate([0, 1, 2], 8, 3, hashed)
    wrong_height.height = 7
    for forged in (committee.certificate([0, 1], 7, 3, hashed), repeated, wrong_height, types_pb2.CommitCertificate()):
        with pytest.raises(Rejected):
            verifier.commit_certificate(forged, committee.validators)


def test_recovery_cache_asks_once_per_signature() -> None:
    calls: list[bytes] = []

    class Counting:
        def recover(self, message: bytes, signature: bytes) -> bytes | None:
            calls.append(message)
            return b"signer"

    cache = RecoveryCache(Counting())
    assert cache.recover(b"m", b"s") == cache.recover(b"m", b"s") == b"signer"
    assert calls == [b"m"]
    cache.clear()
    cache.recover(b"m", b"s")
    assert calls == [b"m", b"m"]


def test_header_inspector_reads_dcrm_blocks() -> None:
    header = types_pb2.BlockHeader(chain_id="c", height=9, parent_hash=b"\x05" * 32).SerializeToString()
    block = types_pb2.Block(header=header).SerializeToString()
    info = HeaderBlockInspector("c").inspect(block)
    assert info is not None
    assert (info.height, info.parent_hash, info.block_hash) == (9, b"\x05" * 32, hashlib.sha256(header).digest())
    assert HeaderBlockInspector("other chain").inspect(block) is None
    assert HeaderBlockInspector("c").inspect(b"\xff\xff not protobuf") is None
