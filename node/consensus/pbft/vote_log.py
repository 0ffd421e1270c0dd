"""The write-ahead log of what this validator signed, and what a restarted core rebuilds from it.

Every vote and view change is persisted before it is sent. A COMMIT entry also keeps the prepared
certificate and block it was based on: the safety argument needs a validator that committed to report that
certificate in every later view change, restarts included.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from google.protobuf.message import DecodeError

from dcrm.node.consensus.pbft.messages import VoteKind
from dcrm.v1 import consensus_pb2, types_pb2

__all__ = ["RecoveredVotes", "entry_height", "recover_votes", "view_change_entry", "vote_entry"]


def vote_entry(
    vote: types_pb2.SignedVote,
    prepared: consensus_pb2.PreparedCertificate | None = None,
    prepared_block: bytes = b"",
) -> bytes:
    entry = consensus_pb2.VoteLogEntry(vote=vote, prepared_block=prepared_block)
    if prepared is not None:
        entry.prepared.CopyFrom(prepared)
    return entry.SerializeToString()


def view_change_entry(view_change: consensus_pb2.ViewChange) -> bytes:
    return consensus_pb2.VoteLogEntry(view_change=view_change).SerializeToString()


def entry_height(entry: bytes) -> int:
    """The height an entry is about. Raises ValueError for bytes that are not an entry."""
    return _decode(entry)[1]


@dataclass
class RecoveredVotes:
    """What this validator signed at one height before it restarted."""

    votes: dict[tuple[VoteKind, int], types_pb2.SignedVote] = field(default_factory=dict)
    view_changes: dict[int, consensus_pb2.ViewChange] = field(default_factory=dict)
    prepared: consensus_pb2.PreparedCertificate | None = None
    prepared_block: bytes = b""
    view: int = 0  # the highest view it signed anything in: it never acts in a lower one again


def recover_votes(entries: Iterable[bytes], height: int) -> RecoveredVotes:
    """Rebuilds the record of `height` from the log; entries of other heights are skipped.

    Raises ValueError for an entry that does not decode: a damaged log must stop the node, not be ignored.
    """
    recovered = RecoveredVotes()
    for raw in entries:
        entry, entry_at = _decode(raw)
        if entry_at != height:
            continue
        if entry.HasField("view_change"):
            body = consensus_pb2.ViewChangeBody.FromString(entry.view_change.body)
            recovered.view_changes[body.new_view] = entry.view_change
            recovered.view = max(recovered.view, body.new_view)
            if entry.view_change.HasField("prepared"):
                _keep_highest(recovered, entry.view_change.prepared, entry.view_change.prepared_block)
        else:
            vote = types_pb2.VoteBody.FromString(entry.vote.body)
            recovered.votes[(VoteKind(vote.kind), vote.view)] = entry.vote
            recovered.view = max(recovered.view, vote.view)
            if entry.HasField("prepared"):
                _keep_highest(recovered, entry.prepared, entry.prepared_block)
    return recovered


def _keep_highest(recovered: RecoveredVotes, prepared: consensus_pb2.PreparedCertificate, block: bytes) -> None:
    if recovered.prepared is None or prepared.view > recovered.prepared.view:
        recovered.prepared = prepared
        recovered.prepared_block = block


def _decode(raw: bytes) -> tuple[consensus_pb2.VoteLogEntry, int]:
    try:
        entry = consensus_pb2.VoteLogEntry.FromString(raw)
        match entry.WhichOneof("entry"):
            case "vote":
                return entry, types_pb2.VoteBody.FromString(entry.vote.body).height
            case "view_change":
                return entry, consensus_pb2.ViewChangeBody.FromString(entry.view_change.body).height
    except DecodeError:
        pass
    raise ValueError("vote log entry does not decode")
