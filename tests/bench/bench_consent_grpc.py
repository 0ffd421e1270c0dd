"""Benchmark: consent checks per second through gRPC, as a CRM asks them: the SDK's `client.consent.check` (one
check per call) and `client.consent.check_many` (a batch per call) against one node process, from several client
processes with several threads each.

Setup (not timed): one `dcrm node start` process (tests/support/node_process.py); an enterprise with the role
controller and its identity DID; SUBJECTS customers, each with an identity DID and a consent to the
enterprise for 2 purposes x 2 data categories. The node's per-address request limit
(`limits.peer_requests_per_second`, 5,000 by default) is lifted, since every client here is 127.0.0.1.

Load: `processes` client processes (spawned) x `threads` threads, each thread calling
`client.consent.check(subject, controller, purpose, category, verify=...)` -- or `client.consent.check_many` with
`batch` such tuples -- in a closed loop for `seconds`, cycling through the subjects and pairs; every answer must be
allowed. Variants:
- unverified: one Query RPC per check (what a CRM asks before each use of personal data);
- verified: the answer is confirmed with state proofs: the Query plus one QueryState RPC per state key (2) with
  the commit certificate and Merkle proof checked in the client;
- single: unverified, one process with one thread: the latency of one check on an idle node;
- batch: unverified `check_many` of `batch` checks (100 by default) per Query RPC (a campaign, a nightly sync);
- batch_verified: the same, verified: one QueryState RPC per distinct state key of the batch (of the 100 checks
  over 16 subjects x 4 pairs, up to 80 distinct keys: 16 records and 64 grant index entries);
- batch_single: unverified `check_many`, one process with one thread: the latency of one batch on an idle node.
Reported: checks/s (all checks completed inside the window / window) and, for the batches, calls/s; latency of
one call p50 / p99 / max in ms; and the node process's CPU time per check (from /proc, Linux only; it includes
the workers' warm-up calls).

    python -m tests.bench.bench_consent_grpc --seconds 10 --processes 3 --threads 4 --batch 100
"""

from __future__ import annotations

import argparse
import hashlib
import json
import multiprocessing
import os
import statistics
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dcrm.client import Client
from dcrm.client.keys import SigningKey
from dcrm.v1 import consent_pb2
from tests.support.node_process import local_node

__all__ = ["run"]

SUBJECTS = 16
PURPOSES = ("newsletter", "offers")
CATEGORIES = ("dpv-pd:EmailAddress", "dpv-pd:Name")
DAY_MS = 86_400_000
NODE_CONFIG = "[limits]\npeer_requests_per_second = 1000000\npeer_burst = 1000000\n"
BATCH = 100  # checks per check_many call
START_DELAY_SECONDS = 2.0  # workers connect and warm up before the common start time


@dataclass(frozen=True)
class Target:
    """What every worker checks: the node, the controller DID, the subjects' DIDs."""

    endpoint: str
    controller: str
    subjects: tuple[str, ...]


def _terms() -> consent_pb2.Terms:
    return consent_pb2.Terms(
        purposes=[consent_pb2.Purpose(id=purpose, category="dpv:ServiceProvision") for purpose in PURPOSES],
        data_categories=[consent_pb2.DataCategory(id=category) for category in CATEGORIES],
        lawful_basis="dpv-gdpr:A6-1-a",
        notice=consent_pb2.Notice(
            url="https://bench.example/privacy", content_hash=hashlib.sha256(b"notice").digest(), version="v1",
            language="en",
        ),
        collection_method="web-form",
        collection_channel="website",
        consent_type=consent_pb2.CONSENT_TYPE_EXPRESS,
        retention_ms=365 * DAY_MS,
        jurisdiction="EU",
        withdrawal_method="https://bench.example/consent",
    )  # fmt: skip


