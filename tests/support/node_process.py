"""Real node processes for integration tests: a local chain in a folder, started with `dcrm node start`.

Ports are chosen by the node (port 0) and read back from data_dir/grpc.port; readiness is awaited by
polling GetStatus with a generous deadline, never a fixed sleep.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import grpc

from dcrm.client.keys import SigningKey, save_key
from dcrm.runtime import Genesis
from dcrm.v1 import node_pb2, node_pb2_grpc
from tests.support.runtime_harness import GenesisBuilder, deterministic_key

READY_DEADLINE_SECONDS = 60.0
STOP_DEADLINE_SECONDS = 30.0
DCRM = str(Path(sys.executable).with_name("dcrm"))


def wait_until(condition: Callable[[], bool], deadline_seconds: float, what: str, interval: float = 0.05) -> None:
    """Poll `condition` until it holds; fail naming `what` after the deadline."""
    deadline = time.monotonic() + deadline_seconds
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {deadline_seconds:.0f} s waiting for {what}")
        time.sleep(interval)


@dataclass
class NodeProcess:
    """One `dcrm node start` process over a data folder that survives restarts."""

    root: Path
    genesis: Genesis
    validator: SigningKey
    admin: SigningKey
    extra_config: str = ""
    credentials: grpc.ChannelCredentials | None = None  # TLS nodes: what the readiness probe connects with
    env: dict[str, str] = field(default_factory=dict)  # extra environment of the node process
    process: subprocess.Popen[bytes] | None = None
    port: int = 0
    starts: int = field(default=0)

    @property
    def config_path(self) -> Path:
        return self.root / "config.toml"

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.root / "node.log"

    def write_files(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / "genesis.json").write_text(json.dumps(self.genesis.to_json(), indent=2, sort_keys=True))
        key_path = self.root / "validator.key"
        if not key_path.exists():
            save_key(key_path, self.validator)
        self.config_path.write_text(
            "[node]\n"
            'data_dir = "data"\n'
            'genesis = "genesis.json"\n'
            'validator_key = "validator.key"\n'
            "[api]\n"
            'host = "127.0.0.1"\n'
            "port = 0\n"
            "[consensus]\n"
            "block_interval_ms = 20\n"
            "idle_block_ms = 1000\n" + self.extra_config
        )

    def start(self) -> None:
        self.launch()
        self.wait_ready()

    def launch(self) -> None:
        """Start the process without waiting for it to serve (see `wait_ready`)."""
        if not self.config_path.exists():
            self.write_files()
        (self.data_dir / "grpc.port").unlink(missing_ok=True)
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [DCRM, "node", "start", "--config", str(self.config_path)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **self.env},
        )
        log.close()
        self.starts += 1

    def wait_ready(self) -> None:
        """Wait until the node serves; a node that never does is killed (no process outlives its test)."""
        port_file = self.data_dir / "grpc.port"
        try:
            wait_until(
                lambda: self._exited_early() or port_file.exists(), READY_DEADLINE_SECONDS, "the node's port file"
            )
            self.port = int(port_file.read_text())
            wait_until(lambda: self._exited_early() or self._answers(), READY_DEADLINE_SECONDS, "GetStatus")
        except BaseException:
            self.kill()
            raise

    def _exited_early(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise RuntimeError(f"node exited with {self.process.returncode}:\n{self.log_tail()}")
        return False

    def port_file(self, name: str) -> int:
        """A port the node wrote into its data folder (grpc-mtls.port, metrics.port)."""
        return int((self.data_dir / name).read_text())

    def _answers(self) -> bool:
        if self.credentials is None:
            channel = grpc.insecure_channel(self.endpoint)
        else:
            channel = grpc.secure_channel(self.endpoint, self.credentials)
        with channel:
            try:
                node_pb2_grpc.NodeStub(channel).GetStatus(node_pb2.GetStatusRequest(), timeout=2)
            except grpc.RpcError:
                return False
        return True

    def log_tail(self, lines: int = 40) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def kill(self) -> None:
        """SIGKILL: no chance to flush or clean up."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(STOP_DEADLINE_SECONDS)

    def stop(self) -> int:
        """SIGTERM and wait; returns the exit code."""
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(STOP_DEADLINE_SECONDS)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(STOP_DEADLINE_SECONDS)
                raise
        return self.process.returncode


def local_node(root: Path, builder: GenesisBuilder | None = None) -> NodeProcess:
    """A single-validator chain in `root` with deterministic validator and admin keys."""
    validator = deterministic_key(1000)
    admin = deterministic_key(0)
    builder = builder or GenesisBuilder(validators=[validator], admins=[admin])
    return NodeProcess(root, builder.build(), validator, admin)
