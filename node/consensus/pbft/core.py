"""The PBFT consensus core: `handle(event) -> list[Action]`, with no sockets, clock, disk or randomness.

One block per height, final when committed. Per height: the leader of (height, view) proposes, validators
PREPARE the block they accepted and validated, COMMIT once a quorum prepared it, and a quorum of commits is
the block's certificate. A view that does not decide in time is abandoned through view changes, which carry
prepared certificates so that the next leader must propose again anything a quorum may have committed.
docs/consensus.md describes the protocol and argues its safety.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from google.protobuf.message import DecodeError

from dcrm.node.consensus.pbft.actions import (
    Action,
    Broadcast,
    BuildProposal,
    CancelTimer,
    CommitBlock,
    PersistVote,
    PruneVoteLog,
    RequestBlocks,
    SendTo,
    SetTimer,
    ValidateBlock,
)
from dcrm.node.consensus.pbft.blocks import BlockInspector
from dcrm.node.consensus.pbft.config import ConsensusConfig
from dcrm.node.consensus.pbft.events import (
    BlockCommitted,
    BlockValidated,
    Event,
    MessageReceived,
    ProposalBuilt,
    TimerFired,
)
from dcrm.node.consensus.pbft.height_state import HeightState
from dcrm.node.consensus.pbft.messages import (
    MessageSigner,
    MessageVerifier,
    Rejected,
    Vote,
    VoteKind,
    encode,
    message_height,
)
from dcrm.node.consensus.pbft.signing import RecoveryCache, SignatureRecoverer, Signer
from dcrm.node.consensus.pbft.timers import TimerKey, TimerKind
from dcrm.node.consensus.pbft.validators import ValidatorSchedule
from dcrm.node.consensus.pbft.vote_log import recover_votes, view_change_entry, vote_entry
from dcrm.v1 import consensus_pb2, types_pb2

__all__ = ["ChainHead", "PbftCore"]

# Votes further than this many views ahead are dropped: a faulty validator could sign endless views.
# They are only useful once this node reaches their view, and their senders repeat them until then.
MAX_VOTE_VIEW_LEAD = 16


@dataclass(frozen=True, slots=True)
class ChainHead:
    """The last committed block (height 0: genesis)."""

    height: int
    block_hash: bytes


class PbftCore:
    """One validator's (or follower's) consensus state machine. Not thread-safe: one driver feeds it."""

    def __init__(
        self,
        config: ConsensusConfig,
        *,
        signer: Signer,
        recoverer: SignatureRecoverer,
        schedule: ValidatorSchedule,
        inspector: BlockInspector,
        head: ChainHead,
        vote_log: Iterable[bytes] = (),
    ) -> None:
        """`head` and `vote_log` come from durable storage: a restarted node passes what it persisted."""
        self._config = config
        self._signer = MessageSigner(config.chain_id, signer)
        self._recovery = RecoveryCache(recoverer)
        self._verifier = MessageVerifier(config.chain_id, self._recovery)
        self._schedule = schedule
        self._inspector = inspector
        self._head = head
        self._state = HeightState(head.height + 1, schedule.validators_at(head.height + 1))
        self._out: list[Action] = []
        self._timers: dict[TimerKey, None] = {}
        self._future_messages: dict[bytes, bytes] = {}  # data -> peer, for the next height
        self._future_blocks: dict[int, tuple[bytes, consensus_pb2.CertifiedBlock]] = {}  # height -> (peer, block)
        self._ahead: dict[bytes, int] = {}  # peer -> highest height it sent a message for
        # The head block with its certificate, offered to peers still deciding it: once per peer and
        # retransmit interval, so a lost offer is made again but a flood of stale messages is not answered.
        self._head_block: consensus_pb2.CertifiedBlock | None = None
        self._offered: set[bytes] = set()
        self._catch_up_turn = 0
        self._restore(vote_log)

    @property
    def head(self) -> ChainHead:
        return self._head

    @property
    def height(self) -> int:
        """The height being decided: one above the head."""
        return self._state.height

    @property
    def view(self) -> int:
        return self._state.view

    def start(self) -> list[Action]:
        """The first actions: timers, a proposal if this node leads, and what it signed before a restart."""
        self._set_timer(TimerKind.RETRANSMIT, self._config.retransmit_ms)
        self._resend_own_messages()
        self._advance()
        return self._flush()

    def handle(self, event: Event) -> list[Action]:
        match event:
            case MessageReceived(peer, data):
                self._on_message(peer, data)
            case TimerFired(timer):
                self._on_timer(timer)
            case ProposalBuilt(height, view, block):
                self._on_proposal_built(height, view, block)
            case BlockValidated(height, block_hash, valid):
                self._on_block_validated(height, block_hash, valid)
            case BlockCommitted(height, block_hash):
                if height == self._state.height:
                    self._begin_height(ChainHead(height, block_hash))
        self._advance()
        return self._flush()

    # --- events ---------------------------------------------------------------------------------------

    def _on_message(self, peer: bytes, data: bytes) -> None:
        try:
            message = consensus_pb2.ConsensusMessage.FromString(data)
        except DecodeError:
            return
        if message.HasField("certified_blocks"):
            self._on_certified_blocks(peer, message.certified_blocks.blocks)
            return
        height = message_height(message)
        if height is None:
            return  # a catch-up request (the driver serves those) or nothing we know
        if height != self._state.height:
            self._on_other_height(peer, height, data)
            return
        try:
            match message.WhichOneof("message"):
                case "proposal":
                    self._on_proposal(message.proposal, data)
                case "vote":
                    self._on_vote(message.vote)
                case "view_change":
                    self._on_view_change(message.view_change)
        except Rejected:
            return

    def _on_other_height(self, peer: bytes, height: int, data: bytes) -> None:
        state = self._state
        if height < state.height:
            self._offer_head_block(peer)
            return
        self._note_ahead(peer, height)
        if height == state.height + 1 and len(self._future_messages) < self._config.future_message_limit:
            self._future_messages.setdefault(data, peer)

    def _on_proposal(self, proposal: consensus_pb2.Proposal, data: bytes) -> None:
        state = self._state
        claim = self._verifier.proposal(proposal)
        if claim.proposer != state.validators.leader(state.height, claim.view):
            raise Rejected("proposal from a validator that does not lead this view")
        info = self._inspector.inspect(proposal.block)
        if info is None or info.block_hash != claim.block_hash:
            raise Rejected("proposal block does not match its hash")
        if info.height != state.height or info.parent_hash != self._head.block_hash:
            raise Rejected("proposal block does not extend the committed head")
        if claim.view < state.view or claim.view in state.accepted or state.deciding:
            # Too late to vote, or the leader equivocating (the first proposal of a view is the one we
            # prepare). Keep the block all the same: a quorum may prepare or commit it.
            state.blocks.setdefault(info.block_hash, proposal.block)
            return
        if claim.view > 0:
            justified = self._verifier.justification(proposal.justification, state.height, claim.view, state.validators)
            carried = self._carried(justified)
            if carried is not None and carried.block_hash != claim.block_hash:
                raise Rejected("new-view proposal replaces a block that may have been committed")
        if claim.view > state.view:
            self._enter_view(claim.view, announce=False)
        state.accepted[claim.view] = info.block_hash
        state.proposal_data[claim.view] = data
        state.blocks[info.block_hash] = proposal.block
        self._request_validation(info.block_hash, proposal.block)

    def _on_vote(self, signed: types_pb2.SignedVote) -> None:
        state = self._state
        vote = self._verifier.vote(signed)
        if vote.voter not in state.validators:
            raise Rejected("vote from a non-validator")
        if vote.view > state.view + MAX_VOTE_VIEW_LEAD:
            raise Rejected("vote too far ahead")
        tally = state.prepares if vote.kind is VoteKind.PREPARE else state.commits
        tally.add(vote)

    def _on_view_change(self, message: consensus_pb2.ViewChange) -> None:
        state = self._state
        claim = self._verifier.view_change(message, state.validators)
        if claim.prepared is not None:
            info = self._inspector.inspect(message.prepared_block)
            if info is None or info.block_hash != claim.prepared.block_hash:
                raise Rejected("view change without its prepared block")
            if info.height != state.height or info.parent_hash != self._head.block_hash:
                raise Rejected("prepared block does not extend the committed head")
            state.blocks.setdefault(info.block_hash, message.prepared_block)
        if claim.new_view < state.view:
            self._help_lagging_peer(claim.signer)
            return
        state.view_changes.add(claim.signer, claim.new_view, message)
        # f + 1 validators asking for a later view include an honest one: follow them there.
        target = state.view_changes.view_supported_by(state.validators.max_faulty + 1, above=state.view)
        if target is not None:
            self._enter_view(target, announce=True)

    def _on_certified_blocks(self, peer: bytes, blocks: Iterable[consensus_pb2.CertifiedBlock]) -> None:
        state = self._state
        for certified in blocks:
            height = certified.certificate.height
            if height == state.height and not state.deciding:
                try:
                    self._accept_certified_block(certified)
                except Rejected:
                    return
            elif state.height < height <= state.height + self._config.future_block_limit:
                self._future_blocks.setdefault(height, (peer, certified))
                self._note_ahead(peer, height + 1)

    def _note_ahead(self, peer: bytes, height: int) -> None:
        """A message at height H means its sender committed H - 1: catch-up can fetch from it."""
        if height > self._ahead.get(peer, 0):
            self._ahead[peer] = height

    def _offer_head_block(self, peer: bytes) -> None:
        """A peer still works on a height we committed: hand it the proof."""
        if self._head_block is None or peer in self._offered:
            return
        self._offered.add(peer)
        self._out.append(SendTo(peer, encode(consensus_pb2.CertifiedBlocks(blocks=[self._head_block]))))

    def _on_timer(self, timer: TimerKey) -> None:
        self._timers.pop(timer, None)
        state = self._state
        if timer.height != state.height or timer.view != state.view:
            return
        if timer.kind is TimerKind.VIEW_TIMEOUT:
            self._enter_view(state.view + 1, announce=True)
        else:
            self._offered.clear()
            self._resend_own_messages()
            self._request_missing_blocks()
            self._set_timer(TimerKind.RETRANSMIT, self._config.retransmit_ms)

    def _on_proposal_built(self, height: int, view: int, block: bytes) -> None:
        state = self._state
        if (height, view) != (state.height, state.view) or view not in state.proposing or view in state.accepted:
            return
        info = self._inspector.inspect(block)
        if info is None or info.height != height or info.parent_hash != self._head.block_hash:
            return  # the driver built on a head the core has left behind
        state.validity[info.block_hash] = True  # the driver executed it while building it
        self._propose(view, info.block_hash, block, state.justifications.pop(view, []))

    def _on_block_validated(self, height: int, block_hash: bytes, valid: bool) -> None:
        state = self._state
        if height != state.height:
            return
        state.validating.discard(block_hash)
        state.validity[block_hash] = valid

    # --- progress: what the current state allows, checked after every event ---------------------------

    def _advance(self) -> None:
        self._lead()
        self._prepare()
        self._record_prepared()
        self._commit()
        self._decide()
        self._start_view_timer()

    def _lead(self) -> None:
        state = self._state
        view = state.view
        if state.deciding or view in state.proposing or not self._is_validator():
            return
        if state.validators.leader(state.height, view) != self._signer.account:
            return
        if (VoteKind.PREPARE, view) in state.own_votes:
            state.proposing.add(view)  # proposed before a restart: a second proposal would equivocate
            return
        if view == 0:
            state.proposing.add(view)
            self._out.append(BuildProposal(state.height, view, self._head.block_hash))
            return
        view_changes = state.view_changes.for_view(view)
        if len(view_changes) < state.validators.quorum:
            return
        justification = list(view_changes.values())[: state.validators.quorum]
        carried = self._carried(_highest_prepared(justification))
        if carried is None:
            state.proposing.add(view)
            state.justifications[view] = justification
            self._out.append(BuildProposal(state.height, view, self._head.block_hash))
        elif carried.block_hash in state.blocks:
            self._propose(view, carried.block_hash, state.blocks[carried.block_hash], justification)

    def _carried(self, highest: consensus_pb2.PreparedCertificate | None) -> consensus_pb2.PreparedCertificate | None:
        """The certificate whose block a new view must propose again: the highest in its justification."""
        return highest

    def _prepare(self) -> None:
        state = self._state
        block_hash = state.accepted.get(state.view)
        if block_hash is not None and state.validity.get(block_hash) and not state.deciding:
            self._vote(VoteKind.PREPARE, state.view, block_hash)

    def _record_prepared(self) -> None:
        state = self._state
        for view, block_hash in state.prepares.quorums:
            # Only views this node has reached: a view change must name a prepared view below its own.
            if view > state.view or block_hash not in state.blocks:
                continue
            if state.prepared is None or view > state.prepared.view:
                state.prepared = self._prepared_certificate(view, block_hash)

    def _commit(self) -> None:
        state = self._state
        if state.deciding or (VoteKind.COMMIT, state.view) in state.own_votes:
            return
        for view, block_hash in state.prepares.quorums:
            if view != state.view:
                continue
            if state.validity.get(block_hash):
                self._vote(VoteKind.COMMIT, view, block_hash)
                return
            if block_hash in state.blocks:
                self._request_validation(block_hash, state.blocks[block_hash])  # a quorum chose another block

    def _decide(self) -> None:
        state = self._state
        if state.deciding:
            return
        for view, block_hash in state.commits.quorums:
            block = state.blocks.get(block_hash)
            if block is not None:
                votes = state.commits.votes(view, block_hash)
                certificate = types_pb2.CommitCertificate(
                    height=state.height, block_hash=block_hash, votes=votes[: state.validators.quorum]
                )
                self._commit_block(block_hash, block, certificate)
                return

    def _start_view_timer(self) -> None:
        state = self._state
        if state.view_timer_started or state.deciding:
            return
        # View 0 starts with the height. A later view starts its clock only once a quorum has entered it
        # (or its proposal arrived): a node that timed out alone waits there instead of running ahead.
        view = state.view
        entered = (
            view == 0
            or view in state.accepted
            or (VoteKind.PREPARE, view) in state.own_votes
            or len(state.view_changes.for_view(view)) >= state.validators.quorum
        )
        if entered:
            state.view_timer_started = True
            self._set_timer(TimerKind.VIEW_TIMEOUT, self._config.view_timeout_ms(view))

    # --- steps ------------------------------------------------------------------------------------------

    def _vote(self, kind: VoteKind, view: int, block_hash: bytes) -> None:
        """Signs, persists, then sends one vote; never a second one for the same (kind, view)."""
        state = self._state
        if not self._is_validator() or (kind, view) in state.own_votes:
            return
        signed = self._signer.vote(kind, state.height, view, block_hash)
        state.own_votes[(kind, view)] = signed
        if kind is VoteKind.COMMIT:
            entry = vote_entry(signed, self._prepared_certificate(view, block_hash), state.blocks[block_hash])
        else:
            entry = vote_entry(signed)
        self._out.append(PersistVote(state.height, entry))
        self._out.append(Broadcast(encode(signed)))
        self._count_own_vote(signed, kind, view, block_hash)

    def _propose(
        self, view: int, block_hash: bytes, block: bytes, justification: list[consensus_pb2.ViewChange]
    ) -> None:
        state = self._state
        proposal = self._signer.proposal(state.height, view, block_hash, block, justification)
        data = encode(proposal)
        state.proposing.add(view)
        state.accepted[view] = block_hash
        state.proposal_data[view] = data
        state.blocks[block_hash] = block
        # Persist own PREPARE before the proposal leaves: a leader restarted after proposing must know it did.
        self._prepare()
        self._out.append(Broadcast(data))
        self._request_validation(block_hash, block)

    def _enter_view(self, view: int, *, announce: bool) -> None:
        """Leaves the current view for good; with `announce`, tells the others with a view change."""
        state = self._state
        if state.deciding or view <= state.view:
            return
        self._cancel_timers()
        state.view = view
        state.view_timer_started = False
        state.view_changes.discard_below(view)
        self._set_timer(TimerKind.RETRANSMIT, self._config.retransmit_ms)
        if announce and self._is_validator():
            self._send_view_change()

    def _send_view_change(self) -> None:
        state = self._state
        message = state.own_view_changes.get(state.view)
        if message is None:
            prepared = state.prepared
            block = state.blocks[prepared.block_hash] if prepared is not None else b""
            message = self._signer.view_change(state.height, state.view, prepared, block)
            state.own_view_changes[state.view] = message
            self._out.append(PersistVote(state.height, view_change_entry(message)))
            state.view_changes.add(self._signer.account, state.view, message)
        self._out.append(Broadcast(encode(message)))

    def _commit_block(self, block_hash: bytes, block: bytes, certificate: types_pb2.CommitCertificate) -> None:
        state = self._state
        state.deciding = True
        state.decided = consensus_pb2.CertifiedBlock(block=block, certificate=certificate)
        self._cancel_timer(TimerKind.VIEW_TIMEOUT)
        self._out.append(CommitBlock(state.height, block_hash, block, certificate))

    def _accept_certified_block(self, certified: consensus_pb2.CertifiedBlock) -> None:
        state = self._state
        info = self._inspector.inspect(certified.block)
        if info is None or info.block_hash != certified.certificate.block_hash:
            raise Rejected("certified block does not match its certificate")
        if info.height != state.height or info.parent_hash != self._head.block_hash:
            raise Rejected("certified block does not extend the committed head")
        self._verifier.commit_certificate(certified.certificate, state.validators)
        state.blocks[info.block_hash] = certified.block
        self._commit_block(info.block_hash, certified.block, certified.certificate)

    def _begin_height(self, head: ChainHead) -> None:
        """The head moved on: drop everything about the old height (its certificate is the checkpoint)."""
        self._cancel_timers()
        self._out.append(PruneVoteLog(head.height))
        self._head = head
        decided = self._state.decided
        self._head_block = decided if decided and decided.certificate.block_hash == head.block_hash else None
        height = head.height + 1
        self._state = HeightState(height, self._schedule.validators_at(height))
        self._recovery.clear()
        self._ahead = {peer: seen for peer, seen in self._ahead.items() if seen > height}
        self._set_timer(TimerKind.RETRANSMIT, self._config.retransmit_ms)
        early, self._future_messages = self._future_messages, {}
        for data, peer in early.items():
            self._on_message(peer, data)
        self._future_blocks = {at: waiting for at, waiting in self._future_blocks.items() if at >= height}
        waiting = self._future_blocks.pop(height, None)
        if waiting is not None:
            self._on_certified_blocks(waiting[0], [waiting[1]])

    def _request_validation(self, block_hash: bytes, block: bytes) -> None:
        state = self._state
        if block_hash in state.validity or block_hash in state.validating:
            return
        state.validating.add(block_hash)
        self._out.append(ValidateBlock(state.height, block_hash, block))

    def _resend_own_messages(self) -> None:
        """The transport may have lost them; repeating a signed message is never an equivocation."""
        state = self._state
        view = state.view
        if view in state.proposal_data and state.validators.leader(state.height, view) == self._signer.account:
            self._out.append(Broadcast(state.proposal_data[view]))
        view_change = state.own_view_changes.get(view)
        if view_change is not None and view not in state.accepted:
            self._out.append(Broadcast(encode(view_change)))
        prepare = state.own_votes.get((VoteKind.PREPARE, view))
        if prepare is not None:
            self._out.append(Broadcast(encode(prepare)))
        commits = [vote for (kind, _), vote in state.own_votes.items() if kind is VoteKind.COMMIT]
        if commits:
            self._out.append(Broadcast(encode(commits[-1])))

    def _request_missing_blocks(self) -> None:
        """Ask a peer that is ahead for the blocks we miss, or a committer for a block we know is final."""
        state = self._state
        if state.deciding:
            return
        peers = [peer for peer, seen in self._ahead.items() if seen > state.height]
        if not peers:
            for view, block_hash in state.commits.quorums:
                if block_hash not in state.blocks:
                    peers = [voter for voter in state.commits.voters(view, block_hash) if voter != self._signer.account]
                    break
        if peers:
            self._out.append(RequestBlocks(peers[self._catch_up_turn % len(peers)], state.height))
            self._catch_up_turn += 1

    def _help_lagging_peer(self, peer: bytes) -> None:
        """A validator still asks for a view we left: send it what moved us on, once per view."""
        state = self._state
        if (peer, state.view) in state.helped:
            return
        state.helped.add((peer, state.view))
        if state.view in state.proposal_data:
            self._out.append(SendTo(peer, state.proposal_data[state.view]))
        elif state.view in state.own_view_changes:
            self._out.append(SendTo(peer, encode(state.own_view_changes[state.view])))

    # --- restart ----------------------------------------------------------------------------------------

    def _restore(self, vote_log: Iterable[bytes]) -> None:
        """Takes back what this validator signed at the current height before it stopped."""
        state = self._state
        recovered = recover_votes(vote_log, state.height)
        state.view = recovered.view
        state.own_votes.update(recovered.votes)
        state.own_view_changes.update(recovered.view_changes)
        for view, message in recovered.view_changes.items():
            if view == state.view:
                state.view_changes.add(self._signer.account, view, message)
        if recovered.prepared is not None:
            state.prepared = recovered.prepared
            state.blocks[recovered.prepared.block_hash] = recovered.prepared_block
        for (kind, view), signed in recovered.votes.items():
            block_hash = types_pb2.VoteBody.FromString(signed.body).block_hash
            self._count_own_vote(signed, kind, view, block_hash)
            if kind is VoteKind.COMMIT and block_hash in state.blocks:
                state.validity[block_hash] = True  # a COMMIT is only signed for a block validated here

    # --- helpers ----------------------------------------------------------------------------------------

    def _count_own_vote(self, signed: types_pb2.SignedVote, kind: VoteKind, view: int, block_hash: bytes) -> None:
        state = self._state
        tally = state.prepares if kind is VoteKind.PREPARE else state.commits
        tally.add(Vote(self._signer.account, kind, state.height, view, block_hash, signed))

    def _prepared_certificate(self, view: int, block_hash: bytes) -> consensus_pb2.PreparedCertificate:
        state = self._state
        votes = state.prepares.votes(view, block_hash)[: state.validators.quorum]
        return consensus_pb2.PreparedCertificate(view=view, block_hash=block_hash, votes=votes)

    def _is_validator(self) -> bool:
        return self._signer.account in self._state.validators

    def _set_timer(self, kind: TimerKind, delay_ms: int) -> None:
        timer = TimerKey(kind, self._state.height, self._state.view)
        self._timers[timer] = None
        self._out.append(SetTimer(timer, delay_ms))

    def _cancel_timer(self, kind: TimerKind) -> None:
        timer = TimerKey(kind, self._state.height, self._state.view)
        if timer in self._timers:
            del self._timers[timer]
            self._out.append(CancelTimer(timer))

    def _cancel_timers(self) -> None:
        for timer in self._timers:
            self._out.append(CancelTimer(timer))
        self._timers.clear()

    def _flush(self) -> list[Action]:
        actions, self._out = self._out, []
        return actions


def _highest_prepared(
    view_changes: Iterable[consensus_pb2.ViewChange],
) -> consensus_pb2.PreparedCertificate | None:
    highest: consensus_pb2.PreparedCertificate | None = None
    for message in view_changes:
        if message.HasField("prepared") and (highest is None or message.prepared.view > highest.view):
            highest = message.prepared
    return highest
