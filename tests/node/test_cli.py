"""The `dcrm` command: keys, node init, config errors, and a real node driven end to end through the CLI."""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from dcrm.client.keys import load_key
from dcrm.node.cli.main import main
from dcrm.node.config import ApiConfig
from dcrm.node.config_loader import load_config
from dcrm.runtime import Genesis, Runtime
from dcrm.runtime.modules import default_modules
from dcrm.v1 import node_pb2, node_pb2_grpc

DCRM = str(Path(sys.executable).with_name("dcrm"))
READY_DEADLINE_SECONDS = 60.0
COMMAND_TIMEOUT_SECONDS = 60.0
STOP_DEADLINE_SECONDS = 30.0
SERVING = re.compile(r"dcrm node ([0-9a-f]{40}) serving gRPC on 127\.0\.0\.1:([0-9]+)")


def dcrm(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [DCRM, *args], capture_output=True, text=True, timeout=COMMAND_TIMEOUT_SECONDS, env=env, check=False
    )


def run_main(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


# --- keys ---------------------------------------------------------------------------------------------


def test_keys_new_then_show(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "alice.key"
    code, out, _ = run_main(capsys, "keys", "new", "--out", str(path))
    assert code == 0
    key = load_key(path)
    assert path.stat().st_mode & 0o777 == 0o600
    assert f"account     {key.account_id.hex()}" in out
    assert f"public key  {key.public_key.hex()}" in out
    code, out, _ = run_main(capsys, "keys", "show", str(path), "--json")
    assert code == 0
    assert json.loads(out) == {
        "account": key.account_id.hex(),
        "public_key": key.public_key.hex(),
        "file": str(path),
        "encrypted": False,
    }
    assert key.to_hex() not in out


def test_keys_new_never_overwrites(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "alice.key"
    assert run_main(capsys, "keys", "new", "--out", str(path))[0] == 0
    before = path.read_bytes()
    code, _, err = run_main(capsys, "keys", "new", "--out", str(path))
    assert (code, err) == (1, f"error: key file {path}: already exists; refusing to overwrite it\n")
    assert path.read_bytes() == before


def test_keys_show_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_main(capsys, "keys", "show", str(tmp_path / "none.key"))
    assert (code, err) == (1, f"error: key file {tmp_path / 'none.key'}: does not exist\n")


def test_keys_and_node_init_need_no_server_modules(tmp_path: Path) -> None:
    script = (
        "import sys\n"
        "from dcrm.node.cli.main import main\n"
        f"assert main(['keys', 'new', '--out', {str(tmp_path / 'k.key')!r}]) == 0\n"
        f"assert main(['node', 'init', '--data', {str(tmp_path / 'chain')!r}]) == 0\n"
        "server = ('plyvel', 'libp2p', 'trio', 'dcrm.node.service', 'dcrm.node.api.server')\n"
        "heavy = [name for name in server if name in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=COMMAND_TIMEOUT_SECONDS, check=False
    )
    assert result.returncode == 0, result.stderr


# --- node init ------------------------------------------------------------------------------------------


def test_node_init_writes_a_chain_the_runtime_accepts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "chain"
    before_ms = time.time_ns() // 1_000_000
    code, out, _ = run_main(
        capsys,
        "node",
        "init",
        "--data",
        str(data),
        "--chain-id",
        "test-chain",
        "--validators",
        "4",
        "--base-port",
        "6100",
    )
    assert code == 0, out
    genesis = Genesis.from_bytes((data / "genesis.json").read_bytes())
    Runtime("test-chain", default_modules()).build_genesis(genesis)  # raises GenesisError when invalid
    assert genesis.chain_id == "test-chain"
    assert before_ms <= genesis.timestamp_ms <= time.time_ns() // 1_000_000
    system = genesis.modules["system"]
    admin = load_key(data / "admin.key")
    assert system["roles"] == {"admin": [admin.account_id.hex()]}
    validators = []
    for index in range(4):
        config = load_config(data / f"node{index}" / "config.toml", {})
        assert config.api == ApiConfig(port=6100 + index)
        assert config.genesis_path == (data / "genesis.json").resolve()
        assert config.data_dir == (data / f"node{index}" / "data").resolve()
        assert config.validator_key_path.stat().st_mode & 0o777 == 0o600
        validators.append(load_key(config.validator_key_path).public_key.hex())
    assert system["validators"] == validators
    assert not (data / "node4").exists()
    assert f"admin key  {data / 'admin.key'} (account {admin.account_id.hex()})" in out


def test_node_init_refuses_to_overwrite_a_chain(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "chain"
    assert run_main(capsys, "node", "init", "--data", str(data), "--validators", "2")[0] == 0
    genesis = (data / "genesis.json").read_bytes()
    (data / "node0" / "data").mkdir()
    code, _, err = run_main(capsys, "node", "init", "--data", str(data))
    assert code == 1
    assert err == (
        f"error: {data} already holds a chain (genesis.json, admin.key, node0/, node1/); pass --force to delete "
        "it and its nodes' data, or choose another --data folder\n"
    )
    assert (data / "genesis.json").read_bytes() == genesis
    assert (data / "node1").exists()

    code, _, _ = run_main(capsys, "node", "init", "--data", str(data), "--force")
    assert code == 0
    assert (data / "genesis.json").read_bytes() != genesis
    assert not (data / "node1").exists()  # the old chain's second node is gone with --force
    assert not (data / "node0" / "data").exists()


def test_node_init_rejects_bad_arguments(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["node", "init", "--data", str(tmp_path), "--validators", "0"])
    assert caught.value.code == 2
    assert "--validators: expected an integer from 1 to 100, got '0'" in capsys.readouterr().err
    code, _, err = run_main(
        capsys, "node", "init", "--data", str(tmp_path), "--validators", "3", "--base-port", "65534"
    )
    assert (code, err) == (1, "error: --base-port 65534 leaves no room for 6 ports below 65536\n")
    assert list(tmp_path.iterdir()) == []


# --- node start: configuration errors -----------------------------------------------------------------------


def test_node_start_with_a_bad_config_exits_2_with_the_precise_message(tmp_path: Path) -> None:
    data = tmp_path / "chain"
    assert dcrm("node", "init", "--data", str(data)).returncode == 0
    config = data / "node0" / "config.toml"
    config.write_text(config.read_text().replace("port = 50051", "port = 70000"))
    result = dcrm("node", "start", "--config", str(config))
    assert result.returncode == 2
    assert result.stderr == f"config error: {config}: api.port: expected an integer from 0 to 65535, got 70000\n"
    assert result.stdout == ""

    result = dcrm("node", "start", "--config", str(tmp_path / "missing.toml"))
    assert result.returncode == 2
    assert result.stderr == (
        f"config error: {tmp_path / 'missing.toml'}: file: expected an existing config file, but there is none at "
        "this path\n"
    )

    env = {**os.environ, "DCRM_LOG_LEVEL": "loud"}
    config.write_text(config.read_text().replace("port = 70000", "port = 0"))
    result = dcrm("node", "start", "--config", str(config), env=env)
    assert result.returncode == 2
    assert result.stderr == (
        f'config error: {config}: DCRM_LOG_LEVEL: expected one of "debug", "info", "warning", "error" for '
        'log.level, got "loud"\n'
    )


def test_unreachable_node_is_an_error_without_traceback(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_main(capsys, "status", "--endpoint", f"127.0.0.1:{free_port()}", "--timeout", "5")
    assert code == 1
    assert err.startswith("error: UNAVAILABLE"), err


# --- a real node, end to end -------------------------------------------------------------------------------------


class RunningCommand:
    """A long-running dcrm process whose stdout lines are collected by a thread (stderr goes to a file)."""

    def __init__(self, args: list[str], log: Path, env: dict[str, str]) -> None:
        self.log = log
        with log.open("wb") as stderr:
            self.process = subprocess.Popen(
                [DCRM, *args], stdout=subprocess.PIPE, stderr=stderr, text=True, env={**env, "PYTHONUNBUFFERED": "1"}
            )
        self.lines: queue.Queue[str] = queue.Queue()
        self.output: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line)

    def wait_for_line(self, pattern: re.Pattern[str]) -> re.Match[str]:
        deadline = time.monotonic() + READY_DEADLINE_SECONDS
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.2)
            except queue.Empty:
                if self.process.poll() is not None and self.lines.empty():
                    break
                continue
            self.output.append(line)
            match = pattern.search(line)
            if match:
                return match
        raise AssertionError(f"no line matching {pattern.pattern}; output: {self.output}; log:\n{self.diagnostics()}")

    def diagnostics(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def stop(self, signum: int = signal.SIGTERM) -> int:
        self.process.send_signal(signum)
        return self.process.wait(STOP_DEADLINE_SECONDS)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(STOP_DEADLINE_SECONDS)
        if self.process.stdout is not None:
            self.process.stdout.close()


def wait_until_serving(endpoint: str) -> None:
    deadline = time.monotonic() + READY_DEADLINE_SECONDS
    with grpc.insecure_channel(endpoint) as channel:
        stub = node_pb2_grpc.NodeStub(channel)
        while True:
            try:
                stub.GetStatus(node_pb2.GetStatusRequest(), timeout=2)
                return
            except grpc.RpcError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)


@pytest.fixture
def chain(tmp_path: Path) -> Path:
    data = tmp_path / "chain"
    result = dcrm("node", "init", "--data", str(data))
    assert result.returncode == 0, result.stderr
    return data


@pytest.fixture
def node(chain: Path, tmp_path: Path) -> Iterator[tuple[RunningCommand, str]]:
    """`dcrm node start` on a port the node picks (DCRM_API_PORT=0), ready to answer GetStatus."""
    env = {**os.environ, "DCRM_API_PORT": "0", "DCRM_CONSENSUS_BLOCK_INTERVAL_MS": "10"}
    command = RunningCommand(
        ["node", "start", "--config", str(chain / "node0" / "config.toml")], tmp_path / "node.log", env
    )
    try:
        match = command.wait_for_line(SERVING)
        assert match.group(1) == load_key(chain / "node0" / "validator.key").account_id.hex()
        endpoint = f"127.0.0.1:{match.group(2)}"
        wait_until_serving(endpoint)
        yield command, endpoint
    finally:
        command.kill()


def test_end_to_end_through_the_cli(chain: Path, node: tuple[RunningCommand, str], tmp_path: Path) -> None:
    command, endpoint = node
    admin = load_key(chain / "admin.key")
    admin_key = str(chain / "admin.key")

    result = dcrm("status", "--endpoint", endpoint, "--json")
    assert result.returncode == 0, result.stderr
    status = json.loads(result.stdout)
    assert status["chain_id"] == "dcrm-local"
    assert [v["public_key"] for v in status["validators"]] == [
        load_key(chain / "node0" / "validator.key").public_key.hex()
    ]

    result = dcrm("tx", "remark", "--endpoint", endpoint, "--key", admin_key, "--note", "hello", "--wait")
    assert result.returncode == 0, result.stderr
    assert re.search(r"^tx hash  [0-9a-f]{64}$", result.stdout, re.MULTILINE), result.stdout
    assert re.search(r"^block    [0-9]+ \(transaction 0\)$", result.stdout, re.MULTILINE), result.stdout
    assert "result   success" in result.stdout

    result = dcrm("query", "account", "--endpoint", endpoint, admin.account_id.hex())
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"account  {admin.account_id.hex()}\nnonce    1\nroles    admin\n"

    # A role for a new key, seen by role-members; a failing call reports its module error and exits 1.
    alice_key = tmp_path / "alice.key"
    assert dcrm("keys", "new", "--out", str(alice_key)).returncode == 0
    alice = load_key(alice_key).account_id.hex()
    result = dcrm(
        "tx", "grant-role", "--endpoint", endpoint, "--key", admin_key, "--account", alice, "--role", "issuer"
    )
    assert result.returncode == 0, result.stderr
    result = dcrm("query", "role-members", "--endpoint", endpoint, "issuer", "--json")
    assert json.loads(result.stdout) == {"role": "issuer", "accounts": [alice]}
    result = dcrm(
        "tx", "revoke-role", "--endpoint", endpoint, "--key", admin_key, "--account", alice, "--role", "controller"
    )
    assert result.returncode == 1
    assert "result   failed" in result.stdout
    assert re.fullmatch(r"error: transaction [0-9a-f]{64} failed in block [0-9]+: RoleNotHeld .*\n", result.stderr)
    result = dcrm(
        "tx", "grant-role", "--endpoint", endpoint, "--key", str(alice_key), "--account", alice, "--role", "admin"
    )
    assert result.returncode == 1
    assert result.stderr.startswith("error: PERMISSION_DENIED: "), result.stderr  # refused at admission

    # A verified state read: the admin's next nonce (remark, grant, failed revoke).
    result = dcrm("query", "state", "--endpoint", endpoint, f"system/nonce/0x{admin.account_id.hex()}")
    assert result.returncode == 0, result.stderr
    assert "value  0000000000000003" in result.stdout
    assert "proof  verified: commit certificate and Merkle proof" in result.stdout
    result = dcrm("query", "state", "--endpoint", endpoint, "system/nonce/0x" + "00" * 20, "--json")
    assert json.loads(result.stdout)["exists"] is False

    result = dcrm("tx", "remark", "--endpoint", endpoint, "--key", admin_key, "--note", "later", "--json")
    assert result.returncode == 0, result.stderr
    submitted = json.loads(result.stdout)
    assert submitted["state"] == "submitted"
    assert re.fullmatch(r"[0-9a-f]{64}", submitted["tx_hash"])

    assert command.stop(signal.SIGTERM) == 0, command.diagnostics()


def test_devnet_runs_and_resumes(tmp_path: Path) -> None:
    data = tmp_path / "devnet"
    port = free_port()
    devnet = RunningCommand(
        ["devnet", "--data", str(data), "--validators", "1", "--base-port", str(port)],
        tmp_path / "devnet.log",
        dict(os.environ),
    )
    try:
        devnet.wait_for_line(re.compile(rf"status --endpoint 127\.0\.0\.1:{port}$"))
        devnet.wait_for_line(SERVING)
        wait_until_serving(f"127.0.0.1:{port}")
        assert devnet.stop(signal.SIGINT) == 0, devnet.diagnostics()
    finally:
        devnet.kill()
    assert (data / "genesis.json").exists()
    result = dcrm("devnet", "--data", str(data), "--validators", "2")
    assert result.returncode == 1
    assert result.stderr == (
        f"error: {data} holds a chain with 1 validator; run with --validators 1 to resume it, or use another --data "
        "folder for a new chain\n"
    )


def test_node_init_peer_hosts_for_containers(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from dcrm.node.config_loader import load_config

    hosts = "node0,node1,node2,node3"
    code, _, err = run_main(
        capsys, "node", "init", "--data", str(tmp_path / "c"), "--validators", "4", "--peer-hosts", hosts
    )
    assert (code, err) == (0, "")
    config = load_config(tmp_path / "c" / "node1" / "config.toml")
    assert config.network is not None
    assert config.network.listen_host == "0.0.0.0"
    assert [peer.address.split(":")[0] for peer in config.network.peers if peer.address] == ["node0", "node2", "node3"]
    code, _, err = run_main(
        capsys, "node", "init", "--data", str(tmp_path / "d"), "--validators", "4", "--peer-hosts", "a,b"
    )
    assert (code, err) == (1, "error: --peer-hosts names 2 hosts for 4 validators\n")
