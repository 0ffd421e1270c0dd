"""The ceiling harness: offers a chain pre-signed transactions at rising rates and finds the knee.

    python -m loadtest.ceiling --targets 127.0.0.1:50051              # make run's chain
    python -m loadtest.ceiling --rates 500,1000,max --step-seconds 5    # explicit steps; "max": as fast as admitted

For each step the submitter processes sign their share first (fresh sender accounts, so nonces start at 0
and signing is never what is measured), then submit it with SubmitBatch, paced in ticks, at the step's
offered rate. A StreamBlocks follower records when each transaction's block arrived: committed tx/s and
submit-to-commit latency come from the blocks, so an admitted transaction that never commits is not counted.
Rejections are counted by reason (status code and message class). Node CPU and memory are sampled with
psutil when the nodes run on this machine.

Steps grow by `--growth` from `--start-rate` until a step is saturated (committed < 90 % of offered,
p99 latency over the SLO, over 1 % rejected, or admitted transactions left uncommitted after the drain), or
the bounds stop it: `--max-steps`, `--max-seconds` (the whole run) and `--max-transactions` (all steps).
The result is JSON and a PNG chart under `--out`, and a table on stdout. Every report includes this
machine's secp256k1 verification rate and the fraction committed tx/s x validators / verifications per
second, so figures from different machines compare.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import os
import platform
import secrets
import statistics
import sys
import time
from collections import Counter, deque
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import grpc
import psutil

from dcrm.client import Client, DcrmError
from dcrm.client.transactions import transaction_hash
from dcrm.v1 import node_pb2, types_pb2
from loadtest.blocks import BlockFollower
from loadtest.connect import channel_credentials, parse_targets, rotated
from loadtest.machine import (
    ProcessSampler,
    VerificationRate,
    is_loopback_target,
    listening_pid,
    measure_verification_rate,
)
from loadtest.reasons import admission_reason, describe_error
from loadtest.signing import WORKLOADS, derived_key, interleave_by_nonce, sign_sender_transactions

__all__ = ["CeilingConfig", "StepPlan", "main", "run_ceiling"]

MAX_RATE = "max"  # a step that submits as fast as the chain admits
VALIDITY_BLOCKS = 20_000  # valid_until = head + this; below the chain's max_validity_blocks (100,000 by default)
RPC_TIMEOUT_SECONDS = 30.0
BACKGROUND_SAMPLE_SECONDS = 1.0  # the machine's CPU use is sampled this long before the run
READY_TIMEOUT_SECONDS = 120.0  # for the submitter processes to start and sign a step
MAX_BATCH = 5_000  # transactions in one SubmitBatch call: the node's mempool.max_batch default
BACKOFF_SECONDS = 0.02  # "max" steps: pause before resubmitting what the mempool refused as full
MIN_REFINE_GAP = 0.05  # stop bisecting when sustained and saturated rates are within 5 %


@dataclass(frozen=True)
class CeilingConfig:
    """Everything one run needs. Rates are transactions per second; None in `rates` means "max"."""

    targets: list[str]
    workload: str = "remark"
    rates: list[float | None] | None = None  # explicit steps; None: start_rate x growth^k, up to max_steps
    start_rate: float = 250.0
    growth: float = 2.0
    max_steps: int = 7
    refine_steps: int = 2  # after the first saturated step: bisect between it and the last sustained one
    step_seconds: float = 10.0
    drain_seconds: float = 20.0
    max_seconds: float = 600.0
    max_transactions: int = 300_000
    max_rate_transactions: int = 30_000  # how many a "max" step signs and submits
    submitters: int = 2
    tick_seconds: float = 0.05
    batch_size: int = 500  # "max" steps: transactions per SubmitBatch call
    nonces_per_sender: int = 8
    latency_slo_ms: float = 1_000.0  # an interactive CRM write should commit within a second
    min_commit_ratio: float = 0.9
    max_rejected_ratio: float = 0.01
    node_pids: list[int] | None = None  # None: the processes listening on loopback targets' ports
    verify_seconds: float = 1.0  # per round; the best of three rounds counts
    tls_ca: str | None = None
    client_cert: str | None = None
    client_key: str | None = None
    run_id: str = field(default_factory=lambda: secrets.token_hex(4))

    def planned_rates(self) -> list[float | None]:
        if self.rates is not None:
            return list(self.rates)
        return [self.start_rate * self.growth**step for step in range(self.max_steps)]


@dataclass(frozen=True)
class StepPlan:
    """One step: offered rate (None: as fast as admitted), its transactions and how long it submits."""

    index: int
    rate: float | None
    transactions: int
    seconds: float
    # Submitted with the step's first batch and counted like the others; tests use it to check that only
    # what blocks show is counted.
    extra_transactions: tuple[bytes, ...] = ()


@dataclass
class SubmitterReport:
    """What one submitter process did in one step."""

    accepted: list[tuple[bytes, float]] = field(default_factory=list)  # (tx hash, SubmitBatch start time)
    rejected: dict[str, int] = field(default_factory=dict)  # reason -> transactions
    call_errors: dict[str, int] = field(default_factory=dict)  # reason -> transactions of failed calls
    sent: int = 0
    resubmitted: int = 0
    finished_at: float = 0.0


# -- submitter processes -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _SignOrder:
    step: int
    run_id: str
    submitter: int
    workload: str
    chain_id: str
    valid_until: int
    transactions: int
    nonces_per_sender: int
    extra_transactions: tuple[bytes, ...]


@dataclass(frozen=True)
class _GoOrder:
    start_at: float  # time.monotonic() at which to send the first batch
    rate: float | None  # this submitter's share; None: as fast as admitted
    seconds: float
    tick_seconds: float
    batch_size: int


def _sign_share(order: _SignOrder) -> tuple[list[types_pb2.Transaction], list[types_pb2.Transaction]]:
    """(the order's extra transactions, its share of signed transactions in submission order)."""
    senders = math.ceil(order.transactions / order.nonces_per_sender) if order.transactions else 0
    keys = [derived_key("ceiling", order.run_id, order.step, order.submitter, index) for index in range(senders)]
    per_sender = sign_sender_transactions(
        keys,
        chain_id=order.chain_id,
        valid_until=order.valid_until,
        nonces_per_sender=order.nonces_per_sender,
        workload=order.workload,
    )
    ordered = [tx for batch in interleave_by_nonce(per_sender, max(1, order.transactions)) for tx in batch]
    extra = [types_pb2.Transaction.FromString(raw) for raw in order.extra_transactions]
    return extra, ordered[: order.transactions]


class _Submitter:
    def __init__(self, client: Client, report: SubmitterReport) -> None:
        self._client = client
        self.report = report

    def submit(self, batch: Sequence[types_pb2.Transaction], *, retry_when_full: bool) -> None:
        """One SubmitBatch call (split at the node's batch limit by the caller); records every outcome."""
        pending = list(batch)
        while pending:
            sent_at = time.monotonic()
            try:
                results = self._client.submit_batch(pending, timeout=RPC_TIMEOUT_SECONDS)
            except DcrmError as error:
                reason = describe_error(error)
                self.report.call_errors[reason] = self.report.call_errors.get(reason, 0) + len(pending)
                self.report.sent += len(pending)
                return
            self.report.sent += len(pending)
            full: list[types_pb2.Transaction] = []
            for tx, result in zip(pending, results, strict=True):
                if result.accepted:
                    self.report.accepted.append((transaction_hash(tx), sent_at))
                elif retry_when_full and _is_full(result):
                    full.append(tx)
                else:
                    reason = admission_reason(result.code, result.message)
                    self.report.rejected[reason] = self.report.rejected.get(reason, 0) + 1
            if full:
                self.report.resubmitted += len(full)
                self.report.sent -= len(full)
                time.sleep(BACKOFF_SECONDS)
            pending = full


def _is_full(result: node_pb2.AdmissionResult) -> bool:
    """RESOURCE_EXHAUSTED: the mempool, or a rate limit, is full for now."""
    return bool(result.code == grpc.StatusCode.RESOURCE_EXHAUSTED.value[0])


def _run_paced(submitter: _Submitter, transactions: list[types_pb2.Transaction], go: _GoOrder) -> None:
    assert go.rate is not None
    ticks = max(1, round(go.seconds / go.tick_seconds))
    sent = 0
    for tick in range(ticks):
        due = (
            len(transactions)
            if tick == ticks - 1
            else min(len(transactions), round((tick + 1) * go.rate * go.tick_seconds))
        )
        delay = go.start_at + tick * go.tick_seconds - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        for start in range(sent, due, MAX_BATCH):
            submitter.submit(transactions[start : min(due, start + MAX_BATCH)], retry_when_full=False)
        sent = max(sent, due)


def _run_as_fast_as_admitted(submitter: _Submitter, transactions: list[types_pb2.Transaction], go: _GoOrder) -> None:
    delay = go.start_at - time.monotonic()
    if delay > 0:
        time.sleep(delay)
    deadline = go.start_at + go.seconds
    for start in range(0, len(transactions), go.batch_size):
        if time.monotonic() >= deadline:
            break
        submitter.submit(transactions[start : start + go.batch_size], retry_when_full=True)


def _submitter_main(connection: Connection, targets: list[str], tls: tuple[str | None, str | None, str | None]) -> None:
    """A submitter process: signs its share of each step when told, submits it when told, reports back."""
    credentials = channel_credentials(*tls)
    with Client(targets, credentials=credentials, timeout=RPC_TIMEOUT_SECONDS) as client:
        while True:
            order = connection.recv()
            if order is None:
                return
            assert isinstance(order, _SignOrder)
            extra, transactions = _sign_share(order)
            connection.send(("signed", len(extra) + len(transactions)))
            go = connection.recv()
            if go is None:
                return
            assert isinstance(go, _GoOrder)
            report = SubmitterReport()
            submitter = _Submitter(client, report)
            if extra:
                delay = go.start_at - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                submitter.submit(extra, retry_when_full=False)
            if go.rate is None:
                _run_as_fast_as_admitted(submitter, transactions, go)
            else:
                _run_paced(submitter, transactions, go)
            report.finished_at = time.monotonic()
            connection.send(("done", report))


class SubmitterPool:
    """`count` spawned submitter processes, each with its own gRPC channel to its own first target."""

    def __init__(self, count: int, config: CeilingConfig) -> None:
        context = multiprocessing.get_context("spawn")
        self._connections: list[Connection] = []
        self.processes: list[multiprocessing.process.BaseProcess] = []
        for index in range(count):
            parent, child = context.Pipe()
            process = context.Process(
                target=_submitter_main,
                # Submitter i sends to target i first, so several nodes share the submissions.
                args=(child, rotated(config.targets, index), (config.tls_ca, config.client_cert, config.client_key)),
                daemon=True,
            )
            process.start()
            child.close()
            self._connections.append(parent)
            self.processes.append(process)

    @property
    def pids(self) -> list[int]:
        return [process.pid for process in self.processes if process.pid is not None]

    def _receive(self, connection: Connection, expected: str, timeout: float) -> Any:
        if not connection.poll(timeout):
            raise TimeoutError(f"a submitter process did not answer {expected!r} within {timeout:.0f} s")
        kind, payload = connection.recv()
        if kind != expected:
            raise RuntimeError(f"a submitter process answered {kind!r}, expected {expected!r}")
        return payload

    def sign(self, orders: Sequence[_SignOrder]) -> None:
        for connection, order in zip(self._connections, orders, strict=True):
            connection.send(order)
        for connection in self._connections:
            self._receive(connection, "signed", READY_TIMEOUT_SECONDS)

    def go(self, orders: Sequence[_GoOrder], timeout: float) -> list[SubmitterReport]:
        for connection, order in zip(self._connections, orders, strict=True):
            connection.send(order)
        return [self._receive(connection, "done", timeout) for connection in self._connections]

    def close(self) -> None:
        for connection in self._connections:
            try:
                connection.send(None)
            except OSError:
                continue
        for process in self.processes:
            process.join(timeout=10)
            if process.is_alive():
                process.terminate()
                process.join(timeout=5)


# -- one step ----------------------------------------------------------------------------------------------------


def _percentile(ordered: Sequence[float], fraction: float) -> float | None:
    if not ordered:
        return None
    position = min(len(ordered) - 1, max(0, math.ceil(fraction * len(ordered)) - 1))
    return round(float(ordered[position]), 1)


def _shares(total: int, parts: int) -> list[int]:
    return [total // parts + (1 if index < total % parts else 0) for index in range(parts)]


def run_step(
    config: CeilingConfig,
    plan: StepPlan,
    pool: SubmitterPool,
    follower: BlockFollower,
    sampler: ProcessSampler,
    chain_id: str,
    head_height: int,
) -> dict[str, Any]:
    """Sign, submit and measure one step; returns its figures (see docs/loadtest.md)."""
    shares = _shares(plan.transactions, config.submitters)
    orders = [
        _SignOrder(
            step=plan.index,
            run_id=config.run_id,
            submitter=index,
            workload=config.workload,
            chain_id=chain_id,
            valid_until=head_height + VALIDITY_BLOCKS,
            transactions=share,
            nonces_per_sender=config.nonces_per_sender,
            extra_transactions=plan.extra_transactions if index == 0 else (),
        )
        for index, share in enumerate(shares)
    ]
    signing_started = time.monotonic()
    pool.sign(orders)
    sign_seconds = time.monotonic() - signing_started

    sampler.start_window()
    start_at = time.monotonic() + 0.2
    go_orders = [
        _GoOrder(
            start_at=start_at,
            rate=None if plan.rate is None else plan.rate * share / max(1, plan.transactions),
            seconds=plan.seconds,
            tick_seconds=config.tick_seconds,
            batch_size=config.batch_size,
        )
        for share in shares
    ]
    reports = pool.go(go_orders, timeout=plan.seconds + 2 * RPC_TIMEOUT_SECONDS + 30)
    submitted_at = {tx_hash: sent_at for report in reports for tx_hash, sent_at in report.accepted}
    not_committed = follower.wait_until_committed(list(submitted_at), config.drain_seconds)
    usage, machine_cpu = sampler.end_window()

    arrivals = {tx_hash: follower.arrivals[tx_hash] for tx_hash in submitted_at if tx_hash in follower.arrivals}
    latencies = sorted((arrivals[tx_hash] - submitted_at[tx_hash]) * 1000 for tx_hash in arrivals)
    last_commit = max(arrivals.values(), default=start_at)
    submit_seconds = max(1e-9, max(report.finished_at for report in reports) - start_at)
    # Committed over the step's submission window, or until its last commit when the chain fell behind.
    window = plan.seconds if plan.rate is not None else submit_seconds
    commit_seconds = max(window, last_commit - start_at)
    sent = sum(report.sent for report in reports)
    rejected: Counter[str] = Counter()
    call_errors: Counter[str] = Counter()
    for report in reports:
        rejected.update(report.rejected)
        call_errors.update(report.call_errors)
    step_blocks = [block for block in follower.blocks if start_at <= block.time <= last_commit]
    offered = plan.rate if plan.rate is not None else sent / submit_seconds
    committed_rate = len(arrivals) / commit_seconds if arrivals else 0.0
    figures: dict[str, Any] = {
        "step": plan.index,
        "mode": "paced" if plan.rate is not None else "as fast as admitted",
        "offered_tx_per_s": round(offered, 1),
        "transactions": plan.transactions + len(plan.extra_transactions),
        "sent": sent,
        "resubmitted_when_full": sum(report.resubmitted for report in reports),
        "admitted": len(submitted_at),
        "rejected": sum(rejected.values()),
        "rejected_by_reason": dict(rejected.most_common()),
        "failed_calls_by_reason": dict(call_errors.most_common()),
        "committed": len(arrivals),
        "admitted_not_committed": not_committed,
        "submit_seconds": round(submit_seconds, 2),
        "admitted_tx_per_s": round(len(submitted_at) / submit_seconds, 1),
        "committed_tx_per_s": round(committed_rate, 1),
        "latency_ms": {
            "p50": _percentile(latencies, 0.50),
            "p90": _percentile(latencies, 0.90),
            "p99": _percentile(latencies, 0.99),
            "max": _percentile(latencies, 1.0),
            "mean": round(statistics.fmean(latencies), 1) if latencies else None,
        },
        "blocks": len(step_blocks),
        "tx_per_block_mean": round(sum(block.transactions for block in step_blocks) / len(step_blocks), 1)
        if step_blocks
        else None,
        "sign_seconds": round(sign_seconds, 2),
        "machine_cpu_percent_of_all_cores": machine_cpu,
        "processes": [sample.summary() for sample in usage],
    }
    figures["saturated_because"] = _saturation(config, figures)
    return figures


def _saturation(config: CeilingConfig, step: dict[str, Any]) -> list[str]:
    """Why a step is past the knee; empty when the chain kept up."""
    reasons = []
    offered = step["offered_tx_per_s"]
    if step["mode"] == "paced" and offered and step["committed_tx_per_s"] < config.min_commit_ratio * offered:
        reasons.append(f"committed {step['committed_tx_per_s']} tx/s < {config.min_commit_ratio:.0%} of offered")
    p99 = step["latency_ms"]["p99"]
    if p99 is not None and p99 > config.latency_slo_ms:
        reasons.append(f"p99 latency {p99} ms > {config.latency_slo_ms:.0f} ms")
    submitted = step["sent"] or 1
    refused = step["rejected"] + sum(step["failed_calls_by_reason"].values())
    if refused > config.max_rejected_ratio * submitted:
        reasons.append(f"{refused} of {submitted} transactions refused")
    if step["admitted_not_committed"]:
        reasons.append(f"{step['admitted_not_committed']} admitted transactions not committed after the drain")
    if step["admitted"] == 0:
        reasons.append("nothing was admitted")
    return reasons


# -- the run -----------------------------------------------------------------------------------------------------


def _node_pids(config: CeilingConfig) -> list[int]:
    if config.node_pids is not None:
        return list(config.node_pids)
    pids = []
    for target in config.targets:
        if is_loopback_target(target):
            pid = listening_pid(int(target.rpartition(":")[2]))
            if pid is not None and pid not in pids:
                pids.append(pid)
    return pids


def run_ceiling(
    config: CeilingConfig,
    *,
    extra_transactions: dict[int, Sequence[types_pb2.Transaction]] | None = None,
    verification: VerificationRate | None = None,
) -> dict[str, Any]:
    """Run the steps until the knee or a bound; returns the report (JSON-ready).

    `extra_transactions` maps a step index to transactions submitted with that step's first batch;
    `verification` skips measuring the machine's verification rate (tests pass a known one).
    """
    if config.workload not in WORKLOADS:
        raise ValueError(f"unknown workload {config.workload!r}; choose one of {', '.join(WORKLOADS)}")
    run_started = time.monotonic()
    credentials = channel_credentials(config.tls_ca, config.client_cert, config.client_key)
    with Client(config.targets, credentials=credentials, timeout=RPC_TIMEOUT_SECONDS) as client:
        status = client.status()
    chain_id, validators = status.chain_id, len(status.validators)
    background_cpu = psutil.cpu_percent(interval=BACKGROUND_SAMPLE_SECONDS)  # what else is running here
    if verification is None:
        verification = measure_verification_rate(config.verify_seconds)
    node_pids = _node_pids(config)

    pool = SubmitterPool(config.submitters, config)
    follower = BlockFollower(config.targets, status.height + 1, credentials=credentials)
    sampler = ProcessSampler([*node_pids, *pool.pids, os.getpid()])
    steps: list[dict[str, Any]] = []
    stop_reason = "every planned step ran"
    budget = config.max_transactions
    search = KneeSearch(config)
    try:
        with Client(config.targets, credentials=credentials, timeout=RPC_TIMEOUT_SECONDS) as client:
            while (rate := search.next_rate()) is not None:
                index = len(steps)
                count = config.max_rate_transactions if rate == MAX_RATE else round(float(rate) * config.step_seconds)
                elapsed = time.monotonic() - run_started
                refusal = _refuse_step(config, index, count, budget, elapsed, client, status.mempool_size)
                if refusal:
                    stop_reason = refusal
                    break
                budget -= count
                extra = tuple(tx.SerializeToString() for tx in (extra_transactions or {}).get(index, ()))
                offered = None if rate == MAX_RATE else float(rate)
                plan = StepPlan(index, offered, count, config.step_seconds, extra)
                step = run_step(config, plan, pool, follower, sampler, chain_id, client.status().height)
                steps.append(step)
                _print_step(step)
                search.record(offered, step)
            else:
                stop_reason = search.stop_reason
    finally:
        sampler.close()
        follower.close()
        pool.close()
    report = _report(config, chain_id, validators, verification, node_pids, steps, stop_reason, run_started)
    report["machine"]["cpu_percent_before_run"] = background_cpu
    return report


class KneeSearch:
    """Which rate to offer next: the planned steps until one saturates, then (planned steps only) bisection
    between the highest sustained and the lowest saturated rate, `refine_steps` times at most."""

    def __init__(self, config: CeilingConfig) -> None:
        self._planned: deque[float | str] = deque(MAX_RATE if rate is None else rate for rate in config.planned_rates())
        self._refinements_left = config.refine_steps if config.rates is None else 0
        self.highest_sustained: float | None = None
        self.lowest_saturated: float | None = None
        self.stop_reason = "every planned step ran"

    def next_rate(self) -> float | str | None:
        """The next offered rate, MAX_RATE, or None when the search is over (see `stop_reason`)."""
        return self._planned.popleft() if self._planned else None

    def record(self, rate: float | None, step: dict[str, Any]) -> None:
        if rate is None:
            return
        if step["saturated_because"]:
            self.lowest_saturated = min(rate, self.lowest_saturated or rate)
        else:
            self.highest_sustained = max(rate, self.highest_sustained or rate)
        if self.lowest_saturated is None:
            return
        self._planned.clear()
        low, high = self.highest_sustained, self.lowest_saturated
        if self._refinements_left and low is not None and low < high and (high - low) / high > MIN_REFINE_GAP:
            self._refinements_left -= 1
            self._planned.append(float(round((low + high) / 2)))
            return
        self.stop_reason = (
            f"knee found between {low} and {high} tx/s offered "
            f"(step {step['step']}: {'; '.join(step['saturated_because']) or 'sustained'})"
        )


def _refuse_step(
    config: CeilingConfig, index: int, count: int, budget: int, elapsed: float, client: Client, mempool_baseline: int
) -> str | None:
    """Why step `index` may not start (a bound would be passed, or the last step's backlog did not clear)."""
    if count > budget:
        return f"transaction budget: step {index} needs {count}, {budget} of {config.max_transactions} left"
    step_bound = config.step_seconds + config.drain_seconds
    if elapsed + step_bound > config.max_seconds:
        return (
            f"time budget: {elapsed:.0f} s used, a step may take {step_bound:.0f} s more, "
            f"the bound is {config.max_seconds:.0f} s"
        )
    if not _mempool_drained(client, config.drain_seconds, mempool_baseline):
        return (
            f"the node's mempool did not go back to its {mempool_baseline} pending transactions "
            f"within {config.drain_seconds:.0f} s"
        )
    return None


def _mempool_drained(client: Client, seconds: float, baseline: int) -> bool:
    """Wait until the node holds no more pending transactions than before the run (a saturated step leaves a
    backlog that would slow the next one), at most `seconds`."""
    deadline = time.monotonic() + seconds
    while client.status().mempool_size > baseline:
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.1)
    return True


def _report(
    config: CeilingConfig,
    chain_id: str,
    validators: int,
    verification: VerificationRate,
    node_pids: list[int],
    steps: list[dict[str, Any]],
    stop_reason: str,
    run_started: float,
) -> dict[str, Any]:
    sustained = [step for step in steps if not step["saturated_because"]]
    knee = max(sustained, key=lambda step: step["committed_tx_per_s"], default=None)
    best = max(steps, key=lambda step: step["committed_tx_per_s"], default=None)

    def share(step: dict[str, Any] | None) -> float | None:
        if step is None or not verification.all_cores:
            return None
        return round(float(step["committed_tx_per_s"]) * validators / verification.all_cores, 4)

    config_fields = asdict(config)
    config_fields["rates"] = [MAX_RATE if rate is None else rate for rate in config.planned_rates()]
    return {
        "tool": "loadtest.ceiling",
        "started_utc": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "config": config_fields,
        "chain_id": chain_id,
        "validators": validators,
        "node_pids": node_pids,
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
        },
        "verifications_per_s": {
            "one_core": round(verification.one_core),
            "all_cores": round(verification.all_cores),
            "processes": verification.processes,
        },
        "steps": steps,
        "knee": None
        if knee is None
        else {
            "offered_tx_per_s": knee["offered_tx_per_s"],
            "committed_tx_per_s": knee["committed_tx_per_s"],
            "latency_ms": knee["latency_ms"],
        },
        "max_committed_tx_per_s": None if best is None else best["committed_tx_per_s"],
        "fraction_of_machine": {"at_knee": share(knee), "at_max": share(best)},
        "stop_reason": stop_reason,
        "elapsed_seconds": round(time.monotonic() - run_started, 1),
    }


