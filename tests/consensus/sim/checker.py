"""Invariants checked while a simulation runs, written apart from the core so that a core bug cannot hide.

Safety: honest nodes never commit different blocks at one height, never commit an invalid block or one
without a certificate that holds, and never sign two different votes (or view changes) for one slot, not
even across a restart; a vote is never sent before it is persisted. Liveness is checked by the runner.
"""

from __future__ import annotations

from dataclasses import dataclass

from google.protobuf.message import DecodeError

from dcrm.node.consensus.pbft import SignatureRecoverer
from dcrm.v1 import consensus_pb2, types_pb2
from tests.consensus.sim.chain import SimBlocks

__all__ = ["SafetyChecker", "Violation"]


@dataclass(frozen=True, slots=True)
class Violation:
    kind: str  # agreement, certificate, validity, chain, equivocation, persist-order, liveness
    detail: str

    def __str__(self) -> str:
        return f"{self.kind}: {self.detail}"


def _quorum(size: int) -> int:
    """Smallest vote count whose any two sets share f + 1 validators, hence an honest one."""
    faulty = (size - 1) // 3
    return next(count for count in range(1, size + 1) if 2 * count - size >= faulty + 1)


class SafetyChecker:
    def __init__(self, chain_id: str, recoverer: SignatureRecoverer) -> None:
        self._chain_id = chain_id
        self._recoverer = recoverer
        self._blocks = SimBlocks()
        self._decided: dict[int, tuple[bytes, int]] = {}  # height -> (block hash, first node to commit it)
        self._signed: dict[tuple[int, str, int, int], bytes] = {}  # (node, kind, height, view) -> body
        self.violations: list[Violation] = []

    def _fail(self, kind: str, detail: str) -> None:
        self.violations.append(Violation(kind, detail))

    def on_persist(self, node: int, entry: bytes) -> bytes:
        """Records what an honest node signed; returns the signature that is now durable."""
        record = consensus_pb2.VoteLogEntry.FromString(entry)
        if record.HasField("vote"):
            vote = types_pb2.VoteBody.FromString(record.vote.body)
            slot = (types_pb2.VoteBody.Kind.Name(vote.kind), vote.height, vote.view)
            self._remember(node, slot, record.vote.body)
            return record.vote.signature
        view_change = consensus_pb2.ViewChangeBody.FromString(record.view_change.body)
        self._remember(node, ("VIEW_CHANGE", view_change.height, view_change.new_view), record.view_change.body)
        return record.view_change.signature

    def _remember(self, node: int, slot: tuple[str, int, int], body: bytes) -> None:
        earlier = self._signed.setdefault((node, *slot), body)
        if earlier != body:
            kind, height, view = slot
            self._fail("equivocation", f"node {node} signed two different {kind} at height {height} view {view}")

    def on_send(self, node: int, data: bytes, durable: set[bytes]) -> None:
        """An honest node's own vote or view change may only leave after it is persisted."""
        try:
            message = consensus_pb2.ConsensusMessage.FromString(data)
        except DecodeError:
            self._fail("persist-order", f"node {node} sent undecodable bytes")
            return
        if message.HasField("vote"):
            signature = message.vote.signature
        elif message.HasField("view_change"):
            signature = message.view_change.signature
        else:
            return
        if signature not in durable:
            self._fail("persist-order", f"node {node} sent a {message.WhichOneof('message')} it had not persisted")

    def on_commit(
        self,
        node: int,
        height: int,
        block: bytes,
        certificate: types_pb2.CommitCertificate,
        parent_hash: bytes,
        validators: list[bytes],
    ) -> None:
        info = self._blocks.inspect(block)
        if info is None or info.height != height or info.block_hash != certificate.block_hash:
            self._fail("chain", f"node {node} committed a block that is not the certified one at {height}")
            return
        if info.parent_hash != parent_hash:
            self._fail("chain", f"node {node} committed block at {height} that does not extend its chain")
        if not self._blocks.execute(block):
            self._fail("validity", f"node {node} committed an invalid block at height {height}")
        self._check_certificate(node, height, certificate, validators)
        earlier = self._decided.setdefault(height, (info.block_hash, node))
        if earlier[0] != info.block_hash:
            self._fail(
                "agreement",
                f"nodes {earlier[1]} and {node} committed different blocks at height {height}",
            )

    def _check_certificate(
        self, node: int, height: int, certificate: types_pb2.CommitCertificate, validators: list[bytes]
    ) -> None:
        signers: set[bytes] = set()
        views: set[int] = set()
        for vote in certificate.votes:
            body = types_pb2.VoteBody.FromString(vote.body)
            signer = self._recoverer.recover(vote.body, vote.signature)
            expected = (types_pb2.VoteBody.COMMIT, self._chain_id, height, certificate.block_hash)
            if (body.kind, body.chain_id, body.height, body.block_hash) != expected or signer not in validators:
                self._fail("certificate", f"node {node} committed height {height} with a foreign vote")
                return
            signers.add(signer)
            views.add(body.view)
        if len(signers) < _quorum(len(validators)) or len(views) != 1:
            self._fail(
                "certificate",
                f"node {node} committed height {height} with {len(signers)} signers in {len(views)} views",
            )
