"""Counting votes of one kind at one height."""

from __future__ import annotations

from dcrm.node.consensus.pbft.messages import Vote
from dcrm.v1 import types_pb2

__all__ = ["VoteTally"]


class VoteTally:
    """One vote per voter and view counts (the first); votes are grouped by (view, block hash)."""

    def __init__(self, quorum: int) -> None:
        self._quorum = quorum
        self._choice: dict[tuple[bytes, int], bytes] = {}
        self._groups: dict[tuple[int, bytes], dict[bytes, types_pb2.SignedVote]] = {}
        # Groups that reached a quorum, in the order they did: what the core acts on.
        self.quorums: dict[tuple[int, bytes], None] = {}

    def add(self, vote: Vote) -> bool:
        """Counts the vote; False when its voter already voted in that view (a repeat or an equivocation)."""
        key = (vote.voter, vote.view)
        if key in self._choice:
            return False
        self._choice[key] = vote.block_hash
        group = self._groups.setdefault((vote.view, vote.block_hash), {})
        group[vote.voter] = vote.signed
        if len(group) == self._quorum:
            self.quorums[(vote.view, vote.block_hash)] = None
        return True

    def votes(self, view: int, block_hash: bytes) -> list[types_pb2.SignedVote]:
        return list(self._groups.get((view, block_hash), {}).values())

    def voters(self, view: int, block_hash: bytes) -> list[bytes]:
        return list(self._groups.get((view, block_hash), {}))
