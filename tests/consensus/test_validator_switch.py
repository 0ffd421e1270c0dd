"""Governance changes the validator set at a declared height: the simulator switches quorums at once."""

from __future__ import annotations

import pytest

from dcrm.v1 import types_pb2
from tests.consensus.sim import Scenario, Simulation
from tests.consensus.sim.scenario import LinkConditions, Misbehaviour, Partition

SWITCH_AT = 5
FAULTY = LinkConditions(loss=0.1, duplicate=0.1, min_delay_ms=1, max_delay_ms=100)
CALM = LinkConditions(loss=0.0, duplicate=0.0, min_delay_ms=1, max_delay_ms=20)


def switching(seed: int, before: tuple[int, ...], after: tuple[int, ...]) -> Scenario:
    return Scenario(
        seed=seed,
        node_count=max(*before, *after) + 1,
        validator_sets=((0, before), (SWITCH_AT, after)),
        faults_end_ms=3_000,
        faulty_link=FAULTY,
        calm_link=CALM,
        byzantine={0: Misbehaviour(equivocate=True, conflicting_votes=True, garbage=True)},
        partitions=(Partition(500, 1_500, (frozenset({0, 1}), frozenset(range(2, 8)))),),
        min_target_height=SWITCH_AT + 3,
    )


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ((0, 1, 2, 3), (0, 1, 2, 3, 4, 5, 6)),  # grow: quorum 3 -> 5, three followers start voting
        ((0, 1, 2, 3, 4, 5, 6), (0, 1, 2, 3)),  # shrink: quorum 5 -> 3, three validators become followers
        ((0, 1, 2, 3), (0, 2, 3, 4)),  # rotate: node 1 leaves, node 4 joins
    ],
)
@pytest.mark.parametrize("seed", range(3))
def test_quorum_switches_at_the_declared_height(seed: int, before: tuple[int, ...], after: tuple[int, ...]) -> None:
    simulation = Simulation(switching(seed, before, after))
    result = simulation.run()
    assert result.ok, result.summary()
    recover = simulation.keyring.recoverer.recover
    accounts = simulation.accounts
    chain = simulation.nodes[2].chain  # an honest validator in every set above
    assert len(chain) >= SWITCH_AT + 1
    for height, certified in enumerate(chain, start=1):
        members = before if height < SWITCH_AT else after
        signers = {recover(vote.body, vote.signature) for vote in certified.certificate.votes}
        assert signers <= {accounts[i] for i in members}, height
        assert len(signers) >= 2 * ((len(members) - 1) // 3) + 1, height
        assert {types_pb2.VoteBody.FromString(vote.body).height for vote in certified.certificate.votes} == {height}
    joined = set(after) - set(before)
    signed_after = {
        recover(vote.body, vote.signature)
        for certified in chain[SWITCH_AT - 1 :]
        for vote in certified.certificate.votes
    }
    assert not joined or signed_after & {accounts[i] for i in joined}  # newcomers vote once it is their turn
