"""The per-height pools of the core: vote tallies and view changes, and their bounds."""

from __future__ import annotations

from dcrm.node.consensus.pbft import VoteKind
from dcrm.node.consensus.pbft.messages import Vote
from dcrm.node.consensus.pbft.tally import VoteTally
from dcrm.node.consensus.pbft.view_changes import ViewChangePool
from dcrm.v1 import consensus_pb2, types_pb2

A, B = b"\xaa" * 32, b"\xbb" * 32


def vote(voter: int, view: int, block_hash: bytes) -> Vote:
    return Vote(bytes([voter]) * 20, VoteKind.PREPARE, 1, view, block_hash, types_pb2.SignedVote(body=bytes([voter])))


def test_tally_counts_one_vote_per_voter_and_view_and_notes_quorums_in_order() -> None:
    tally = VoteTally(quorum=3)
    assert tally.add(vote(1, 0, A))
    assert not tally.add(vote(1, 0, B))  # an equivocation: the first vote stands
    assert tally.add(vote(1, 1, B))  # another view is another slot
    tally.add(vote(2, 0, A))
    assert not tally.quorums
    tally.add(vote(3, 0, A))
    tally.add(vote(2, 1, B))
    tally.add(vote(3, 1, B))
    assert list(tally.quorums) == [(0, A), (1, B)]
    assert tally.voters(0, A) == [bytes([i]) * 20 for i in (1, 2, 3)]
    assert len(tally.votes(1, B)) == 3


def test_view_change_pool_keeps_a_few_views_per_signer() -> None:
    pool = ViewChangePool()
    signer = b"\x01" * 20
    for view in (1, 2, 3, 4, 5):
        assert pool.add(signer, view, consensus_pb2.ViewChange(body=bytes([view])))
    assert not pool.for_view(1)  # pushed out by the four later ones
    assert not pool.add(signer, 1, consensus_pb2.ViewChange())  # too old to keep
    assert not pool.add(signer, 5, consensus_pb2.ViewChange())  # a repeat
    assert list(pool.for_view(5)) == [signer]
    pool.discard_below(5)
    assert [pool.for_view(view) for view in (2, 3, 4)] == [{}, {}, {}]
    assert pool.add(signer, 6, consensus_pb2.ViewChange())


def test_view_supported_by_names_the_highest_view_enough_signers_reached() -> None:
    pool = ViewChangePool()
    for signer, view in ((1, 3), (2, 7), (3, 5)):
        pool.add(bytes([signer]) * 20, view, consensus_pb2.ViewChange())
    assert pool.view_supported_by(1, above=0) == 7
    assert pool.view_supported_by(2, above=0) == 5
    assert pool.view_supported_by(3, above=0) == 3
    assert pool.view_supported_by(2, above=5) is None