def setup(endpoint: str, admin_key: SigningKey, subjects: int) -> Target:
    """The enterprise (role controller, a DID) and `subjects` customers with a DID and a consent each."""
    with Client(endpoint) as client:
        enterprise_key = SigningKey((900_000).to_bytes(32, "big"))
        client.system.grant_role(client.account(admin_key), enterprise_key.account_id, "controller")
        controller = client.identity.create_did(client.account(enterprise_key), enterprise_key.public_key).did
        until = time.time_ns() // 1_000_000 + 30 * DAY_MS
        dids = []
        for index in range(subjects):
            key = SigningKey((900_001 + index).to_bytes(32, "big"))
            customer = client.account(key)
            did = client.identity.create_did(customer, key.public_key).did
            client.consent.grant(
                customer, client_ref=b"bench", subject=did, controller=controller, terms=_terms(), valid_until_ms=until
            )
            dids.append(did)
    return Target(endpoint, controller, tuple(dids))


def _tuples(target: Target, step: int, count: int) -> list[tuple[str, str, str, str]]:
    """`count` (subject, controller, purpose, category) checks from position `step` of the cycle through them."""
    pairs = [(purpose, category) for purpose in PURPOSES for category in CATEGORIES]
    return [
        (target.subjects[at % len(target.subjects)], target.controller, *pairs[at % len(pairs)])
        for at in range(step, step + count)
    ]


def _call(client: Client, checks: list[tuple[str, str, str, str]], verify: bool, batch: int) -> None:
    """One call: `check` of the one tuple when batch is 1, else one `check_many`; every answer must be allowed."""
    if batch == 1:
        answers = [client.consent.check(*checks[0], verify=verify)]
    else:
        answers = client.consent.check_many(checks, verify=verify)
    for answer, checked in zip(answers, checks, strict=True):
        if not answer.allowed:
            raise RuntimeError(f"check of {checked} was denied: {answer.reason}")


def _thread(
    client: Client, target: Target, verify: bool, batch: int, offset: int, start: float, end: float
) -> list[float]:
    """Closed-loop calls of `batch` checks from `start` to `end` (perf_counter of this process); the latency of
    each call, in seconds."""
    latencies: list[float] = []
    step = offset
    while time.perf_counter() < start:
        time.sleep(0.001)
    while True:
        checks = _tuples(target, step, batch)
        step += batch
        began = time.perf_counter()
        if began >= end:
            return latencies
        _call(client, checks, verify, batch)
        finished = time.perf_counter()
        if finished <= end:
            latencies.append(finished - began)


def _worker(
    target: Target, threads: int, verify: bool, batch: int, seed: int, start_at: float, seconds: float
) -> list[float]:
    """One client process: `threads` threads sharing one Client; all calls run in [start_at, start_at+seconds)
    of the wall clock. Returns the latencies of the calls completed inside the window."""
    with Client(target.endpoint, timeout=30) as client:
        for _ in range(20):  # warm the channel and the status cache (chain id, validators)
            _call(client, _tuples(target, 0, batch), verify, batch)
        start = time.perf_counter() + (start_at - time.time())
        end = start + seconds
        with ThreadPoolExecutor(threads) as pool:
            futures = [
                pool.submit(_thread, client, target, verify, batch, seed * 1_000 + index * 7, start, end)
                for index in range(threads)
            ]
            return [latency for future in futures for latency in future.result()]