# -- output ------------------------------------------------------------------------------------------------------


def _print_step(step: dict[str, Any]) -> None:
    latency = step["latency_ms"]
    print(
        f"step {step['step']}: offered {step['offered_tx_per_s']:>8} tx/s"
        f"  committed {step['committed_tx_per_s']:>8} tx/s"
        f"  p50 {latency['p50']} ms  p99 {latency['p99']} ms  rejected {step['rejected']}"
        f"  not committed {step['admitted_not_committed']}"
        + (f"  SATURATED: {'; '.join(step['saturated_because'])}" if step["saturated_because"] else ""),
        flush=True,
    )


def summary(report: dict[str, Any]) -> str:
    """The report's headline figures as text."""
    verifications = report["verifications_per_s"]
    lines = [
        f"chain {report['chain_id']}, {report['validators']} validator(s), workload {report['config']['workload']}",
        f"this machine: {verifications['all_cores']} secp256k1 verifications/s on {verifications['processes']} "
        f"cores ({verifications['one_core']} on one); {report['machine'].get('cpu_percent_before_run')} % CPU "
        "busy before the run",
    ]
    knee = report["knee"]
    fraction = report["fraction_of_machine"]
    if knee is not None:
        lines.append(
            f"knee: {knee['committed_tx_per_s']} committed tx/s at {knee['offered_tx_per_s']} offered, "
            f"p50 {knee['latency_ms']['p50']} ms, p99 {knee['latency_ms']['p99']} ms"
        )
        lines.append(
            f"fraction of machine at the knee: {knee['committed_tx_per_s']} tx/s x {report['validators']} validator(s)"
            f" / {verifications['all_cores']} verifications/s = {fraction['at_knee']}"
        )
    lines.append(f"max committed: {report['max_committed_tx_per_s']} tx/s (fraction of machine {fraction['at_max']})")
    lines.append(f"stopped: {report['stop_reason']} after {report['elapsed_seconds']} s")
    return "\n".join(lines)


