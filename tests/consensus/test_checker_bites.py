"""The simulator's checks catch deliberately broken cores: a passing sweep means something.

Each test runs a scenario that the real core survives, then the same scenario with one safeguard removed,
and expects the checker to name the violation that safeguard prevents.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any

from google.protobuf.message import DecodeError

from dcrm.node.consensus.pbft import (
    Action,
    ConsensusConfig,
    Event,
    PbftCore,
    PersistVote,
    ValidatorSet,
    VoteKind,
)
from dcrm.v1 import consensus_pb2, types_pb2
from tests.consensus.sim import Scenario, Simulation, random_scenario
from tests.consensus.sim.scenario import CHAIN_ID, Envelope, LinkConditions, Misbehaviour

CALM = LinkConditions(loss=0.0, duplicate=0.0, min_delay_ms=1, max_delay_ms=20)


class WeakQuorumSet(ValidatorSet):
    """Quorums of f + 1: two of them need not share an honest validator."""

    def __init__(self, members: Iterable[bytes]) -> None:
        super().__init__(members)
        self.quorum = self.max_faulty + 1


class ForgetsPreparedBlocks(PbftCore):
    """A new view never carries a prepared block forward, neither as leader nor when checking one."""

    def _carried(self, highest: consensus_pb2.PreparedCertificate | None) -> consensus_pb2.PreparedCertificate | None:
        return None


class SendsBeforePersisting(PbftCore):
    """Hands the driver its votes to send before the record of them to persist."""

    def handle(self, event: Event) -> list[Action]:
        return sorted(super().handle(event), key=lambda action: isinstance(action, PersistVote))


def forgets_its_vote_log(config: ConsensusConfig, **parts: Any) -> PbftCore:
    """Restarts as if nothing had been persisted."""
    return PbftCore(config, **{**parts, "vote_log": ()})


def kinds_found(scenarios: Iterable[Scenario]) -> set[str]:
    return {violation.kind for scenario in scenarios for violation in Simulation(scenario).run().violations}


def equivocating_leader(seed: int) -> Scenario:
    """Four validators; node 1 leads height 1, sends two blocks to two halves and votes for both."""
    return Scenario(
        seed=seed,
        node_count=4,
        validator_sets=((0, (0, 1, 2, 3)),),
        faults_end_ms=0,
        faulty_link=CALM,
        calm_link=CALM,
        byzantine={1: Misbehaviour(equivocate=True, conflicting_votes=True)},
    )


def test_quorums_of_f_plus_one_let_an_equivocating_leader_split_the_chain() -> None:
    scenarios = [equivocating_leader(seed) for seed in range(10)]
    assert kinds_found(scenarios) == set()
    weak = [dataclasses.replace(s, validator_set_factory=WeakQuorumSet) for s in scenarios]
    assert {"agreement", "certificate"} <= kinds_found(weak)


def _describe(data: bytes) -> tuple[str, int, int]:
    """(what, height, view) of a message, for drop rules."""
    try:
        message = consensus_pb2.ConsensusMessage.FromString(data)
    except DecodeError:
        return "garbage", 0, 0
    if message.HasField("vote"):
        vote = types_pb2.VoteBody.FromString(message.vote.body)
        return VoteKind(vote.kind).name, vote.height, vote.view
    if message.HasField("proposal"):
        proposal = consensus_pb2.ProposalBody.FromString(message.proposal.body)
        return "PROPOSAL", proposal.height, proposal.view
    if message.HasField("view_change"):
        change = consensus_pb2.ViewChangeBody.FromString(message.view_change.body)
        return "VIEW_CHANGE", change.height, change.new_view
    return message.WhichOneof("message") or "empty", 0, 0


def only_the_leader_sees_commits(envelope: Envelope) -> bool:
    """Until 8 s: node 1 (leader of height 1) alone receives the view-0 commits of height 1, and nothing it
    says afterwards reaches the others, so they must decide height 1 again in a later view."""
    if envelope.now >= 8_000:
        return False
    what, height, view = _describe(envelope.data)
    if what == "COMMIT" and (height, view) == (1, 0):
        return envelope.target != 1
    return envelope.source == 1 and (height != 1 or what in ("certified_blocks", "empty"))


def lone_committer(seed: int) -> Scenario:
    return Scenario(
        seed=seed,
        node_count=4,
        validator_sets=((0, (0, 1, 2, 3)),),
        faults_end_ms=8_000,
        faulty_link=CALM,
        calm_link=CALM,
        drop_rule=only_the_leader_sees_commits,
    )


def test_a_new_view_that_forgets_prepared_blocks_replaces_a_committed_one() -> None:
    scenarios = [lone_committer(seed) for seed in range(5)]
    results = [Simulation(scenario).run() for scenario in scenarios]
    assert all(result.ok for result in results), [r.summary() for r in results]
    assert all(result.counts["commit view>0"] > 0 for result in results)  # height 1 was decided again
    broken = [dataclasses.replace(s, core_factory=ForgetsPreparedBlocks) for s in scenarios]
    assert "agreement" in kinds_found(broken)


def test_a_validator_restarted_without_its_vote_log_equivocates() -> None:
    scenarios = [s for s in map(random_scenario, range(300)) if s.crashes][:60]
    assert kinds_found(scenarios) == set()
    amnesiac = [dataclasses.replace(s, core_factory=forgets_its_vote_log) for s in scenarios]
    assert "equivocation" in kinds_found(amnesiac)


def test_sending_a_vote_before_persisting_it_is_caught() -> None:
    scenario = random_scenario(1)
    assert Simulation(scenario).run().ok
    found = kinds_found([dataclasses.replace(scenario, core_factory=SendsBeforePersisting)])
    assert "persist-order" in found


def test_the_default_chain_id_is_the_one_the_checker_expects() -> None:
    assert random_scenario(0).config.chain_id == CHAIN_ID
