"""Building and checking the signed consensus messages. Pure: no state beyond the keys passed in.

Every check raises `Rejected` naming what was wrong; the core drops such a message and carries on.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass

from google.protobuf.message import DecodeError

from dcrm.node.consensus.pbft.signing import PROPOSAL_DOMAIN, VIEW_CHANGE_DOMAIN, SignatureRecoverer, Signer
from dcrm.node.consensus.pbft.validators import ValidatorSet
from dcrm.v1 import consensus_pb2, types_pb2

__all__ = [
    "MessageSigner",
    "MessageVerifier",
    "ProposalClaim",
    "Rejected",
    "ViewChangeClaim",
    "Vote",
    "VoteKind",
    "encode",
    "message_height",
]


class Rejected(Exception):
    """A message failed a check and is dropped."""


class VoteKind(enum.IntEnum):
    PREPARE = types_pb2.VoteBody.PREPARE
    COMMIT = types_pb2.VoteBody.COMMIT


@dataclass(frozen=True, slots=True)
class Vote:
    """A vote whose signature checked out."""

    voter: bytes
    kind: VoteKind
    height: int
    view: int
    block_hash: bytes
    signed: types_pb2.SignedVote


@dataclass(frozen=True, slots=True)
class ProposalClaim:
    proposer: bytes
    height: int
    view: int
    block_hash: bytes


@dataclass(frozen=True, slots=True)
class ViewChangeClaim:
    signer: bytes
    height: int
    new_view: int
    prepared: consensus_pb2.PreparedCertificate | None  # checked against the validator set


def encode(
    message: consensus_pb2.Proposal | types_pb2.SignedVote | consensus_pb2.ViewChange | consensus_pb2.CertifiedBlocks,
) -> bytes:
    """The serialized ConsensusMessage wrapping `message`."""
    if isinstance(message, consensus_pb2.Proposal):
        wrapper = consensus_pb2.ConsensusMessage(proposal=message)
    elif isinstance(message, types_pb2.SignedVote):
        wrapper = consensus_pb2.ConsensusMessage(vote=message)
    elif isinstance(message, consensus_pb2.ViewChange):
        wrapper = consensus_pb2.ConsensusMessage(view_change=message)
    else:
        wrapper = consensus_pb2.ConsensusMessage(certified_blocks=message)
    return wrapper.SerializeToString()


def message_height(message: consensus_pb2.ConsensusMessage) -> int | None:
    """The height a proposal, vote or view change is about, read without checking signatures."""
    try:
        match message.WhichOneof("message"):
            case "proposal":
                return consensus_pb2.ProposalBody.FromString(message.proposal.body).height
            case "vote":
                return types_pb2.VoteBody.FromString(message.vote.body).height
            case "view_change":
                return consensus_pb2.ViewChangeBody.FromString(message.view_change.body).height
            case _:
                return None
    except DecodeError:
        return None


class MessageSigner:
    """Signs this validator's votes, proposals and view changes for one chain."""

    def __init__(self, chain_id: str, signer: Signer) -> None:
        self._chain_id = chain_id
        self._signer = signer

    @property
    def account(self) -> bytes:
        return self._signer.account

    def vote(self, kind: VoteKind, height: int, view: int, block_hash: bytes) -> types_pb2.SignedVote:
        body = types_pb2.VoteBody(
            kind=kind.value, chain_id=self._chain_id, height=height, view=view, block_hash=block_hash
        ).SerializeToString()
        return types_pb2.SignedVote(body=body, signature=self._signer.sign(body))

    def proposal(
        self,
        height: int,
        view: int,
        block_hash: bytes,
        block: bytes,
        justification: Iterable[consensus_pb2.ViewChange] = (),
    ) -> consensus_pb2.Proposal:
        body = consensus_pb2.ProposalBody(
            chain_id=self._chain_id, height=height, view=view, block_hash=block_hash
        ).SerializeToString()
        proposal = consensus_pb2.Proposal(body=body, signature=self._signer.sign(PROPOSAL_DOMAIN + body), block=block)
        for view_change in justification:
            # The proposal carries the block itself: the prepared copies would only repeat it.
            carried = proposal.justification.add()
            carried.CopyFrom(view_change)
            carried.ClearField("prepared_block")
        return proposal

    def view_change(
        self,
        height: int,
        new_view: int,
        prepared: consensus_pb2.PreparedCertificate | None,
        prepared_block: bytes,
    ) -> consensus_pb2.ViewChange:
        body = consensus_pb2.ViewChangeBody(chain_id=self._chain_id, height=height, new_view=new_view)
        if prepared is not None:
            body.prepared_view = prepared.view
            body.prepared_hash = prepared.block_hash
        body_bytes = body.SerializeToString()
        message = consensus_pb2.ViewChange(
            body=body_bytes, signature=self._signer.sign(VIEW_CHANGE_DOMAIN + body_bytes)
        )
        if prepared is not None:
            message.prepared.CopyFrom(prepared)
            message.prepared_block = prepared_block
        return message