def _cpu_seconds(pid: int | None) -> float | None:
    """User + system CPU time of process `pid` so far, from /proc (None elsewhere or without a pid)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(
    target: Target,
    *,
    processes: int,
    threads: int,
    verify: bool,
    seconds: float,
    batch: int = 1,
    node_pid: int | None = None,
) -> dict[str, Any]:
    """Checks and calls per second and per-call latency percentiles of one load shape (and the node's CPU time per
    check). `batch` is the number of checks per call: 1 calls `check`, more call `check_many`."""
    if batch < 1:
        raise ValueError(f"batch must be at least 1, got {batch}")
    context = multiprocessing.get_context("spawn")  # no fork of a process that holds gRPC channels
    start_at = time.time() + START_DELAY_SECONDS + 0.5 * processes
    cpu_before = _cpu_seconds(node_pid)
    with context.Pool(processes) as pool:
        results = pool.starmap(
            _worker, [(target, threads, verify, batch, seed, start_at, seconds) for seed in range(processes)]
        )
    cpu_after = _cpu_seconds(node_pid)
    latencies = sorted(latency for result in results for latency in result)
    if not latencies:
        raise RuntimeError("no call completed inside the measuring window")
    checks = len(latencies) * batch
    node_cpu = None if cpu_before is None or cpu_after is None else cpu_after - cpu_before
    return {
        "processes": processes,
        "threads": threads,
        "verify": verify,
        "batch": batch,
        "seconds": seconds,
        "calls": len(latencies),
        "calls_per_s": round(len(latencies) / seconds),
        "checks": checks,
        "checks_per_s": round(checks / seconds),
        "p50_ms": round(_percentile(latencies, 0.50) * 1000, 2),
        "p99_ms": round(_percentile(latencies, 0.99) * 1000, 2),
        "max_ms": round(latencies[-1] * 1000, 2),
        "mean_ms": round(statistics.fmean(latencies) * 1000, 2),
        "node_cpu_us_per_check": None if node_cpu is None else round(node_cpu / checks * 1e6, 1),
    }


def _percentile(ordered: Sequence[float], fraction: float) -> float:
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def run(
    seconds: float = 10.0, processes: int = 3, threads: int = 4, subjects: int = SUBJECTS, batch: int = BATCH
) -> dict[str, Any]:
    """Start a node, set up the consents, and measure the unverified, verified and single-client checks, and the
    same three shapes of check_many calls of `batch` checks."""
    with tempfile.TemporaryDirectory() as folder:
        node = local_node(Path(folder) / "chain")
        node.extra_config = NODE_CONFIG
        node.start()
        try:
            assert node.process is not None
            pid = node.process.pid
            target = setup(node.endpoint, node.admin, subjects)
            figures: dict[str, Any] = {
                "subjects": subjects,
                "cpus": os.cpu_count(),
                "aim": "unverified >= 5,000 checks/s on one node",
            }
            for name, verify in (("unverified", False), ("verified", True)):
                figures[name] = measure(
                    target, processes=processes, threads=threads, verify=verify, seconds=seconds, node_pid=pid
                )
            figures["single"] = measure(
                target, processes=1, threads=1, verify=False, seconds=min(seconds, 5.0), node_pid=pid
            )
            for name, verify in (("batch", False), ("batch_verified", True)):
                figures[name] = measure(
                    target,
                    processes=processes,
                    threads=threads,
                    verify=verify,
                    seconds=seconds,
                    batch=batch,
                    node_pid=pid,
                )
            figures["batch_single"] = measure(
                target, processes=1, threads=1, verify=False, seconds=min(seconds, 5.0), batch=batch, node_pid=pid
            )
        finally:
            node.stop()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="measuring window per variant")
    parser.add_argument("--processes", type=int, default=3, help="client processes")
    parser.add_argument("--threads", type=int, default=4, help="threads per client process")
    parser.add_argument("--subjects", type=int, default=SUBJECTS)
    parser.add_argument("--batch", type=int, default=BATCH, help="checks per check_many call in the batch variants")
    parser.add_argument("--out", type=Path, default=Path("bench-results"))
    options = parser.parse_args()
    figures = run(options.seconds, options.processes, options.threads, options.subjects, options.batch)
    options.out.mkdir(parents=True, exist_ok=True)
    (options.out / "consent_grpc.json").write_text(json.dumps(figures, indent=2))
    for name in ("unverified", "verified", "single", "batch", "batch_verified", "batch_single"):
        found = figures[name]
        print(
            f"{name:14} {found['processes']} x {found['threads']} clients  batch {found['batch']:>4}  "
            f"{found['checks_per_s']:>7,} checks/s  {found['calls_per_s']:>6,} calls/s  "
            f"per call p50 {found['p50_ms']:>7} ms  p99 {found['p99_ms']:>7} ms  max {found['max_ms']:>7} ms  "
            f"node CPU {found['node_cpu_us_per_check']} us/check"
        )
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
