"""The ceiling harness on a tiny load: it counts from blocks, names rejections, and stops within its bounds."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dcrm.client import Client, build_transaction, system
from dcrm.v1 import system_pb2, types_pb2
from loadtest.ceiling import CeilingConfig, run_ceiling, summary
from loadtest.chart import render_ceiling_chart
from loadtest.machine import VerificationRate, measure_verification_rate
from loadtest.reasons import admission_reason, message_class
from loadtest.signing import derived_key
from tests.support.node_process import NodeProcess

# A stand-in for the machine's rate, so these tests do not spend seconds measuring it.
KNOWN_RATE = VerificationRate(one_core=10_000.0, all_cores=20_000.0, processes=2)


def tiny_config(node: NodeProcess, **overrides: object) -> CeilingConfig:
    settings: dict[str, object] = {
        "targets": [node.endpoint],
        "rates": [20.0],
        "step_seconds": 1.0,
        "drain_seconds": 10.0,
        "max_seconds": 120.0,
        "submitters": 1,
        "nonces_per_sender": 4,
    }
    settings.update(overrides)
    return CeilingConfig(**settings)  # type: ignore[arg-type]


def remark(key_label: str, *, nonce: int, chain_id: str, valid_until: int) -> types_pb2.Transaction:
    return build_transaction(
        derived_key("test-ceiling", key_label),
        chain_id=chain_id,
        nonce=nonce,
        valid_until=valid_until,
        module=system.MODULE_INDEX,
        method=system.REMARK,
        args=system_pb2.Remark(note=b"probe"),
    )


def test_counts_committed_transactions_from_blocks_and_rejections_by_reason(
    loadtest_node: NodeProcess, tmp_path: Path
) -> None:
    with Client(loadtest_node.endpoint) as client:
        status = client.status()
    valid_until = status.height + 1_000
    good = remark("good", nonce=0, chain_id=status.chain_id, valid_until=valid_until)
    # Admitted (a future nonce inside the window) but never committed: nonce 0 of this sender never comes.
    never_committed = remark("gap", nonce=1, chain_id=status.chain_id, valid_until=valid_until)
    forged = remark("forged", nonce=0, chain_id=status.chain_id, valid_until=valid_until)
    forged.signature = bytes(65)
    other_chain = remark("other-chain", nonce=0, chain_id="another-chain", valid_until=valid_until)
    probes = [good, good, never_committed, forged, other_chain]

    config = tiny_config(loadtest_node, rates=[20.0, 20.0], drain_seconds=3.0)
    report = run_ceiling(config, extra_transactions={0: probes}, verification=KNOWN_RATE)

    step = report["steps"][0]
    planned = 20
    assert step["sent"] == planned + len(probes)
    assert step["admitted"] == planned + 2  # the planned ones, `good` once and the gapped one
    assert step["committed"] == planned + 1  # the gapped one is admitted but never in a block
    assert step["admitted_not_committed"] == 1
    reasons = step["rejected_by_reason"]
    assert sum(reasons.values()) == 3
    assert [reason.split(":")[0] for reason in sorted(reasons)] == [
        "ALREADY_EXISTS",
        "FAILED_PRECONDITION",
        "UNAUTHENTICATED",
    ]
    assert all(count == 1 for count in reasons.values())
    assert step["latency_ms"]["p50"] is not None
    assert step["latency_ms"]["p50"] > 0
    assert 0 < step["committed_tx_per_s"] <= planned + 1
    # An uncommitted admitted transaction saturates the step: the run stops by itself after it.
    assert len(report["steps"]) == 1
    assert report["stop_reason"].startswith("knee found")
    assert any("not committed" in reason for reason in step["saturated_because"])

    # The report is JSON and its chart renders.
    json.dumps(report)
    chart = tmp_path / "ceiling.png"
    render_ceiling_chart(report, chart)
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "fraction of machine" in summary(report)


def test_stops_when_the_transaction_budget_is_spent(loadtest_node: NodeProcess) -> None:
    config = tiny_config(loadtest_node, rates=[10.0, 20.0, 40.0], max_transactions=35)
    report = run_ceiling(config, verification=KNOWN_RATE)

    assert [step["offered_tx_per_s"] for step in report["steps"]] == [10.0, 20.0]
    assert sum(step["committed"] for step in report["steps"]) == 30
    assert report["stop_reason"].startswith("transaction budget")
    knee = report["knee"]
    assert knee is not None
    assert knee["offered_tx_per_s"] == 20.0
    assert report["fraction_of_machine"]["at_knee"] == pytest.approx(knee["committed_tx_per_s"] / 20_000, abs=1e-4)


def test_stops_when_the_time_budget_is_spent(loadtest_node: NodeProcess) -> None:
    max_seconds = 6.0
    config = tiny_config(loadtest_node, rates=[10.0] * 50, drain_seconds=2.0, max_seconds=max_seconds)
    report = run_ceiling(config, verification=KNOWN_RATE)

    assert report["stop_reason"].startswith("time budget")
    assert len(report["steps"]) < 50
    # A step starts only when it fits: the run overshoots by no more than one step's signing and set-up.
    assert report["elapsed_seconds"] <= max_seconds + 10


def test_rejects_an_unknown_workload(loadtest_node: NodeProcess) -> None:
    with pytest.raises(ValueError, match="unknown workload"):
        run_ceiling(tiny_config(loadtest_node, workload="teleport"), verification=KNOWN_RATE)


def test_measures_the_verification_rate() -> None:
    rate = measure_verification_rate(0.1, processes=1, rounds=2)
    assert rate.one_core > 100
    assert rate.all_cores == rate.one_core
    assert rate.processes == 1


def test_message_classes_group_one_rule_under_one_reason() -> None:
    first = "nonce 17 of 3fa2b9c0d1e2f3a4b5c6 is stale (next 21)"
    second = "nonce 4 of 0011223344556677 is stale (next 9)"
    assert message_class(first) == message_class(second) == "nonce <n> of <hex> is stale (next <n>)"
    assert admission_reason(9, first) == "FAILED_PRECONDITION: nonce <n> of <hex> is stale (next <n>)"
    assert admission_reason(999, "x") == "CODE_999: x"
