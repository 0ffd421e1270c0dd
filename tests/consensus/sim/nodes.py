"""The simulator's driver of one node: what survives a crash (vote log, chain) and what does not (the core)."""

from __future__ import annotations

import random
from collections.abc import Iterable

from dcrm.node.consensus.pbft import (
    Action,
    BlockInspector,
    Broadcast,
    ChainHead,
    ConsensusConfig,
    PbftCore,
    SendTo,
    SignatureRecoverer,
    Signer,
    ValidatorSchedule,
    entry_height,
)
from dcrm.v1 import consensus_pb2
from tests.consensus.sim.chain import GENESIS_HASH
from tests.consensus.sim.scenario import Scenario

__all__ = ["SimNode"]

CATCH_UP_BATCH = 16


class SimNode:
    def __init__(
        self,
        index: int,
        signer: Signer,
        accounts: list[bytes],
        scenario: Scenario,
        rng: random.Random,
    ) -> None:
        self.index = index
        self.signer = signer
        self.accounts = accounts
        self.scenario = scenario
        self.rng = rng
        # durable
        self.vote_log: list[bytes] = []
        self.durable_signatures: set[bytes] = set()
        self.chain: list[consensus_pb2.CertifiedBlock] = []  # chain[h - 1] is height h
        # volatile
        self.core: PbftCore | None = None
        self.incarnation = 0
        self.timers: dict[object, int] = {}
        self.crash_pending = False

    @property
    def alive(self) -> bool:
        return self.core is not None

    @property
    def head(self) -> ChainHead:
        if not self.chain:
            return ChainHead(0, GENESIS_HASH)
        return ChainHead(len(self.chain), self.chain[-1].certificate.block_hash)

    def boot(
        self,
        config: ConsensusConfig,
        recoverer: SignatureRecoverer,
        schedule: ValidatorSchedule,
        inspector: BlockInspector,
    ) -> PbftCore:
        self.core = self.scenario.core_factory(
            config,
            signer=self.signer,
            recoverer=recoverer,
            schedule=schedule,
            inspector=inspector,
            head=self.head,
            vote_log=list(self.vote_log),
        )
        return self.core

    def crash(self) -> None:
        self.core = None
        self.incarnation += 1
        self.timers.clear()
        self.crash_pending = False

    def prune_vote_log(self, through_height: int) -> None:
        self.vote_log = [entry for entry in self.vote_log if entry_height(entry) > through_height]

    def payload(self, height: int, view: int) -> bytes:
        """What this node puts in a block it leads."""
        return b"h%dv%dn%d:" % (height, view, self.index) + self.rng.randbytes(8)

    def overhear(self, data: bytes) -> None:
        """Sees every message delivered to this node (the Byzantine ones take notes)."""

    def before_actions(self, actions: Iterable[Action]) -> None:
        """Sees a batch of actions before they are carried out (the Byzantine ones plan their lies)."""

    def outgoing(self, action: Broadcast | SendTo) -> list[tuple[int, bytes]]:
        """(target, data) pairs that carry out a send action."""
        if isinstance(action, SendTo):
            return [(self.accounts.index(action.peer), action.data)]
        return [(target, action.data) for target in range(len(self.accounts)) if target != self.index]

    def serve_catch_up(self, from_height: int) -> bytes | None:
        """Answer to a CatchUpRequest, read from the durable chain; None when there is nothing newer."""
        blocks = self.chain[from_height - 1 : from_height - 1 + CATCH_UP_BATCH] if from_height >= 1 else []
        if not blocks:
            return None
        answer = consensus_pb2.ConsensusMessage()
        answer.certified_blocks.blocks.extend(blocks)
        return answer.SerializeToString()
