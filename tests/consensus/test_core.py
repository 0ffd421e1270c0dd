"""The PBFT core driven by hand, one event at a time: what it signs, persists, sends and refuses."""

from __future__ import annotations

from typing import NamedTuple

from dcrm.node.consensus.pbft import (
    Action,
    BlockCommitted,
    BlockValidated,
    Broadcast,
    BuildProposal,
    CancelTimer,
    CommitBlock,
    MessageVerifier,
    PersistVote,
    ProposalBuilt,
    PruneVoteLog,
    RequestBlocks,
    ScheduleTable,
    SendTo,
    SetTimer,
    TimerFired,
    TimerKey,
    TimerKind,
    ValidateBlock,
    ValidatorSet,
    VoteKind,
)
from dcrm.v1 import consensus_pb2, types_pb2
from tests.consensus.harness import GENESIS, Committee, of_type

PREPARE, COMMIT = VoteKind.PREPARE, VoteKind.COMMIT


def sent(actions: list[Action]) -> list[consensus_pb2.ConsensusMessage]:
    return [consensus_pb2.ConsensusMessage.FromString(action.data) for action in of_type(actions, Broadcast)]


class SentVote(NamedTuple):
    kind: VoteKind
    view: int
    block_hash: bytes


def sent_votes(actions: list[Action]) -> list[SentVote]:
    bodies = [types_pb2.VoteBody.FromString(m.vote.body) for m in sent(actions) if m.HasField("vote")]
    return [SentVote(VoteKind(body.kind), body.view, body.block_hash) for body in bodies]


def persisted(actions: list[Action]) -> list[consensus_pb2.VoteLogEntry]:
    return [consensus_pb2.VoteLogEntry.FromString(action.entry) for action in of_type(actions, PersistVote)]


def assert_persisted_before_sent(actions: list[Action]) -> None:
    """Every signed vote or view change that is broadcast was persisted by an earlier action."""
    durable: set[bytes] = set()
    for action in actions:
        if isinstance(action, PersistVote):
            entry = consensus_pb2.VoteLogEntry.FromString(action.entry)
            durable.add(entry.vote.signature or entry.view_change.signature)
        elif isinstance(action, Broadcast | SendTo):
            message = consensus_pb2.ConsensusMessage.FromString(action.data)
            signature = message.vote.signature or message.view_change.signature
            assert not signature or signature in durable


def test_leader_builds_then_persists_its_prepare_before_anything_leaves() -> None:
    committee = Committee()
    leader = committee.leader(1, 0)
    core = committee.core(leader)
    started = core.start()
    assert of_type(started, BuildProposal) == [BuildProposal(1, 0, GENESIS.block_hash)]
    assert SetTimer(TimerKey(TimerKind.VIEW_TIMEOUT, 1, 0), 1000) in started
    block, hashed = committee.block()

    actions = core.handle(ProposalBuilt(1, 0, block))

    assert isinstance(actions[0], PersistVote)
    assert_persisted_before_sent(actions)
    messages = sent(actions)
    assert [m.WhichOneof("message") for m in messages] == ["vote", "proposal"]
    assert messages[1].proposal.block == block
    assert [(v.kind, v.view, v.block_hash) for v in sent_votes(actions)] == [(PREPARE, 0, hashed)]
    assert not of_type(actions, ValidateBlock)  # the driver executed what it built