def _parse_rates(text: str) -> list[float | None]:
    rates: list[float | None] = []
    for part in (piece.strip() for piece in text.split(",")):
        if part == MAX_RATE:
            rates.append(None)
        elif part:
            rate = float(part)
            if rate <= 0:
                raise argparse.ArgumentTypeError(f"a rate must be positive, got {part}")
            rates.append(rate)
    if not rates:
        raise argparse.ArgumentTypeError("give at least one rate")
    return rates


def _parser() -> argparse.ArgumentParser:
    defaults = CeilingConfig(targets=["127.0.0.1:50051"])
    parser = argparse.ArgumentParser(
        prog="python -m loadtest.ceiling",
        description="Find a dcrm chain's knee: committed tx/s and latency against offered load, measured from blocks.",
    )
    parser.add_argument(
        "--targets",
        default=os.environ.get("DCRM_TARGETS", "127.0.0.1:50051"),
        help="comma-separated node endpoints (host:port): submitter i sends to endpoint i first; blocks are "
        "followed on the first",
    )
    parser.add_argument("--workload", choices=WORKLOADS, default=defaults.workload)
    parser.add_argument(
        "--rates",
        type=_parse_rates,
        default=None,
        help='explicit steps, e.g. "500,1000,2000,max" ("max": as fast as the chain admits)',
    )
    parser.add_argument("--start-rate", type=float, default=defaults.start_rate)
    parser.add_argument("--growth", type=float, default=defaults.growth)
    parser.add_argument("--max-steps", type=int, default=defaults.max_steps)
    parser.add_argument(
        "--refine-steps",
        type=int,
        default=defaults.refine_steps,
        help="after the first saturated step, bisect this many times between it and the last sustained one",
    )
    parser.add_argument("--step-seconds", type=float, default=defaults.step_seconds)
    parser.add_argument(
        "--drain-seconds",
        type=float,
        default=defaults.drain_seconds,
        help="how long after a step's last submission its transactions may still commit",
    )
    parser.add_argument("--max-seconds", type=float, default=defaults.max_seconds, help="bound on the whole run")
    parser.add_argument(
        "--max-transactions", type=int, default=defaults.max_transactions, help="bound on the transactions of all steps"
    )
    parser.add_argument(
        "--max-rate-transactions", type=int, default=defaults.max_rate_transactions, help='transactions of a "max" step'
    )
    parser.add_argument("--submitters", type=int, default=defaults.submitters, help="submitter processes")
    parser.add_argument("--nonces-per-sender", type=int, default=defaults.nonces_per_sender)
    parser.add_argument("--latency-slo-ms", type=float, default=defaults.latency_slo_ms)
    parser.add_argument(
        "--node-pid",
        type=int,
        action="append",
        dest="node_pids",
        help="a node process to sample (repeatable); default: whatever listens on loopback targets",
    )
    parser.add_argument("--verify-seconds", type=float, default=defaults.verify_seconds)
    parser.add_argument("--tls-ca", default=os.environ.get("DCRM_TLS_CA"), help="PEM roots: connect with TLS")
    parser.add_argument(
        "--client-cert", default=os.environ.get("DCRM_CLIENT_CERT"), help="client certificate (mutual TLS)"
    )
    parser.add_argument("--client-key", default=os.environ.get("DCRM_CLIENT_KEY"), help="client key (mutual TLS)")
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="folder for ceiling.json and ceiling.png (default loadtest/results/<timestamp>-ceiling)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    options = _parser().parse_args(argv)
    config = CeilingConfig(
        targets=parse_targets(options.targets),
        workload=options.workload,
        rates=options.rates,
        start_rate=options.start_rate,
        growth=options.growth,
        max_steps=options.max_steps,
        refine_steps=options.refine_steps,
        step_seconds=options.step_seconds,
        drain_seconds=options.drain_seconds,
        max_seconds=options.max_seconds,
        max_transactions=options.max_transactions,
        max_rate_transactions=options.max_rate_transactions,
        submitters=options.submitters,
        nonces_per_sender=options.nonces_per_sender,
        latency_slo_ms=options.latency_slo_ms,
        node_pids=options.node_pids,
        verify_seconds=options.verify_seconds,
        tls_ca=options.tls_ca,
        client_cert=options.client_cert,
        client_key=options.client_key,
    )
    out = options.out or Path("loadtest/results") / (datetime.now().strftime("%Y%m%d-%H%M%S") + "-ceiling")
    try:
        report = run_ceiling(config)
    except DcrmError as error:
        print(f"error: {describe_error(error)}", file=sys.stderr)
        return 1
    except TimeoutError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    out.mkdir(parents=True, exist_ok=True)
    (out / "ceiling.json").write_text(json.dumps(report, indent=2) + "\n")
    from loadtest.chart import render_ceiling_chart

    render_ceiling_chart(report, out / "ceiling.png")
    print(summary(report))
    print(f"report: {out / 'ceiling.json'}, chart: {out / 'ceiling.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
