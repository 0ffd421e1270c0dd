"""Everything the core knows about the height it is deciding. Dropped whole once that height commits."""

from __future__ import annotations

from dcrm.node.consensus.pbft.messages import VoteKind
from dcrm.node.consensus.pbft.tally import VoteTally
from dcrm.node.consensus.pbft.validators import ValidatorSet
from dcrm.node.consensus.pbft.view_changes import ViewChangePool
from dcrm.v1 import consensus_pb2, types_pb2

__all__ = ["HeightState"]


class HeightState:
    def __init__(self, height: int, validators: ValidatorSet) -> None:
        self.height = height
        self.validators = validators
        self.view = 0
        self.view_timer_started = False
        # view -> hash of the one proposal accepted in that view, and that proposal as it travelled
        self.accepted: dict[int, bytes] = {}
        self.proposal_data: dict[int, bytes] = {}
        self.blocks: dict[bytes, bytes] = {}  # hash -> block bytes, from proposals, view changes, catch-up
        self.validity: dict[bytes, bool] = {}  # the executor's verdicts
        self.validating: set[bytes] = set()  # verdicts asked for and not yet given
        self.prepares = VoteTally(validators.quorum)
        self.commits = VoteTally(validators.quorum)
        self.own_votes: dict[tuple[VoteKind, int], types_pb2.SignedVote] = {}
        self.own_view_changes: dict[int, consensus_pb2.ViewChange] = {}
        self.prepared: consensus_pb2.PreparedCertificate | None = None  # highest view, block known
        self.view_changes = ViewChangePool()
        self.proposing: set[int] = set()  # views this node leads and has proposed in, or asked to build for
        self.justifications: dict[int, list[consensus_pb2.ViewChange]] = {}  # waiting for a built block
        self.helped: set[tuple[bytes, int]] = set()  # (peer, view): lagging peers already sent our view
        self.deciding = False  # CommitBlock was emitted; waiting for BlockCommitted
        self.decided: consensus_pb2.CertifiedBlock | None = None
