"""A committee of validators for unit tests of the core: their keys, blocks, and messages they sign."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TypeVar

from dcrm.node.consensus.pbft import (
    Action,
    ChainHead,
    ConsensusConfig,
    MessageReceived,
    PbftCore,
    ScheduleTable,
    ValidatorSet,
)
from dcrm.node.consensus.pbft.messages import MessageSigner, VoteKind, encode
from dcrm.v1 import consensus_pb2, types_pb2
from tests.consensus.sim.chain import GENESIS_HASH, SimBlocks, block_hash, make_block
from tests.consensus.sim.keys import Keyring

__all__ = ["CHAIN_ID", "GENESIS", "Committee", "of_type"]

CHAIN_ID = "dcrm-test"
GENESIS = ChainHead(0, GENESIS_HASH)


T = TypeVar("T")


def of_type(actions: Iterable[Action], kind: type[T]) -> list[T]:
    return [action for action in actions if isinstance(action, kind)]


class Committee:
    """`size` validators (plus `followers` non-voting nodes), with a fast fake signer unless told."""

    def __init__(self, size: int = 4, *, followers: int = 0, real_crypto: bool = False) -> None:
        self.keyring = Keyring(size + followers, real_crypto=real_crypto)
        self.accounts = self.keyring.accounts
        self.validators = ValidatorSet(self.accounts[:size])
        self.schedule = ScheduleTable.constant(self.validators)
        self.config = ConsensusConfig(CHAIN_ID)
        self.inspector = SimBlocks()
        self.messages = [MessageSigner(CHAIN_ID, signer) for signer in self.keyring.signers]

    def core(
        self,
        index: int,
        *,
        head: ChainHead = GENESIS,
        vote_log: Sequence[bytes] = (),
        schedule: ScheduleTable | None = None,
    ) -> PbftCore:
        return PbftCore(
            self.config,
            signer=self.keyring.signers[index],
            recoverer=self.keyring.recoverer,
            schedule=schedule or self.schedule,
            inspector=self.inspector,
            head=head,
            vote_log=vote_log,
        )

    def leader(self, height: int, view: int) -> int:
        return self.accounts.index(self.validators.leader(height, view))

    def block(self, height: int = 1, payload: bytes = b"block", parent: bytes = GENESIS_HASH) -> tuple[bytes, bytes]:
        """(block, its hash)."""
        block = make_block(height, parent, payload)
        return block, block_hash(block)

    def received(self, sender: int, data: bytes) -> MessageReceived:
        return MessageReceived(self.accounts[sender], data)

    def vote(self, voter: int, kind: VoteKind, height: int, view: int, hashed: bytes) -> types_pb2.SignedVote:
        return self.messages[voter].vote(kind, height, view, hashed)

    def vote_message(self, voter: int, kind: VoteKind, height: int, view: int, hashed: bytes) -> MessageReceived:
        return self.received(voter, encode(self.vote(voter, kind, height, view, hashed)))

    def proposal_message(
        self,
        proposer: int,
        height: int,
        view: int,
        block: bytes,
        justification: Iterable[consensus_pb2.ViewChange] = (),
    ) -> MessageReceived:
        proposal = self.messages[proposer].proposal(height, view, block_hash(block), block, justification)
        return self.received(proposer, encode(proposal))

    def prepared(
        self, voters: Iterable[int], height: int, view: int, hashed: bytes
    ) -> consensus_pb2.PreparedCertificate:
        votes = [self.vote(voter, VoteKind.PREPARE, height, view, hashed) for voter in voters]
        return consensus_pb2.PreparedCertificate(view=view, block_hash=hashed, votes=votes)

    def view_change(
        self,
        signer: int,
        height: int,
        new_view: int,
        prepared: consensus_pb2.PreparedCertificate | None = None,
        block: bytes = b"",
    ) -> consensus_pb2.ViewChange:
        return self.messages[signer].view_change(height, new_view, prepared, block)

    def certificate(self, voters: Iterable[int], height: int, view: int, hashed: bytes) -> types_pb2.CommitCertificate:
        votes = [self.vote(voter, VoteKind.COMMIT, height, view, hashed) for voter in voters]
        return types_pb2.CommitCertificate(height=height, block_hash=hashed, votes=votes)

    def certified_blocks(self, sender: int, *blocks: tuple[bytes, types_pb2.CommitCertificate]) -> MessageReceived:
        message = consensus_pb2.CertifiedBlocks(
            blocks=[consensus_pb2.CertifiedBlock(block=block, certificate=cert) for block, cert in blocks]
        )
        return self.received(sender, encode(message))
