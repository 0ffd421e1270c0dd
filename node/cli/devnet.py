"""`dcrm devnet`: a local chain in the foreground, created on first use and resumed afterwards.

One validator runs in this process, exactly like `dcrm node start`. More validators run as `dcrm node start`
subprocesses, each logging to DIR/node<i>/node.log; Ctrl-C or SIGTERM stops them all (SIGTERM, then SIGKILL
after STOP_DEADLINE_SECONDS).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import IO, Any

from dcrm.node.cli.common import CliError
from dcrm.node.cli.node_cmd import (
    ADMIN_KEY_FILE,
    GENESIS_FILE,
    add_chain_arguments,
    init_chain,
    node_config_path,
    run_node,
)

__all__ = ["register", "stop_processes", "wait_until_serving"]

READY_DEADLINE_SECONDS = 90.0
STOP_DEADLINE_SECONDS = 15.0
POLL_SECONDS = 0.25
LOG_TAIL_LINES = 20


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "devnet",
        help="run a local chain in the foreground (created on first use, resumed afterwards)",
        description=(
            "Run a local chain from DIR: `dcrm node init` it when it has no genesis.json, otherwise resume it. "
            "One validator runs in this process; more run as subprocesses logging to DIR/node<i>/node.log. "
            "Ctrl-C stops the chain; running the same command again resumes it."
        ),
    )
    parser.add_argument("--data", type=Path, required=True, metavar="DIR", help="the chain folder")
    add_chain_arguments(parser, validators_default=None)
    parser.set_defaults(run=run_devnet)


@dataclass(frozen=True)
class _Node:
    index: int
    config: Path
    endpoint: str
    log: Path


def _genesis_validator_count(genesis: Path) -> int:
    try:
        document = json.loads(genesis.read_bytes())
        validators = document["modules"]["system"]["validators"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise CliError(f"{genesis} cannot be read as a genesis document: {error}") from None
    if not isinstance(validators, list) or not validators:
        raise CliError(f"{genesis}: modules.system.validators is not a list of validators")
    return len(validators)


def _shown(path: Path) -> str:
    """`path` relative to the working folder when it is below it (e.g. `.venv/bin/dcrm`), else absolute."""
    relative = os.path.relpath(path)
    return str(path) if relative.startswith("..") else relative


def _dcrm_command() -> str:
    """How to run this CLI again, as the user would type it."""
    script = Path(sys.executable).parent / "dcrm"
    return _shown(script) if script.exists() else "dcrm"


def _print_how_to_reach(data: Path, chain_id: str, nodes: Sequence[_Node]) -> None:
    dcrm = _dcrm_command()
    python_shown = _shown(Path(sys.executable))
    first = nodes[0].endpoint
    admin_key = data / ADMIN_KEY_FILE
    count = len(nodes)
    print(f"dcrm devnet: chain {chain_id!r}, {count} validator{'s' if count > 1 else ''}, data in {data}")
    for node in nodes:
        print(f"  node{node.index}  gRPC {node.endpoint}" + (f"  (log: {node.log})" if count > 1 else ""))
    print(f"  admin key {admin_key}")
    print("try:")
    print(f"  {dcrm} status --endpoint {first}")
    print(f"  {dcrm} tx remark --endpoint {first} --key {admin_key} --note hello --wait")
    one_liner = f"from dcrm.client import Client; print(Client({first!r}).status())"
    print(f'  {python_shown} -c "{one_liner}"')
    print("Ctrl-C stops the chain; the same command resumes it.", flush=True)


def _load_nodes(data: Path, count: int) -> tuple[str, list[_Node]]:
    from dcrm.node.config_loader import load_config

    nodes = []
    chain_id = ""
    for index in range(count):
        path = node_config_path(data, index)
        config = load_config(path)
        nodes.append(_Node(index, path, f"{config.api.host}:{config.api.port}", path.parent / "node.log"))
    seen: dict[str, int] = {}
    for node in nodes:
        if node.endpoint in seen:
            raise CliError(
                f"node{seen[node.endpoint]} and node{node.index} would both listen on {node.endpoint} "
                "(is DCRM_API_PORT or DCRM_API_HOST set in the environment?)"
            )
        seen[node.endpoint] = node.index
    try:
        chain_id = str(json.loads((data / GENESIS_FILE).read_bytes())["chain_id"])
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise CliError(f"{data / GENESIS_FILE} has no readable chain_id: {error}") from None
    return chain_id, nodes


def run_devnet(args: argparse.Namespace) -> int:
    data: Path = args.data
    genesis = data / GENESIS_FILE
    if genesis.exists():
        count = _genesis_validator_count(genesis)
        if args.validators is not None and args.validators != count:
            raise CliError(
                f"{data} holds a chain with {count} validator{'s' if count > 1 else ''}; run with "
                f"--validators {count} to resume it, or use another --data folder for a new chain"
            )
        print(f"resuming the chain in {data}")
    else:
        count = args.validators or 1
        init_chain(data, chain_id=args.chain_id, validators=count, base_port=args.base_port, force=False)
        print(f"created a new chain in {data}")
    chain_id, nodes = _load_nodes(data, count)
    _print_how_to_reach(data, chain_id, nodes)
    if count == 1:
        from dcrm.node.config_loader import load_config

        return run_node(load_config(nodes[0].config))
    return _run_processes(nodes)


# --- several validators as subprocesses -----------------------------------------------------------------


class _Signals:
    def __init__(self) -> None:
        self.received: int | None = None
        self._previous: dict[int, Any] = {}

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        del frame
        self.received = signum

    def __enter__(self) -> _Signals:
        for signum in (signal.SIGINT, signal.SIGTERM):
            self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)


def _log_tail(path: Path) -> str:
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return "(no log)"
    return "\n".join("    " + line for line in lines[-LOG_TAIL_LINES:]) or "    (empty log)"


def _start_process(node: _Node) -> tuple[subprocess.Popen[bytes], IO[bytes]]:
    log = node.log.open("ab")
    log.write(f"--- dcrm devnet: starting node{node.index} at {time.strftime('%Y-%m-%d %H:%M:%S')}\n".encode())
    log.flush()
    command = [sys.executable, "-m", "dcrm.node.cli.main", "node", "start", "--config", str(node.config)]
    # A session of its own: the terminal's Ctrl-C reaches only devnet, which stops the nodes in order.
    process = subprocess.Popen(
        command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    return process, log


def wait_until_serving(endpoint: str, deadline: float, alive: Any = None, signals: _Signals | None = None) -> bool:
    """Poll GetStatus on `endpoint` until it answers (True) or `deadline` (time.monotonic()) passes (False).

    Stops early (False) when `alive()` returns False or a signal was received.
    """
    import grpc  # type: ignore[import-untyped, unused-ignore]

    from dcrm.v1 import node_pb2, node_pb2_grpc

    with grpc.insecure_channel(endpoint) as channel:
        stub = node_pb2_grpc.NodeStub(channel)
        while time.monotonic() < deadline:
            if (alive is not None and not alive()) or (signals is not None and signals.received is not None):
                return False
            try:
                stub.GetStatus(node_pb2.GetStatusRequest(), timeout=1.0)
                return True
            except grpc.RpcError:
                time.sleep(POLL_SECONDS)
    return False


def stop_processes(processes: Sequence[subprocess.Popen[bytes]], deadline_seconds: float) -> None:
    """SIGTERM every running process, wait up to `deadline_seconds` in all, then SIGKILL what is left."""
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + deadline_seconds
    for process in processes:
        try:
            process.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _run_processes(nodes: Sequence[_Node]) -> int:
    processes: list[subprocess.Popen[bytes]] = []
    logs: list[IO[bytes]] = []
    with _Signals() as signals:
        try:
            for node in nodes:
                process, log = _start_process(node)
                processes.append(process)
                logs.append(log)
            deadline = time.monotonic() + READY_DEADLINE_SECONDS
            for node, process in zip(nodes, processes, strict=True):
                ready = wait_until_serving(
                    node.endpoint, deadline, alive=lambda p=process: p.poll() is None, signals=signals
                )
                if signals.received is not None:
                    return 0
                if not ready:
                    code = process.poll()
                    if code is not None:
                        state = f"exited with code {code} before it answered GetStatus"
                    else:
                        state = f"did not answer GetStatus within {READY_DEADLINE_SECONDS:.0f} s"
                    raise CliError(f"node{node.index} {state}; the end of {node.log}:\n{_log_tail(node.log)}")
                print(f"node{node.index} serving gRPC on {node.endpoint} (pid {process.pid})", flush=True)
            print("all nodes are serving; Ctrl-C stops them", flush=True)
            while signals.received is None:
                for node, process in zip(nodes, processes, strict=True):
                    code = process.poll()
                    if code is not None:
                        raise CliError(
                            f"node{node.index} exited with code {code}; stopping the others. "
                            f"The end of {node.log}:\n{_log_tail(node.log)}"
                        )
                time.sleep(POLL_SECONDS)
            print(f"stopping {len(processes)} nodes", file=sys.stderr, flush=True)
            return 0
        finally:
            stop_processes(processes, STOP_DEADLINE_SECONDS)
            for log in logs:
                log.close()