def test_replica_prepares_commits_and_decides_with_a_quorum_certificate() -> None:
    committee = Committee()
    core = committee.core(0)
    core.start()
    block, hashed = committee.block()

    actions = core.handle(committee.proposal_message(1, 1, 0, block))
    assert of_type(actions, ValidateBlock) == [ValidateBlock(1, hashed, block)]
    assert not of_type(actions, PersistVote)  # nothing is signed before the executor's verdict

    actions = core.handle(BlockValidated(1, hashed, True))
    assert [(v.kind, v.block_hash) for v in sent_votes(actions)] == [(PREPARE, hashed)]
    assert_persisted_before_sent(actions)

    assert not core.handle(committee.vote_message(1, PREPARE, 1, 0, hashed))  # two of three
    actions = core.handle(committee.vote_message(2, PREPARE, 1, 0, hashed))
    assert [(v.kind, v.block_hash) for v in sent_votes(actions)] == [(COMMIT, hashed)]
    assert_persisted_before_sent(actions)
    (entry,) = persisted(actions)
    assert entry.prepared.block_hash == hashed
    assert len(entry.prepared.votes) == 3
    assert entry.prepared_block == block  # so a restart can carry the block into a later view

    assert not of_type(core.handle(committee.vote_message(1, COMMIT, 1, 0, hashed)), CommitBlock)
    actions = core.handle(committee.vote_message(3, COMMIT, 1, 0, hashed))
    (commit,) = of_type(actions, CommitBlock)
    assert (commit.height, commit.block_hash, commit.block) == (1, hashed, block)
    MessageVerifier(committee.config.chain_id, committee.keyring.recoverer).commit_certificate(
        commit.certificate, committee.validators
    )
    assert CancelTimer(TimerKey(TimerKind.VIEW_TIMEOUT, 1, 0)) in actions

    actions = core.handle(BlockCommitted(1, hashed))
    assert PruneVoteLog(1) in actions
    assert CancelTimer(TimerKey(TimerKind.RETRANSMIT, 1, 0)) in actions
    assert SetTimer(TimerKey(TimerKind.VIEW_TIMEOUT, 2, 0), 1000) in actions
    assert (core.height, core.head.block_hash) == (2, hashed)


def test_an_invalid_block_gets_no_vote() -> None:
    committee = Committee()
    core = committee.core(0)
    core.start()
    block, hashed = committee.block()
    core.handle(committee.proposal_message(1, 1, 0, block))
    actions = core.handle(BlockValidated(1, hashed, False))
    assert not of_type(actions, PersistVote)
    assert not sent_votes(actions)


def test_proposals_that_do_not_fit_are_refused() -> None:
    committee = Committee()
    core = committee.core(0)
    core.start()
    block, _ = committee.block()
    not_leader = committee.proposal_message(2, 1, 0, block)
    wrong_parent = committee.proposal_message(1, 1, 0, committee.block(parent=b"\x07" * 32)[0])
    wrong_height = committee.proposal_message(1, 1, 0, committee.block(height=2)[0])
    unjustified_view = committee.proposal_message(2, 1, 1, block)
    for message in (not_leader, wrong_parent, wrong_height, unjustified_view):
        assert not of_type(core.handle(message), ValidateBlock)
    assert core.view == 0


def test_the_first_proposal_of_a_view_is_the_only_one() -> None:
    """An equivocating leader gets at most one block validated and voted for per view."""
    committee = Committee()
    core = committee.core(0)
    core.start()
    first, first_hash = committee.block(payload=b"first")
    second, second_hash = committee.block(payload=b"second")
    core.handle(committee.proposal_message(1, 1, 0, first))
    assert not core.handle(committee.proposal_message(1, 1, 0, second))
    actions = core.handle(BlockValidated(1, first_hash, True)) + core.handle(BlockValidated(1, second_hash, True))
    assert [v.block_hash for v in sent_votes(actions)] == [first_hash]


def test_votes_that_do_not_count() -> None:
    committee = Committee(followers=1)
    core = committee.core(0)
    core.start()
    block, hashed = committee.block()
    core.handle(committee.proposal_message(1, 1, 0, block))
    core.handle(BlockValidated(1, hashed, True))
    forged = committee.vote(1, PREPARE, 1, 0, hashed)
    forged.signature = committee.vote(2, PREPARE, 1, 0, hashed).signature[:-1] + b"\x00"
    foreign_chain = committee.messages[2].vote(PREPARE, 1, 0, hashed)
    foreign_chain.body = types_pb2.VoteBody(
        kind=types_pb2.VoteBody.PREPARE, chain_id="other", height=1, view=0, block_hash=hashed
    ).SerializeToString()
    from_follower = committee.vote_message(4, PREPARE, 1, 0, hashed)
    repeated = committee.vote_message(1, PREPARE, 1, 0, hashed)
    for message in (
        committee.received(1, consensus_pb2.ConsensusMessage(vote=forged).SerializeToString()),
        committee.received(2, consensus_pb2.ConsensusMessage(vote=foreign_chain).SerializeToString()),
        from_follower,
        repeated,
        repeated,
        committee.received(3, b"\xff\x00garbage"),
    ):
        assert not sent_votes(core.handle(message))  # one real prepare besides ours: no quorum yet
    assert [v.kind for v in sent_votes(core.handle(committee.vote_message(3, PREPARE, 1, 0, hashed)))] == [COMMIT]


