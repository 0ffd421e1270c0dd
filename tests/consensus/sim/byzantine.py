"""Byzantine nodes: each runs the honest core (so it knows what to lie about) and corrupts what leaves it.

The Byzantine nodes of one run conspire: when one of them leads, it shows half of its peers another block
than the rest, and all of them vote for each block towards the half that saw it. When it leads a new view,
it builds the justification from the view changes that prepared least, to propose the block it likes best.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Iterable
from dataclasses import dataclass

from google.protobuf.message import DecodeError

from dcrm.node.consensus.pbft import Action, Broadcast, SendTo, SignatureRecoverer, Signer
from dcrm.node.consensus.pbft.messages import MessageSigner, VoteKind, encode
from dcrm.node.consensus.pbft.signing import VIEW_CHANGE_DOMAIN
from dcrm.v1 import consensus_pb2, types_pb2
from tests.consensus.sim.chain import INVALID_PAYLOAD, SimBlocks, block_hash, make_block
from tests.consensus.sim.nodes import SimNode
from tests.consensus.sim.scenario import Misbehaviour, Scenario

__all__ = ["ByzantineNode", "Conspiracy"]


@dataclass(frozen=True, slots=True)
class Split:
    """At one (height, view): `shown` saw the alternative proposal, everyone else the original one."""

    original_hash: bytes
    alternative: bytes  # the encoded alternative proposal
    alternative_hash: bytes
    shown: frozenset[int]


class Conspiracy:
    """What the Byzantine nodes of one run share."""

    def __init__(self, recoverer: SignatureRecoverer) -> None:
        self._recoverer = recoverer
        self.splits: dict[tuple[int, int], Split] = {}
        # (height, new view) -> signer -> view change, as seen by any conspirator
        self.view_changes: dict[tuple[int, int], dict[bytes, consensus_pb2.ViewChange]] = {}

    def overhear(self, message: consensus_pb2.ConsensusMessage) -> None:
        if not message.HasField("view_change"):
            return
        change = message.view_change
        signer = self._recoverer.recover(VIEW_CHANGE_DOMAIN + change.body, change.signature)
        if signer is None:
            return
        body = consensus_pb2.ViewChangeBody.FromString(change.body)
        self.view_changes.setdefault((body.height, body.new_view), {}).setdefault(signer, change)


class ByzantineNode(SimNode):
    def __init__(
        self,
        index: int,
        signer: Signer,
        accounts: list[bytes],
        scenario: Scenario,
        rng: random.Random,
        misbehaviour: Misbehaviour,
        conspiracy: Conspiracy,
    ) -> None:
        super().__init__(index, signer, accounts, scenario, rng)
        self.misbehaviour = misbehaviour
        self._conspiracy = conspiracy
        self._messages = MessageSigner(scenario.config.chain_id, signer)

    def payload(self, height: int, view: int) -> bytes:
        honest = super().payload(height, view)
        return INVALID_PAYLOAD + honest if self.rng.random() < 0.2 else honest

    def overhear(self, data: bytes) -> None:
        with contextlib.suppress(DecodeError):
            self._conspiracy.overhear(consensus_pb2.ConsensusMessage.FromString(data))

    def before_actions(self, actions: Iterable[Action]) -> None:
        """Plans the split before anything leaves: its own votes come before its proposal."""
        if not self.misbehaviour.equivocate:
            return
        for action in actions:
            if isinstance(action, Broadcast):
                message = consensus_pb2.ConsensusMessage.FromString(action.data)
                if message.HasField("proposal"):
                    self._plan_split(message.proposal)

    def outgoing(self, action: Broadcast | SendTo) -> list[tuple[int, bytes]]:
        sends = super().outgoing(action)
        rng = self.rng
        behaviour = self.misbehaviour
        if behaviour.silence and rng.random() < behaviour.silence:
            sends = []
        try:
            message = consensus_pb2.ConsensusMessage.FromString(action.data)
        except DecodeError:
            return sends
        if message.HasField("proposal"):
            sends = self._equivocate(message.proposal, sends)
        elif behaviour.conflicting_votes and message.HasField("vote"):
            sends = self._conflicting_votes(message.vote, sends)
        if behaviour.garbage and rng.random() < 0.3:
            sends.append((rng.randrange(len(self.accounts)), self._garbage(message)))
        return sends

    def serve_catch_up(self, from_height: int) -> bytes | None:
        answer = super().serve_catch_up(from_height)
        if answer is None or not self.misbehaviour.forged_catch_up:
            return answer
        message = consensus_pb2.ConsensusMessage.FromString(answer)
        first = message.certified_blocks.blocks[0]
        if self.rng.random() < 0.5:
            first.block = first.block + b"tampered"  # the certificate no longer matches the block
        else:
            del first.certificate.votes[1:]  # one vote is not a quorum
        return message.SerializeToString()

    # --- lies -------------------------------------------------------------------------------------------

    def _plan_split(self, proposal: consensus_pb2.Proposal) -> None:
        body = consensus_pb2.ProposalBody.FromString(proposal.body)
        key = (body.height, body.view)
        info = SimBlocks().inspect(proposal.block)
        if key in self._conspiracy.splits or info is None:
            return
        justification = list(proposal.justification)
        block: bytes | None = None
        if body.view > 0:
            justification, block = self._weakest_justification(body.height, body.view, len(justification))
        if block is None:
            payload = INVALID_PAYLOAD if self.rng.random() < 0.3 else b"equivocation:"
            block = make_block(body.height, info.parent_hash, payload + self.rng.randbytes(8))
        alternative_hash = block_hash(block)
        alternative = self._messages.proposal(body.height, body.view, alternative_hash, block, justification)
        peers = [peer for peer in range(len(self.accounts)) if peer != self.index]
        shown = frozenset(self.rng.sample(peers, len(peers) // 2))
        self._conspiracy.splits[key] = Split(body.block_hash, encode(alternative), alternative_hash, shown)

    def _weakest_justification(
        self, height: int, view: int, size: int
    ) -> tuple[list[consensus_pb2.ViewChange], bytes | None]:
        """The `size` view changes that prepared least, and the block they oblige (None: any block)."""
        known = self._conspiracy.view_changes.get((height, view), {})
        chosen = sorted(known.values(), key=lambda c: c.prepared.view if c.HasField("prepared") else -1)[:size]
        carried = [change for change in chosen if change.HasField("prepared")]
        if not carried:
            return chosen, None
        highest = max(carried, key=lambda change: change.prepared.view)
        return chosen, highest.prepared_block

    def _equivocate(self, proposal: consensus_pb2.Proposal, sends: list[tuple[int, bytes]]) -> list[tuple[int, bytes]]:
        body = consensus_pb2.ProposalBody.FromString(proposal.body)
        split = self._conspiracy.splits.get((body.height, body.view))
        if split is None or split.original_hash != body.block_hash:
            return sends
        return [(target, split.alternative if target in split.shown else data) for target, data in sends]

    def _conflicting_votes(self, vote: types_pb2.SignedVote, sends: list[tuple[int, bytes]]) -> list[tuple[int, bytes]]:
        body = types_pb2.VoteBody.FromString(vote.body)
        split = self._conspiracy.splits.get((body.height, body.view))
        result = []
        for target, data in sends:
            if split is not None:
                voted_hash = split.alternative_hash if target in split.shown else split.original_hash
            elif self.rng.random() < 0.5:
                voted_hash = self.rng.randbytes(32)
            else:
                result.append((target, data))
                continue
            forged = self._messages.vote(VoteKind(body.kind), body.height, body.view, voted_hash)
            result.append((target, encode(forged)))
        return result

    def _garbage(self, message: consensus_pb2.ConsensusMessage) -> bytes:
        rng = self.rng
        height = _height_of(message)
        match rng.randrange(6):
            case 0:
                return rng.randbytes(rng.randrange(1, 64))
            case 1:  # a well-formed vote with a signature that does not verify
                vote = self._messages.vote(VoteKind.PREPARE, height, 0, rng.randbytes(32))
                vote.signature = rng.randbytes(len(vote.signature))
                return encode(vote)
            case 2:  # a view change claiming a prepared block with a certificate of one repeated vote
                forged_hash = rng.randbytes(32)
                repeated = self._messages.vote(VoteKind.PREPARE, height, 0, forged_hash)
                certificate = consensus_pb2.PreparedCertificate(
                    view=0, block_hash=forged_hash, votes=[repeated, repeated, repeated]
                )
                return encode(self._messages.view_change(height, 1, certificate, b"not a block"))
            case 3:  # a vote from far ahead: lures honest nodes into asking it for catch-up
                return encode(self._messages.vote(VoteKind.COMMIT, height + 3, 0, rng.randbytes(32)))
            case 4:  # a valid view change into a later view: alone it must not move anyone
                return encode(self._messages.view_change(height, rng.randint(1, 5), None, b""))
            case _:  # a proposal from a node that does not lead
                block = make_block(height, rng.randbytes(32), b"usurper")
                return encode(self._messages.proposal(height, rng.randrange(3), block_hash(block), block))


def _height_of(message: consensus_pb2.ConsensusMessage) -> int:
    if message.HasField("vote"):
        return types_pb2.VoteBody.FromString(message.vote.body).height
    if message.HasField("proposal"):
        return consensus_pb2.ProposalBody.FromString(message.proposal.body).height
    if message.HasField("view_change"):
        return consensus_pb2.ViewChangeBody.FromString(message.view_change.body).height
    return 1
