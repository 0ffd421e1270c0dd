"""`dcrm node init` (write a new chain's files) and `dcrm node start` (run one node in the foreground).

A chain folder made by `node init`:

```
DIR/genesis.json            chain id, start time, validators' public keys, the admin account
DIR/admin.key               a key holding the admin role, for trying the chain
DIR/node<i>/config.toml     one per validator; gRPC port base-port + i
DIR/node<i>/validator.key
DIR/node<i>/data/           created by the node: its database and grpc.port
```
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from dcrm.node.cli.common import CliError

if TYPE_CHECKING:
    from dcrm.node.config import NodeConfig

__all__ = [
    "GENESIS_FILE",
    "ChainLayout",
    "existing_chain_files",
    "init_chain",
    "node_config_path",
    "register",
    "run_node",
]

GENESIS_FILE = "genesis.json"
ADMIN_KEY_FILE = "admin.key"
CONFIG_FILE = "config.toml"
VALIDATOR_KEY_FILE = "validator.key"
DEFAULT_CHAIN_ID = "dcrm-local"
DEFAULT_BASE_PORT = 50051
MAX_VALIDATORS = 100
STOP_POLL_SECONDS = 0.2
_NODE_FOLDER = re.compile(r"node[0-9]+")


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    group = commands.add_parser("node", help="create a chain's files; run a node", description="Run a node.")
    actions = group.add_subparsers(dest="action", metavar="ACTION", required=True)

    init = actions.add_parser(
        "init",
        help="write a new chain: genesis, an admin key, one config and key per validator",
        description=(
            "Write DIR/genesis.json, DIR/admin.key (an account holding the admin role) and, for each "
            "validator i, DIR/node<i>/config.toml and DIR/node<i>/validator.key (gRPC port base-port + i)."
        ),
    )
    init.add_argument("--data", type=Path, required=True, metavar="DIR", help="the chain folder")
    add_chain_arguments(init)
    init.add_argument("--force", action="store_true", help="replace an existing chain in DIR, deleting its nodes' data")
    init.set_defaults(run=run_init)

    start = actions.add_parser(
        "start",
        help="run a node in the foreground until Ctrl-C or SIGTERM",
        description="Run a node in the foreground; SIGINT or SIGTERM stops it gracefully (exit code 0).",
    )
    start.add_argument("--config", type=Path, required=True, metavar="FILE", help="the node's config.toml")
    start.set_defaults(run=run_start)


def _validator_count(text: str) -> int:
    try:
        count = int(text)
    except ValueError:
        count = 0
    if not 1 <= count <= MAX_VALIDATORS:
        raise argparse.ArgumentTypeError(f"expected an integer from 1 to {MAX_VALIDATORS}, got {text!r}")
    return count


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        port = 0
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"expected a port from 1 to 65535, got {text!r}")
    return port


def _chain_id(text: str) -> str:
    if not 1 <= len(text) <= 64 or not text.isprintable():
        raise argparse.ArgumentTypeError(f"expected a printable chain id of 1 to 64 characters, got {text!r}")
    return text


def add_chain_arguments(parser: argparse.ArgumentParser, *, validators_default: int | None = 1) -> None:
    """--chain-id, --validators and --base-port, as `node init` and `devnet` take them."""
    parser.add_argument(
        "--chain-id", type=_chain_id, default=DEFAULT_CHAIN_ID, help="the chain id (default: %(default)s)"
    )
    parser.add_argument(
        "--validators",
        type=_validator_count,
        default=validators_default,
        metavar="N",
        help=f"number of validators, 1 to {MAX_VALIDATORS} (default: {validators_default or 'as in DIR, else 1'})",
    )
    parser.add_argument(
        "--base-port",
        type=_port,
        default=DEFAULT_BASE_PORT,
        metavar="PORT",
        help="gRPC port of node0; node<i> gets PORT + i (default: %(default)s)",
    )


# --- node init ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChainLayout:
    """The files `init_chain` wrote."""

    data: Path
    chain_id: str
    genesis: Path
    admin_key: Path
    admin_account: bytes
    configs: list[Path]
    endpoints: list[str]


def node_config_path(data: Path, index: int) -> Path:
    return data / f"node{index}" / CONFIG_FILE


def existing_chain_files(data: Path) -> list[Path]:
    """What of a chain `node init` would replace in `data`: genesis, admin key, node<i> folders."""
    if not data.is_dir():
        return []
    found = [data / name for name in (GENESIS_FILE, ADMIN_KEY_FILE) if (data / name).exists()]
    found += sorted(entry for entry in data.iterdir() if _NODE_FOLDER.fullmatch(entry.name))
    return found


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def _genesis_document(chain_id: str, validator_keys: list[bytes], admin: bytes) -> dict[str, Any]:
    from dcrm.runtime.modules.system.genesis import DEFAULT_PARAMS

    return {
        "chain_id": chain_id,
        "timestamp_ms": time.time_ns() // 1_000_000,
        "modules": {
            "system": {
                "validators": [key.hex() for key in validator_keys],
                "roles": {"admin": [admin.hex()]},
                "params": dict(DEFAULT_PARAMS),
            },
            "identity": {"dids": [], "issuers": [], "schemas": [], "status_lists": []},
        },
    }


def _check_genesis(raw: bytes) -> None:
    """Build the genesis state as the node will, so `node init` never writes a chain that cannot start."""
    from dcrm.runtime import Genesis, GenesisError, Runtime
    from dcrm.runtime.modules import default_modules

    try:
        genesis = Genesis.from_bytes(raw)
        Runtime(genesis.chain_id, default_modules()).build_genesis(genesis)
    except GenesisError as error:
        raise CliError(f"the genesis document is invalid: {error}") from None


def init_chain(data: Path, *, chain_id: str, validators: int, base_port: int, force: bool) -> ChainLayout:
    """Write a new chain into `data` (see the module docstring); returns what was written.

    Raises CliError when `data` already holds a chain and `force` is false, when the ports do not fit, or
    when the genesis document would be rejected; KeyFileError or OSError when a file cannot be written.
    Nothing is left behind when writing fails.
    """
    from dcrm.client.keys import SigningKey, save_key
    from dcrm.node.config_loader import write_default_config

    if not 1 <= validators <= MAX_VALIDATORS:
        raise CliError(f"--validators must be from 1 to {MAX_VALIDATORS}, got {validators}")
    if base_port + validators - 1 > 65535:
        raise CliError(f"--base-port {base_port} leaves no room for {validators} ports below 65536")
    if data.exists() and not data.is_dir():
        raise CliError(f"{data} exists and is not a folder")
    existing = existing_chain_files(data)
    if existing and not force:
        names = ", ".join(path.name + ("/" if path.is_dir() else "") for path in existing)
        raise CliError(
            f"{data} already holds a chain ({names}); pass --force to delete it and its nodes' data, "
            "or choose another --data folder"
        )

    admin = SigningKey.generate()
    validator_keys = [SigningKey.generate() for _ in range(validators)]
    document = _genesis_document(chain_id, [key.public_key for key in validator_keys], admin.account_id)
    raw = (json.dumps(document, indent=2) + "\n").encode()
    _check_genesis(raw)

    for path in existing:
        _remove(path)
    created_data = not data.exists()
    data.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    try:
        configs, endpoints = [], []
        for index, key in enumerate(validator_keys):
            folder = data / f"node{index}"
            folder.mkdir()
            written.append(folder)
            save_key(folder / VALIDATOR_KEY_FILE, key)
            config = folder / CONFIG_FILE
            port = base_port + index
            write_default_config(
                config, data_dir="data", genesis=f"../{GENESIS_FILE}", validator_key=VALIDATOR_KEY_FILE, port=port
            )
            configs.append(config)
            endpoints.append(f"127.0.0.1:{port}")
        admin_key = data / ADMIN_KEY_FILE
        save_key(admin_key, admin)
        written.append(admin_key)
        genesis = data / GENESIS_FILE
        temporary = data / f".{GENESIS_FILE}.tmp"
        temporary.write_bytes(raw)
        temporary.replace(genesis)  # written last: a genesis.json means a complete chain folder
    except BaseException:
        for path in written:
            _remove(path)
        if created_data:
            shutil.rmtree(data, ignore_errors=True)
        raise
    return ChainLayout(data, chain_id, genesis, admin_key, admin.account_id, configs, endpoints)


def run_init(args: argparse.Namespace) -> int:
    layout = init_chain(
        args.data, chain_id=args.chain_id, validators=args.validators, base_port=args.base_port, force=args.force
    )
    count = len(layout.configs)
    print(f"chain {layout.chain_id!r} with {count} validator{'s' if count > 1 else ''} written to {layout.data}")
    print(f"  genesis    {layout.genesis}")
    print(f"  admin key  {layout.admin_key} (account {layout.admin_account.hex()})")
    for config, endpoint in zip(layout.configs, layout.endpoints, strict=True):
        print(f"  {config.parent.name:<9}  {config} (gRPC {endpoint})")
    print(f"start a node with: dcrm node start --config {layout.configs[0]}")
    return 0


# --- node start --------------------------------------------------------------------------------------


class _StopRequests:
    """Records SIGINT/SIGTERM; the handler only sets fields, the main loop does the stopping.

    A second Ctrl-C (SIGINT) at least FORCE_AFTER_SECONDS after the first exits at once; repeated SIGTERMs
    (some supervisors signal both the process and its group) keep the graceful stop going.
    """

    FORCE_AFTER_SECONDS = 0.5

    def __init__(self) -> None:
        self.signal: int | None = None
        self._first_at = 0.0
        self._previous: dict[int, Any] = {}

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        del frame
        if self.signal is None:
            self.signal = signum
            self._first_at = time.monotonic()
        elif signum == signal.SIGINT and time.monotonic() - self._first_at >= self.FORCE_AFTER_SECONDS:
            sys.stderr.write("second Ctrl-C: exiting without waiting for the node to stop\n")
            sys.stderr.flush()
            os._exit(1)

    def __enter__(self) -> _StopRequests:
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)


def run_start(args: argparse.Namespace) -> int:
    from dcrm.node.config_loader import load_config

    return run_node(load_config(args.config))


def run_node(config: NodeConfig) -> int:
    """Run one node until SIGINT or SIGTERM (exit code 0), or until it stops by itself (exit code 1).

    Raises CliError when the node cannot start (port taken, data folder locked, genesis rejected, ...).
    """
    from dcrm.client.errors import DcrmError
    from dcrm.client.keys import load_key
    from dcrm.node.logs import configure_logging

    configure_logging(config.log)
    account = load_key(config.validator_key_path).account_id.hex()
    from dcrm.node.service import NodeService

    service = NodeService(config)
    with _StopRequests() as requests:
        try:
            port = service.start()
        except (OSError, ValueError, RuntimeError, DcrmError) as error:
            _stop_quietly(service)
            raise CliError(f"cannot start the node: {error}") from None
        except BaseException:
            _stop_quietly(service)
            raise
        print(f"dcrm node {account} serving gRPC on {config.api.host}:{port}", flush=True)

        stopped = threading.Event()

        def wait() -> None:
            try:
                service.wait()
            finally:
                stopped.set()

        threading.Thread(target=wait, name="dcrm-node-wait", daemon=True).start()
        while not stopped.wait(STOP_POLL_SECONDS):
            if requests.signal is not None:
                print(f"stopping ({signal.Signals(requests.signal).name})", file=sys.stderr, flush=True)
                service.stop()
                stopped.wait()
                return 0
        if requests.signal is not None:
            return 0
    raise CliError("the node stopped by itself; see its log above")


def _stop_quietly(service: Any) -> None:
    try:
        service.stop()
    except Exception as error:  # the start failure is what the user needs to see
        print(f"while cleaning up after a failed start: {error}", file=sys.stderr)