def test_view_timeouts_back_off_and_stop_at_the_cap() -> None:
    config = Committee().config
    assert [config.view_timeout_ms(view) for view in range(7)] == [1000, 2000, 4000, 8000, 8000, 8000, 8000]


def test_timeout_sends_a_persisted_view_change_and_waits_for_a_quorum_to_start_the_next_clock() -> None:
    committee = Committee()
    core = committee.core(0)
    core.start()
    actions = core.handle(TimerFired(TimerKey(TimerKind.VIEW_TIMEOUT, 1, 0)))
    assert core.view == 1
    assert_persisted_before_sent(actions)
    (entry,) = persisted(actions)
    assert consensus_pb2.ViewChangeBody.FromString(entry.view_change.body).new_view == 1
    view_1_timer = SetTimer(TimerKey(TimerKind.VIEW_TIMEOUT, 1, 1), 2000)
    assert view_1_timer not in actions  # alone in view 1: no clock, so it cannot run ahead of the others
    assert view_1_timer not in core.handle(committee.received(1, _encoded(committee.view_change(1, 1, 1))))
    assert view_1_timer in core.handle(committee.received(2, _encoded(committee.view_change(2, 1, 1))))


def test_a_view_change_names_no_prepared_view_it_has_not_reached() -> None:
    """Prepares from a view ahead may arrive early; a view change into view 1 cannot claim view 2."""
    committee = Committee()
    core = committee.core(0)
    core.start()
    block, hashed = committee.block()
    core.handle(committee.proposal_message(1, 1, 0, block))  # the block is known
    for voter in (1, 2, 3):
        core.handle(committee.vote_message(voter, PREPARE, 1, 2, hashed))
    (entry,) = persisted(core.handle(TimerFired(TimerKey(TimerKind.VIEW_TIMEOUT, 1, 0))))
    assert not entry.view_change.HasField("prepared")
    assert consensus_pb2.ViewChangeBody.FromString(entry.view_change.body).prepared_hash == b""


def test_f_plus_one_view_changes_pull_a_lagging_validator_along() -> None:
    committee = Committee()
    core = committee.core(0)
    core.start()
    assert core.view == 0
    core.handle(committee.received(1, _encoded(committee.view_change(1, 1, 3))))
    assert core.view == 0  # one validator may be faulty
    actions = core.handle(committee.received(2, _encoded(committee.view_change(2, 1, 2))))
    assert core.view == 2  # two ask for view 2 or later
    assert [consensus_pb2.ViewChangeBody.FromString(e.view_change.body).new_view for e in persisted(actions)] == [2]


def test_new_view_proposal_must_carry_the_highest_prepared_block() -> None:
    committee = Committee()
    core = committee.core(0)
    core.start()
    prepared_block, prepared_hash = committee.block(payload=b"prepared")
    other_block, _ = committee.block(payload=b"other")
    certificate = committee.prepared([1, 2, 3], 1, 0, prepared_hash)
    justification = [
        committee.view_change(1, 1, 1, certificate, prepared_block),
        committee.view_change(2, 1, 1),
        committee.view_change(3, 1, 1),
    ]
    leader = committee.leader(1, 1)
    replaced = core.handle(committee.proposal_message(leader, 1, 1, other_block, justification))
    assert not of_type(replaced, ValidateBlock)
    assert core.view == 0
    short = core.handle(committee.proposal_message(leader, 1, 1, prepared_block, justification[:2]))
    assert not of_type(short, ValidateBlock)
    carried = core.handle(committee.proposal_message(leader, 1, 1, prepared_block, justification))
    assert of_type(carried, ValidateBlock) == [ValidateBlock(1, prepared_hash, prepared_block)]
    assert core.view == 1  # a justified proposal moves a lagging validator into its view