class MessageVerifier:
    """Checks signatures and certificates of one chain's consensus messages."""

    def __init__(self, chain_id: str, recoverer: SignatureRecoverer) -> None:
        self._chain_id = chain_id
        self._recoverer = recoverer

    def vote(self, signed: types_pb2.SignedVote) -> Vote:
        try:
            body = types_pb2.VoteBody.FromString(signed.body)
        except DecodeError:
            raise Rejected("vote body does not decode") from None
        if body.chain_id != self._chain_id:
            raise Rejected(f"vote for chain {body.chain_id!r}")
        if body.kind not in (types_pb2.VoteBody.PREPARE, types_pb2.VoteBody.COMMIT):
            raise Rejected(f"vote of unknown kind {body.kind}")
        voter = self._recoverer.recover(signed.body, signed.signature)
        if voter is None:
            raise Rejected("vote signature does not verify")
        return Vote(voter, VoteKind(body.kind), body.height, body.view, body.block_hash, signed)

    def proposal(self, proposal: consensus_pb2.Proposal) -> ProposalClaim:
        try:
            body = consensus_pb2.ProposalBody.FromString(proposal.body)
        except DecodeError:
            raise Rejected("proposal body does not decode") from None
        if body.chain_id != self._chain_id:
            raise Rejected(f"proposal for chain {body.chain_id!r}")
        proposer = self._recoverer.recover(PROPOSAL_DOMAIN + proposal.body, proposal.signature)
        if proposer is None:
            raise Rejected("proposal signature does not verify")
        return ProposalClaim(proposer, body.height, body.view, body.block_hash)

    def view_change(self, message: consensus_pb2.ViewChange, validators: ValidatorSet) -> ViewChangeClaim:
        """Checks the signature, that a validator signed, and the prepared certificate the body names."""
        try:
            body = consensus_pb2.ViewChangeBody.FromString(message.body)
        except DecodeError:
            raise Rejected("view change body does not decode") from None
        if body.chain_id != self._chain_id:
            raise Rejected(f"view change for chain {body.chain_id!r}")
        if body.new_view == 0:
            raise Rejected("view change to view 0")
        signer = self._recoverer.recover(VIEW_CHANGE_DOMAIN + message.body, message.signature)
        if signer is None:
            raise Rejected("view change signature does not verify")
        if signer not in validators:
            raise Rejected("view change from a non-validator")
        if not body.prepared_hash:
            return ViewChangeClaim(signer, body.height, body.new_view, None)
        if body.prepared_view >= body.new_view:
            raise Rejected("view change names a prepared view not below its new view")
        prepared = message.prepared
        if prepared.view != body.prepared_view or prepared.block_hash != body.prepared_hash:
            raise Rejected("view change certificate differs from its signed body")
        self.prepared_certificate(prepared, body.height, validators)
        return ViewChangeClaim(signer, body.height, body.new_view, prepared)

    def justification(
        self,
        view_changes: Iterable[consensus_pb2.ViewChange],
        height: int,
        view: int,
        validators: ValidatorSet,
    ) -> consensus_pb2.PreparedCertificate | None:
        """Checks a quorum of view changes into (height, view); returns the highest prepared certificate
        among them, which the proposal must carry forward, or None when none of them prepared anything."""
        signers: set[bytes] = set()
        highest: consensus_pb2.PreparedCertificate | None = None
        for message in view_changes:
            claim = self.view_change(message, validators)
            if claim.height != height or claim.new_view != view:
                raise Rejected("justification holds a view change for another height or view")
            if claim.signer in signers:
                raise Rejected("justification names a validator twice")
            signers.add(claim.signer)
            if claim.prepared is not None and (highest is None or claim.prepared.view > highest.view):
                highest = claim.prepared
        if len(signers) < validators.quorum:
            raise Rejected(f"justification has {len(signers)} view changes, {validators.quorum} needed")
        return highest

    def prepared_certificate(
        self, certificate: consensus_pb2.PreparedCertificate, height: int, validators: ValidatorSet
    ) -> None:
        self._check_quorum(
            certificate.votes, VoteKind.PREPARE, height, certificate.view, certificate.block_hash, validators
        )

    def commit_certificate(self, certificate: types_pb2.CommitCertificate, validators: ValidatorSet) -> None:
        """All votes must be COMMITs of one view: a quorum within one view is what the safety argument uses."""
        if not certificate.votes:
            raise Rejected("empty commit certificate")
        first = self.vote(certificate.votes[0])
        self._check_quorum(
            certificate.votes, VoteKind.COMMIT, certificate.height, first.view, certificate.block_hash, validators
        )

    def _check_quorum(
        self,
        votes: Iterable[types_pb2.SignedVote],
        kind: VoteKind,
        height: int,
        view: int,
        block_hash: bytes,
        validators: ValidatorSet,
    ) -> None:
        voters: set[bytes] = set()
        for signed in votes:
            vote = self.vote(signed)
            if (vote.kind, vote.height, vote.view, vote.block_hash) != (kind, height, view, block_hash):
                raise Rejected(f"certificate holds a vote that is not {kind.name} for its block and view")
            if vote.voter not in validators or vote.voter in voters:
                raise Rejected("certificate vote from a non-validator or a repeated validator")
            voters.add(vote.voter)
        if len(voters) < validators.quorum:
            raise Rejected(f"certificate has {len(voters)} votes, {validators.quorum} needed")
