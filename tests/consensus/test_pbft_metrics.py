"""The PBFT driver's consensus metrics on four in-process engines: a dead leader costs view timeouts and view
changes, and the counters say so."""

from __future__ import annotations

from dcrm.node.metrics import NodeMetrics
from dcrm.node.network.memory import MemoryNetwork
from tests.consensus.test_pbft_engine import VALIDATORS, same_chain, start_validator, stop_validator
from tests.support.node_process import wait_until


def sample(metrics: NodeMetrics, name: str) -> float:
    value = metrics.registry.get_sample_value(name)
    assert value is not None, name
    return value


def test_a_dead_leader_shows_in_round_timeouts_and_view_changes() -> None:
    network = MemoryNetwork()
    metrics = [NodeMetrics() for _ in VALIDATORS]
    validators = [start_validator(network, index, metrics=metrics[index].consensus) for index in range(4)]
    dead = 1
    try:
        wait_until(lambda: same_chain(validators, 2), 60, "the first blocks")
        stop_validator(validators[dead])
        live = [index for index in range(4) if index != dead]
        height = max(validators[index].chain.head.height for index in live)
        # Validator `dead` leads view 0 of every height h with h % 4 == dead (leader: (h + view) % n): within
        # the next four heights there is one the others can only decide in a later view.
        wait_until(lambda: same_chain([validators[i] for i in live], height + 5), 60, "commits without the leader")
        timeouts = [sample(metrics[i], "dcrm_consensus_round_timeouts_total") for i in live]
        changes = [sample(metrics[i], "dcrm_consensus_view_changes_total") for i in live]
        # A quorum is all three live validators, so each of them entered a later view; at least one got there
        # by its own view timeout (the others may have followed f + 1 view changes first).
        assert all(count >= 1 for count in changes), changes
        assert sum(timeouts) >= 1, timeouts
        assert all(timeout <= change for timeout, change in zip(timeouts, changes, strict=True))
    finally:
        for index, validator in enumerate(validators):
            if index != dead:
                stop_validator(validator)