def test_new_leader_proposes_the_prepared_block_again() -> None:
    committee = Committee()
    leader = committee.leader(1, 1)
    core = committee.core(leader)
    core.start()
    prepared_block, prepared_hash = committee.block(payload=b"prepared")
    certificate = committee.prepared([0, 1, 3], 1, 0, prepared_hash)
    others = [i for i in range(4) if i != leader]
    actions = core.handle(committee.received(others[0], _encoded(committee.view_change(others[0], 1, 1))))
    actions += core.handle(
        committee.received(others[1], _encoded(committee.view_change(others[1], 1, 1, certificate, prepared_block)))
    )
    assert core.view == 1
    proposals = [m.proposal for m in sent(actions) if m.HasField("proposal")]
    assert [proposal.block for proposal in proposals] == [prepared_block]
    assert len(proposals[0].justification) == committee.validators.quorum
    assert not of_type(actions, BuildProposal)


def test_restart_from_the_vote_log_never_signs_a_conflicting_vote() -> None:
    committee = Committee()
    core = committee.core(0)
    core.start()
    first, first_hash = committee.block(payload=b"first")
    second, second_hash = committee.block(payload=b"second")
    core.handle(committee.proposal_message(1, 1, 0, first))
    log = [action.entry for action in of_type(core.handle(BlockValidated(1, first_hash, True)), PersistVote)]

    restarted = committee.core(0, vote_log=log)
    started = restarted.start()
    assert not of_type(started, PersistVote)
    assert [v.block_hash for v in sent_votes(started)] == [first_hash]  # the same signed vote, sent again
    restarted.handle(committee.proposal_message(1, 1, 0, second))  # the leader equivocates after the restart
    actions = restarted.handle(BlockValidated(1, second_hash, True))
    assert not of_type(actions, PersistVote)
    assert not sent_votes(actions)
    # The first block comes round again; with its restored prepare and two more it is prepared and committed.
    assert not of_type(restarted.handle(committee.proposal_message(1, 1, 0, first)), ValidateBlock)
    restarted.handle(committee.vote_message(1, PREPARE, 1, 0, first_hash))
    actions = restarted.handle(committee.vote_message(2, PREPARE, 1, 0, first_hash))
    assert of_type(actions, ValidateBlock) == [ValidateBlock(1, first_hash, first)]
    actions = restarted.handle(BlockValidated(1, first_hash, True))
    assert [(v.kind, v.block_hash) for v in sent_votes(actions)] == [(COMMIT, first_hash)]


def test_restart_after_a_view_change_stays_in_the_new_view() -> None:
    committee = Committee()
    core = committee.core(0)
    core.start()
    log = [a.entry for a in of_type(core.handle(TimerFired(TimerKey(TimerKind.VIEW_TIMEOUT, 1, 0))), PersistVote)]
    restarted = committee.core(0, vote_log=log)
    started = restarted.start()
    assert restarted.view == 1
    assert [m.WhichOneof("message") for m in sent(started)] == ["view_change"]
    block, _ = committee.block()
    assert not of_type(restarted.handle(committee.proposal_message(1, 1, 0, block)), ValidateBlock)


def test_restart_after_committing_carries_the_prepared_certificate_forward() -> None:
    committee = Committee()
    core = committee.core(0)
    core.start()
    block, hashed = committee.block()
    core.handle(committee.proposal_message(1, 1, 0, block))
    log = [a.entry for a in of_type(core.handle(BlockValidated(1, hashed, True)), PersistVote)]
    core.handle(committee.vote_message(1, PREPARE, 1, 0, hashed))
    log += [a.entry for a in of_type(core.handle(committee.vote_message(2, PREPARE, 1, 0, hashed)), PersistVote)]

    restarted = committee.core(0, vote_log=log)
    restarted.start()
    actions = restarted.handle(TimerFired(TimerKey(TimerKind.VIEW_TIMEOUT, 1, 0)))
    (entry,) = persisted(actions)
    assert entry.view_change.prepared.block_hash == hashed
    assert entry.view_change.prepared_block == block


def test_catch_up_accepts_only_certificates_that_hold_for_the_height() -> None:
    committee = Committee()
    core = committee.core(0)
    core.start()
    block, hashed = committee.block()
    too_few = committee.certificate([1, 2], 1, 0, hashed)
    mixed_views = committee.certificate([1, 2], 1, 0, hashed)
    mixed_views.votes.append(committee.vote(3, COMMIT, 1, 1, hashed))
    tampered_block = block + b"!"
    good = committee.certificate([1, 2, 3], 1, 0, hashed)
    for forged in ((block, too_few), (block, mixed_views), (tampered_block, good)):
        assert not of_type(core.handle(committee.certified_blocks(1, forged)), CommitBlock)
    (commit,) = of_type(core.handle(committee.certified_blocks(1, (block, good))), CommitBlock)
    assert (commit.height, commit.block_hash) == (1, hashed)


