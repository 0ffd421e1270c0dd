"""What the driver tells the core: a message arrived, a timer fired, or a requested job finished."""

from __future__ import annotations

from dataclasses import dataclass

from dcrm.node.consensus.pbft.timers import TimerKey

__all__ = ["BlockCommitted", "BlockValidated", "Event", "MessageReceived", "ProposalBuilt", "TimerFired"]


@dataclass(frozen=True, slots=True)
class MessageReceived:
    """A serialized ConsensusMessage from `peer` (the sending validator's account id, as the transport
    authenticated it). Anything may arrive: the core checks every byte."""

    peer: bytes
    data: bytes


@dataclass(frozen=True, slots=True)
class TimerFired:
    timer: TimerKey


@dataclass(frozen=True, slots=True)
class ProposalBuilt:
    """Answer to `BuildProposal`: a block the driver assembled and executed on top of the committed head."""

    height: int
    view: int
    block: bytes


@dataclass(frozen=True, slots=True)
class BlockValidated:
    """Answer to `ValidateBlock`: whether executing the block on top of the committed head succeeded and
    matched everything its header claims."""

    height: int
    block_hash: bytes
    valid: bool


@dataclass(frozen=True, slots=True)
class BlockCommitted:
    """The block is durably imported (after `CommitBlock`, or by the node itself): the core moves on."""

    height: int
    block_hash: bytes


Event = MessageReceived | TimerFired | ProposalBuilt | BlockValidated | BlockCommitted
