"""The ceiling chart: committed throughput and submit-to-commit latency against offered load (matplotlib, Agg)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display: render to files only

import matplotlib.pyplot as plt  # after choosing the backend

__all__ = ["render_ceiling_chart"]


def render_ceiling_chart(report: dict[str, Any], path: Path) -> None:
    """Two panels sharing the offered-load axis: committed and admitted tx/s (with the ideal line where
    committed equals offered), and p50/p90/p99 latency on a log scale. Saturated steps are marked with an x,
    the knee with a vertical line."""
    steps = report["steps"]
    figure, (throughput, latency) = plt.subplots(2, 1, figsize=(9, 8), sharex=True, constrained_layout=True)
    verifications = report["verifications_per_s"]
    fraction = report["fraction_of_machine"]
    figure.suptitle(
        f"dcrm ceiling: {report['config']['workload']} on {report['chain_id']} "
        f"({report['validators']} validator(s))\n"
        f"machine: {verifications['all_cores']:,} secp256k1 verifications/s on {verifications['processes']} cores"
        f" ({_busy(report)})\nmax committed {report['max_committed_tx_per_s']} tx/s x {report['validators']} "
        f"validator(s) = {_percent(fraction['at_max'])} of that",
        fontsize=11,
    )
    if not steps:
        throughput.text(0.5, 0.5, "no step ran", ha="center", va="center", transform=throughput.transAxes)
        figure.savefig(path, dpi=110)
        plt.close(figure)
        return

    steps = sorted(steps, key=lambda step: step["offered_tx_per_s"])  # refinement steps run out of order
    offered = [step["offered_tx_per_s"] for step in steps]
    committed = [step["committed_tx_per_s"] for step in steps]
    admitted = [step["admitted_tx_per_s"] for step in steps]
    saturated = [bool(step["saturated_because"]) for step in steps]
    top = max([*offered, *committed]) * 1.1

    throughput.plot([0, top], [0, top], linestyle=":", color="grey", label="committed = offered")
    throughput.plot(offered, admitted, marker="s", color="tab:orange", alpha=0.7, label="admitted tx/s")
    throughput.plot(offered, committed, marker="o", color="tab:blue", linewidth=2, label="committed tx/s (blocks)")
    for x, y, past in zip(offered, committed, saturated, strict=True):
        if past:
            throughput.plot([x], [y], marker="x", color="tab:red", markersize=12, markeredgewidth=2)
    throughput.set_ylabel("transactions per second")
    throughput.set_ylim(0, top)
    throughput.grid(True, alpha=0.3)

    for label, key, color in (("p50", "p50", "tab:green"), ("p90", "p90", "tab:olive"), ("p99", "p99", "tab:red")):
        points = [(step["offered_tx_per_s"], step["latency_ms"][key]) for step in steps if step["latency_ms"][key]]
        if points:
            latency.plot(*zip(*points, strict=True), marker="o", color=color, label=f"{label} submit-to-commit")
    slo = report["config"]["latency_slo_ms"]
    latency.axhline(slo, linestyle="--", color="grey", linewidth=1, label=f"SLO {slo:.0f} ms")
    latency.set_yscale("log")
    latency.set_ylabel("latency (ms, log scale)")
    latency.set_xlabel("offered load (tx/s)")
    latency.grid(True, which="both", alpha=0.3)

    knee = report["knee"]
    if knee is not None:
        for axis in (throughput, latency):
            axis.axvline(knee["offered_tx_per_s"], color="tab:purple", linewidth=1, alpha=0.6)
        throughput.annotate(
            f"knee: {knee['committed_tx_per_s']} tx/s\n({_percent(fraction['at_knee'])} of machine)",
            xy=(knee["offered_tx_per_s"], knee["committed_tx_per_s"]),
            xytext=(0.62, 0.12),  # the empty lower right: committed never exceeds offered
            textcoords="axes fraction",
            color="tab:purple",
            arrowprops={"arrowstyle": "->", "color": "tab:purple"},
        )
    if any(saturated):
        throughput.plot([], [], marker="x", color="tab:red", linestyle="none", label="saturated step")
    throughput.legend(loc="upper left", fontsize=9)
    latency.legend(loc="upper left", fontsize=9)
    figure.savefig(path, dpi=110)
    plt.close(figure)


def _busy(report: dict[str, Any]) -> str:
    busy = report["machine"].get("cpu_percent_before_run")
    return "CPU use before the run not measured" if busy is None else f"{busy:.0f} % busy before the run"


def _percent(fraction: float | None) -> str:
    return "n/a" if fraction is None else f"{fraction * 100:.1f} %"