def test_blocks_beyond_the_next_height_wait_their_turn_and_point_to_who_is_ahead() -> None:
    committee = Committee()
    core = committee.core(0)
    core.start()
    first, first_hash = committee.block(payload=b"one")
    second, second_hash = committee.block(height=2, payload=b"two", parent=first_hash)
    assert not core.handle(committee.certified_blocks(2, (second, committee.certificate([1, 2, 3], 2, 0, second_hash))))
    actions = core.handle(TimerFired(TimerKey(TimerKind.RETRANSMIT, 1, 0)))
    assert RequestBlocks(committee.accounts[2], 1) in actions
    core.handle(committee.certified_blocks(2, (first, committee.certificate([1, 2, 3], 1, 0, first_hash))))
    (commit,) = of_type(core.handle(BlockCommitted(1, first_hash)), CommitBlock)
    assert (commit.height, commit.block_hash) == (2, second_hash)


def test_a_node_ahead_hands_its_head_block_to_a_peer_still_deciding_it() -> None:
    committee = Committee()
    core = committee.core(0)
    core.start()
    block, hashed = committee.block()
    core.handle(committee.certified_blocks(1, (block, committee.certificate([1, 2, 3], 1, 0, hashed))))
    core.handle(BlockCommitted(1, hashed))
    stale = committee.vote_message(3, PREPARE, 1, 2, hashed)
    (offer,) = of_type(core.handle(stale), SendTo)
    assert offer.peer == committee.accounts[3]
    blocks = consensus_pb2.ConsensusMessage.FromString(offer.data).certified_blocks.blocks
    assert [b.certificate.block_hash for b in blocks] == [hashed]
    assert not of_type(core.handle(committee.vote_message(3, COMMIT, 1, 2, hashed)), SendTo)  # once per interval


def test_quorum_follows_the_validator_set_of_each_height() -> None:
    """A governance change effective at height 2 switches from 4 validators (quorum 3) to 7 (quorum 5)."""
    committee = Committee(size=4, followers=3)
    grown = ValidatorSet(committee.accounts[:7])
    schedule = ScheduleTable([(0, committee.validators), (2, grown)])
    core = committee.core(0, schedule=schedule)
    core.start()
    first, first_hash = committee.block()
    old_quorum = committee.certificate([1, 2, 3], 1, 0, first_hash)
    assert of_type(core.handle(committee.certified_blocks(1, (first, old_quorum))), CommitBlock)
    core.handle(BlockCommitted(1, first_hash))

    second, second_hash = committee.block(height=2, parent=first_hash)
    for voters in ([1, 2, 3], [1, 2, 3, 4]):  # a quorum of the old set, then 4 of 7
        certificate = committee.certificate(voters, 2, 0, second_hash)
        assert not of_type(core.handle(committee.certified_blocks(1, (second, certificate))), CommitBlock)
    certificate = committee.certificate([1, 2, 3, 4, 5], 2, 0, second_hash)
    assert of_type(core.handle(committee.certified_blocks(1, (second, certificate))), CommitBlock)


def test_a_follower_decides_without_signing() -> None:
    committee = Committee(followers=1)
    core = committee.core(4)
    core.start()
    block, hashed = committee.block()
    core.handle(committee.proposal_message(1, 1, 0, block))
    actions = core.handle(BlockValidated(1, hashed, True))
    for voter in (1, 2, 3):
        actions += core.handle(committee.vote_message(voter, PREPARE, 1, 0, hashed))
    for voter in (1, 2, 3):
        actions += core.handle(committee.vote_message(voter, COMMIT, 1, 0, hashed))
    assert not of_type(actions, PersistVote)
    assert [c.block_hash for c in of_type(actions, CommitBlock)] == [hashed]


def _encoded(view_change: consensus_pb2.ViewChange) -> bytes:
    return consensus_pb2.ConsensusMessage(view_change=view_change).SerializeToString()
