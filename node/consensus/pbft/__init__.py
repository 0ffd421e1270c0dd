"""PBFT consensus core without I/O: a driver feeds it events and carries out the actions it returns.

See docs/consensus.md for the protocol, the driver's obligations and the safety argument.
"""

from __future__ import annotations

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
from dcrm.node.consensus.pbft.blocks import BlockInfo, BlockInspector, HeaderBlockInspector
from dcrm.node.consensus.pbft.config import ConsensusConfig
from dcrm.node.consensus.pbft.core import ChainHead, PbftCore
from dcrm.node.consensus.pbft.events import (
    BlockCommitted,
    BlockValidated,
    Event,
    MessageReceived,
    ProposalBuilt,
    TimerFired,
)
from dcrm.node.consensus.pbft.messages import MessageVerifier, Rejected, VoteKind
from dcrm.node.consensus.pbft.signing import Secp256k1Recoverer, Secp256k1Signer, SignatureRecoverer, Signer
from dcrm.node.consensus.pbft.timers import TimerKey, TimerKind
from dcrm.node.consensus.pbft.validators import ScheduleTable, ValidatorSchedule, ValidatorSet, quorum_size
from dcrm.node.consensus.pbft.vote_log import entry_height

__all__ = [
    "Action",
    "BlockCommitted",
    "BlockInfo",
    "BlockInspector",
    "BlockValidated",
    "Broadcast",
    "BuildProposal",
    "CancelTimer",
    "ChainHead",
    "CommitBlock",
    "ConsensusConfig",
    "Event",
    "HeaderBlockInspector",
    "MessageReceived",
    "MessageVerifier",
    "PbftCore",
    "PersistVote",
    "ProposalBuilt",
    "PruneVoteLog",
    "Rejected",
    "RequestBlocks",
    "ScheduleTable",
    "Secp256k1Recoverer",
    "Secp256k1Signer",
    "SendTo",
    "SetTimer",
    "SignatureRecoverer",
    "Signer",
    "TimerFired",
    "TimerKey",
    "TimerKind",
    "ValidateBlock",
    "ValidatorSchedule",
    "ValidatorSet",
    "VoteKind",
    "entry_height",
    "quorum_size",
]
