"""What the machine can do and what the processes under test use: secp256k1 verifications per second, and
CPU and memory of the node processes (psutil) while a load runs.

Every validator recovers the signer of every transaction (a recoverable secp256k1 signature), so
committed tx/s x validators / verifications per second is the share of this machine's signature-checking
capacity a chain uses: a figure that compares across machines of different speed.
"""

from __future__ import annotations

import hashlib
import ipaddress
import multiprocessing
import os
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import psutil

from dcrm.client import SigningKey, recover_public_key

__all__ = [
    "ProcessSampler",
    "ProcessUsage",
    "VerificationRate",
    "is_loopback_target",
    "listening_pid",
    "measure_verification_rate",
]

SIGNATURES_IN_LOOP = 256


def _recoveries_per_second(seconds: float) -> float:
    """Recover public keys from recoverable signatures (what the node does per transaction) for `seconds`."""
    key = SigningKey(hashlib.sha256(b"dcrm-loadtest/verification-rate").digest())
    messages = [hashlib.sha256(index.to_bytes(4, "big")).digest() * 6 for index in range(SIGNATURES_IN_LOOP)]
    signed = [(message, key.sign_recoverable(message)) for message in messages]
    done = 0
    started = time.perf_counter()
    deadline = started + seconds
    while True:
        for message, signature in signed:
            recover_public_key(message, signature)
        done += len(signed)
        now = time.perf_counter()
        if now >= deadline:
            return done / (now - started)


@dataclass(frozen=True)
class VerificationRate:
    """secp256k1 public-key recoveries per second: one process, and all `processes` cores at once (summed)."""

    one_core: float
    all_cores: float
    processes: int


def measure_verification_rate(seconds: float = 1.0, processes: int | None = None, rounds: int = 3) -> VerificationRate:
    """Measure on an otherwise idle machine: one process alone, then one per core at once, each `rounds`
    times for `seconds`, keeping the best round (shared machines are noisy: the best round is the closest to
    what the cores can do)."""
    processes = processes or os.cpu_count() or 1
    one_core = max(_recoveries_per_second(seconds) for _ in range(rounds))
    if processes == 1:
        return VerificationRate(one_core, one_core, 1)
    with multiprocessing.get_context("spawn").Pool(processes) as pool:
        all_cores = max(sum(pool.map(_recoveries_per_second, [seconds] * processes)) for _ in range(rounds))
    return VerificationRate(one_core, all_cores, processes)


def is_loopback_target(target: str) -> bool:
    """Whether "host:port" names this machine (127.0.0.0/8, ::1 or localhost)."""
    host = target.rpartition(":")[0].strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def listening_pid(port: int) -> int | None:
    """The id of the process listening on TCP `port` on this machine, if it can be seen."""
    try:
        connections = psutil.net_connections(kind="tcp")
    except psutil.AccessDenied:
        return None
    for connection in connections:
        if connection.status == psutil.CONN_LISTEN and connection.laddr and connection.laddr.port == port:
            return connection.pid
    return None


@dataclass
class ProcessUsage:
    """CPU (percent of one core) and resident memory samples of one process."""

    pid: int
    name: str
    cpu_percent: list[float] = field(default_factory=list)
    rss_bytes: list[int] = field(default_factory=list)

    def summary(self) -> dict[str, float | int | str | None]:
        return {
            "pid": self.pid,
            "name": self.name,
            "cpu_percent_mean": round(sum(self.cpu_percent) / len(self.cpu_percent), 1) if self.cpu_percent else None,
            "cpu_percent_max": round(max(self.cpu_percent), 1) if self.cpu_percent else None,
            "rss_mib_max": round(max(self.rss_bytes) / 2**20, 1) if self.rss_bytes else None,
        }


class ProcessSampler:
    """Samples CPU and memory of some processes, and the machine's CPU, every `interval` seconds in a thread.

    `start_window()` opens a new window (one load step); `end_window()` closes it and returns what each
    process used in it, with the machine's mean CPU (percent of all cores).
    """

    def __init__(self, pids: Sequence[int], interval: float = 0.5) -> None:
        self._processes: dict[int, psutil.Process] = {}
        for pid in pids:
            try:
                self._processes[pid] = psutil.Process(pid)
            except psutil.NoSuchProcess:
                continue
        self._interval = interval
        self._lock = threading.Lock()
        self._window: dict[int, ProcessUsage] = {}
        self._machine: list[float] = []
        self._stop = threading.Event()
        for process in self._processes.values():
            process.cpu_percent(None)  # the first call only sets the baseline
        psutil.cpu_percent(None)
        self._thread = threading.Thread(target=self._run, name="process-sampler", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            machine = psutil.cpu_percent(None)
            samples: list[tuple[int, str, float, int]] = []
            for pid, process in list(self._processes.items()):
                try:
                    with process.oneshot():
                        samples.append((pid, process.name(), process.cpu_percent(None), process.memory_info().rss))
                except psutil.NoSuchProcess:
                    continue
            with self._lock:
                self._machine.append(machine)
                for pid, name, cpu, rss in samples:
                    usage = self._window.setdefault(pid, ProcessUsage(pid, name))
                    usage.cpu_percent.append(cpu)
                    usage.rss_bytes.append(rss)

    def start_window(self) -> None:
        with self._lock:
            self._window = {}
            self._machine = []

    def end_window(self) -> tuple[list[ProcessUsage], float | None]:
        with self._lock:
            usage = list(self._window.values())
            machine = round(sum(self._machine) / len(self._machine), 1) if self._machine else None
            self._window = {}
            self._machine = []
        return usage, machine

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
