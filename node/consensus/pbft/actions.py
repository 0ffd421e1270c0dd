"""What the core asks the driver to do. The driver carries actions out in the order given."""

from __future__ import annotations

from dataclasses import dataclass

from dcrm.node.consensus.pbft.timers import TimerKey
from dcrm.v1 import types_pb2

__all__ = [
    "Action",
    "Broadcast",
    "BuildProposal",
    "CancelTimer",
    "CommitBlock",
    "PersistVote",
    "PruneVoteLog",
    "RequestBlocks",
    "SendTo",
    "SetTimer",
    "ValidateBlock",
]


@dataclass(frozen=True, slots=True)
class PersistVote:
    """Durably append a serialized VoteLogEntry before carrying out any later action: the entry names what
    this validator just signed, and the signed message follows in a later `Broadcast`."""

    height: int
    entry: bytes


@dataclass(frozen=True, slots=True)
class PruneVoteLog:
    """Entries at heights up to `through_height` can be dropped: those heights are committed."""

    through_height: int


@dataclass(frozen=True, slots=True)
class Broadcast:
    """Send a serialized ConsensusMessage to every peer (validators and followers)."""

    data: bytes


@dataclass(frozen=True, slots=True)
class SendTo:
    peer: bytes
    data: bytes


@dataclass(frozen=True, slots=True)
class SetTimer:
    """Fire `TimerFired(timer)` after `delay_ms`; a timer set again with the same key replaces the old one."""

    timer: TimerKey
    delay_ms: int


@dataclass(frozen=True, slots=True)
class CancelTimer:
    timer: TimerKey


@dataclass(frozen=True, slots=True)
class BuildProposal:
    """Assemble and execute a block at `height` on top of `parent_hash`; answer with `ProposalBuilt`."""

    height: int
    view: int
    parent_hash: bytes


@dataclass(frozen=True, slots=True)
class ValidateBlock:
    """Execute the block on top of the committed head and check it; answer with `BlockValidated`."""

    height: int
    block_hash: bytes
    block: bytes


@dataclass(frozen=True, slots=True)
class CommitBlock:
    """The block is final: import it with its certificate in one atomic write (executing it first if it was
    not validated here), then answer with `BlockCommitted`."""

    height: int
    block_hash: bytes
    block: bytes
    certificate: types_pb2.CommitCertificate


@dataclass(frozen=True, slots=True)
class RequestBlocks:
    """Ask `peer` for its committed blocks from `from_height` on (a CatchUpRequest). The answer arrives as a
    CertifiedBlocks message, which the core checks against the validator set of each height."""

    peer: bytes
    from_height: int


Action = (
    PersistVote
    | PruneVoteLog
    | Broadcast
    | SendTo
    | SetTimer
    | CancelTimer
    | BuildProposal
    | ValidateBlock
    | CommitBlock
    | RequestBlocks
)
