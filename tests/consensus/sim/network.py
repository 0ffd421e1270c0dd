"""A seeded in-memory network: loss, delay (hence reordering), duplication and partitions."""

from __future__ import annotations

import random

from google.protobuf.message import DecodeError

from dcrm.v1 import consensus_pb2, types_pb2
from tests.consensus.sim.scenario import Envelope, Scenario

__all__ = ["SimNetwork"]

_COMMIT = types_pb2.VoteBody.COMMIT


def _is_commit(data: bytes) -> bool:
    try:
        message = consensus_pb2.ConsensusMessage.FromString(data)
        return message.HasField("vote") and types_pb2.VoteBody.FromString(message.vote.body).kind == _COMMIT
    except DecodeError:
        return False


class SimNetwork:
    def __init__(self, scenario: Scenario, rng: random.Random) -> None:
        self._scenario = scenario
        self._rng = rng

    def arrival_times(self, now: int, source: int, target: int, data: bytes) -> list[int]:
        """When the copies of a message sent now will arrive: none if it is lost, two if duplicated."""
        scenario = self._scenario
        if scenario.drop_rule(Envelope(now, source, target, data)):
            return []
        link = scenario.faulty_link if now < scenario.faults_end_ms else scenario.calm_link
        rng = self._rng
        if link.loss and rng.random() < link.loss:
            return []
        if link.commit_loss and _is_commit(data) and rng.random() < link.commit_loss:
            return []
        copies = 2 if link.duplicate and rng.random() < link.duplicate else 1
        return [now + rng.randint(link.min_delay_ms, link.max_delay_ms) for _ in range(copies)]

    def separated(self, now: int, source: int, target: int) -> bool:
        """Checked on arrival: a partition that began while the message travelled still stops it."""
        return any(partition.separates(now, source, target) for partition in self._scenario.partitions)
