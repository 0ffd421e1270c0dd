"""`dcrm node init` (write a new chain's files) and `dcrm node start` (run one node in the foreground).

A chain folder made by `node init`:

```
DIR/genesis.json            chain id, start time, validators' public keys, the admin account
DIR/admin.key               a key holding the admin role, for trying the chain
DIR/node<i>/config.toml     one per validator; gRPC port base-port + i
DIR/node<i>/validator.key
DIR/node<i>/data/           created by the node: its database and grpc.port
```

With `--tls`: `DIR/tls/` holds a development CA (`ca.crt`, `ca.key`) and a client certificate
(`client.crt`, `client.key`); each `DIR/node<i>/tls/` a server certificate for 127.0.0.1, ::1 and
localhost. The configs serve TLS, with writes and admin calls on the mutual-TLS port (base-port + N + i).
With `--encrypt-keys`, every key file is encrypted with the passphrase (DCRM_KEY_PASSPHRASE,
--passphrase-file or a prompt).

`dcrm node backup` and `dcrm node restore` copy a node's database through its Admin service (node/backup.py).
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
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from dcrm.node.cli.common import CliError
from dcrm.node.cli.keys import add_passphrase_argument, obtain_passphrase

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
TLS_FOLDER = "tls"
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
    init.add_argument(
        "--tls",
        action="store_true",
        help="write a development CA, node and client certificates, and configs that serve TLS (mutual TLS for writes)",
    )
    init.add_argument(
        "--encrypt-keys",
        action="store_true",
        help="encrypt the validator and admin key files with a passphrase (scrypt + AES-256-GCM)",
    )
    init.add_argument(
        "--peer-hosts",
        type=_host_list,
        metavar="HOST,...",
        help="the host name of each validator's p2p address, in order (e.g. node0,node1,node2,node3 for "
        "containers); the configs then listen on 0.0.0.0. Default: every validator on 127.0.0.1",
    )
    add_passphrase_argument(init)
    init.set_defaults(run=run_init)

    start = actions.add_parser(
        "start",
        help="run a node in the foreground until Ctrl-C or SIGTERM",
        description="Run a node in the foreground; SIGINT or SIGTERM stops it gracefully (exit code 0).",
    )
    start.add_argument("--config", type=Path, required=True, metavar="FILE", help="the node's config.toml")
    start.set_defaults(run=run_start)

    backup = actions.add_parser(
        "backup",
        help="copy a running node's database to a new folder",
        description=(
            "Ask the running node (its Admin service, at the address in its config) for a consistent snapshot of "
            "its database and write it to the new folder DIR (DIR/db and DIR/backup.json). With TLS, the admin "
            "call needs a client certificate: pass --tls-cert and --tls-key (and --tls-ca, else the config's "
            "api.client_ca is trusted)."
        ),
    )
    backup.add_argument("--config", type=Path, required=True, metavar="FILE", help="the running node's config.toml")
    backup.add_argument("--out", type=Path, required=True, metavar="DIR", help="the backup folder to create")
    backup.add_argument("--tls-ca", type=Path, metavar="FILE", help="the CA of the node's certificate (PEM)")
    backup.add_argument("--tls-cert", type=Path, metavar="FILE", help="client certificate (PEM)")
    backup.add_argument("--tls-key", type=Path, metavar="FILE", help="the client certificate's key (PEM)")
    backup.add_argument("--timeout", type=float, default=3600.0, metavar="SECONDS", help="default: %(default)s")
    backup.set_defaults(run=run_backup)

    restore = actions.add_parser(
        "restore",
        help="place a backup as a stopped node's database",
        description=(
            "Check the backup in DIR (manifest, digest of every entry, same genesis as the node's) and copy it to "
            "the node's data_dir/db. The node must be stopped; an existing database is replaced only with --force."
        ),
    )
    restore.add_argument("--from", dest="source", type=Path, required=True, metavar="DIR", help="the backup folder")
    restore.add_argument("--config", type=Path, required=True, metavar="FILE", help="the node's config.toml")
    restore.add_argument("--force", action="store_true", help="replace the node's existing database")
    restore.set_defaults(run=run_restore)


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
    mtls_endpoints: list[str] = field(default_factory=list)  # with TLS: the ports that take client certificates
    tls: Path | None = None  # with TLS: the folder of ca.crt, client.crt and client.key


def node_config_path(data: Path, index: int) -> Path:
    return data / f"node{index}" / CONFIG_FILE


def existing_chain_files(data: Path) -> list[Path]:
    """What of a chain `node init` would replace in `data`: genesis, admin key, node<i> folders."""
    if not data.is_dir():
        return []
    found = [data / name for name in (GENESIS_FILE, ADMIN_KEY_FILE, TLS_FOLDER) if (data / name).exists()]
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
            "consent": {},
            "tokens": {"classes": []},
            "governance": {"max_lead": 100_000, "proposal_count": 0, "proposals": [], "changes": []},
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


def init_chain(
    data: Path,
    *,
    chain_id: str,
    validators: int,
    base_port: int,
    force: bool,
    tls: bool = False,
    passphrase: bytes | None = None,
    passphrase_file: Path | None = None,
    peer_hosts: list[str] | None = None,
) -> ChainLayout:
    """Write a new chain into `data` (see the module docstring); returns what was written.

    With `tls`, certificates and TLS configs are written too; with `passphrase`, every key file is
    encrypted with it, and `passphrase_file` (when given) is named as each config's key_passphrase_file.
    Raises CliError when `data` already holds a chain and `force` is false, when the ports do not fit, or
    when the genesis document would be rejected; KeyFileError or OSError when a file cannot be written.
    Nothing is left behind when writing fails.
    """
    from dcrm.client.keys import SigningKey

    api_ports = 2 * validators if tls else validators
    p2p_ports = validators if validators > 1 else 0  # the validators of a network talk over libp2p
    existing = _check_init(data, validators, api_ports + p2p_ports, base_port, force)
    if peer_hosts is not None and len(peer_hosts) != validators:
        raise CliError(f"--peer-hosts names {len(peer_hosts)} hosts for {validators} validators")

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
        authority = None
        tls_folder: Path | None = None
        if tls:
            tls_folder = data / TLS_FOLDER
            written.append(tls_folder)
            authority = _write_authority(tls_folder, chain_id)
        configs, endpoints, mtls_endpoints = [], [], []
        networks = _network_settings(validator_keys, base_port + api_ports, peer_hosts) if p2p_ports else {}
        for index, key in enumerate(validator_keys):
            folder = data / f"node{index}"
            folder.mkdir()
            written.append(folder)
            port = base_port + index
            mtls_port = base_port + validators + index if authority is not None else 0
            network = networks.get(index)
            if network is not None:
                _write_peer_key(folder, network[1])
            configs.append(
                _write_node(
                    folder,
                    index,
                    key,
                    port,
                    mtls_port,
                    authority,
                    passphrase,
                    passphrase_file,
                    network[0] if network is not None else None,
                )
            )
            endpoints.append(f"127.0.0.1:{port}")
            if mtls_port:
                mtls_endpoints.append(f"127.0.0.1:{mtls_port}")
        admin_key = data / ADMIN_KEY_FILE
        _save_key(admin_key, admin, passphrase)
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
    return ChainLayout(
        data, chain_id, genesis, admin_key, admin.account_id, configs, endpoints, mtls_endpoints, tls_folder
    )


def _check_init(data: Path, validators: int, ports_needed: int, base_port: int, force: bool) -> list[Path]:
    """Refuse impossible arguments; returns what of an old chain `init_chain` may replace."""
    if not 1 <= validators <= MAX_VALIDATORS:
        raise CliError(f"--validators must be from 1 to {MAX_VALIDATORS}, got {validators}")
    if base_port + ports_needed - 1 > 65535:
        raise CliError(f"--base-port {base_port} leaves no room for {ports_needed} ports below 65536")
    if data.exists() and not data.is_dir():
        raise CliError(f"{data} exists and is not a folder")
    existing = existing_chain_files(data)
    if existing and not force:
        names = ", ".join(path.name + ("/" if path.is_dir() else "") for path in existing)
        raise CliError(
            f"{data} already holds a chain ({names}); pass --force to delete it and its nodes' data, "
            "or choose another --data folder"
        )
    return existing


def _save_key(path: Path, key: Any, passphrase: bytes | None) -> None:
    from dcrm.client.keys import save_key

    if passphrase is None:
        save_key(path, key)
    else:
        from dcrm.client.keystore import save_encrypted_key

        save_encrypted_key(path, key, passphrase)


def _write_node(
    folder: Path,
    index: int,
    key: Any,
    port: int,
    mtls_port: int,
    authority: Any,
    passphrase: bytes | None,
    passphrase_file: Path | None,
    network: Any = None,
) -> Path:
    """node<i>/: validator key, TLS certificate (with an authority), config.toml; returns the config's path."""
    from dcrm.node.config_loader import write_default_config

    _save_key(folder / VALIDATOR_KEY_FILE, key, passphrase)
    tls_files = _write_node_certificate(authority, folder, index) if authority is not None else None
    config = folder / CONFIG_FILE
    write_default_config(
        config,
        data_dir="data",
        genesis=f"../{GENESIS_FILE}",
        validator_key=VALIDATOR_KEY_FILE,
        port=port,
        tls=tls_files,
        mtls_port=mtls_port,
        key_passphrase_file=passphrase_file.resolve() if passphrase_file is not None else None,
        network=network,
    )
    return config


PEER_KEY_FILE = "peer.key"
ALL_INTERFACES = "0.0.0.0"  # noqa: S104 - only with --peer-hosts, for validators in separate containers


def _host_list(text: str) -> list[str]:
    hosts = [host.strip() for host in text.split(",")]
    if not all(hosts):
        raise argparse.ArgumentTypeError(f"expected comma-separated host names, got {text!r}")
    return hosts


def _network_settings(
    validator_keys: list[Any], first_port: int, hosts: list[str] | None
) -> dict[int, tuple[Any, Any]]:
    """Per validator index: its [network] settings (every other validator as a peer) and its new peer key.

    Without `hosts` every validator is on 127.0.0.1; with them, each is dialled at its host and listens on
    every interface (containers on one network)."""
    from dcrm.node.config import NetworkSettings, ValidatorPeer
    from dcrm.node.network.peer_key import PeerKey

    peer_keys = [PeerKey.generate() for _ in validator_keys]
    ports = [first_port + index for index in range(len(validator_keys))]
    result = {}
    for index in range(len(validator_keys)):
        peers = tuple(
            ValidatorPeer(
                validator_keys[other].account_id,
                peer_keys[other].peer_id,
                f"{hosts[other] if hosts else '127.0.0.1'}:{ports[other]}",
            )
            for other in range(len(validator_keys))
            if other != index
        )
        # Containers reach each other on their network's interface; a local chain stays on loopback.
        listen = ALL_INTERFACES if hosts else "127.0.0.1"
        settings = NetworkSettings(Path(PEER_KEY_FILE), listen, ports[index], peers)
        result[index] = (settings, peer_keys[index])
    return result


def _write_peer_key(folder: Path, key: Any) -> None:
    from dcrm.node.network.peer_key import save_peer_key

    save_peer_key(folder / PEER_KEY_FILE, key)


def _write_authority(folder: Path, chain_id: str) -> Any:
    """A development CA and a client certificate in `folder`; returns the CA (a devcerts.CertificateAuthority)."""
    from dcrm.node.devcerts import CertificateAuthority

    folder.mkdir()
    authority = CertificateAuthority.create(f"dcrm {chain_id} development CA")
    authority.write(folder / "ca.crt", folder / "ca.key")
    authority.issue_client("dcrm operator", folder / "client.crt", folder / "client.key")
    return authority


def _write_node_certificate(authority: Any, folder: Path, index: int) -> Any:
    """node<i>/tls/node.crt and node.key; returns the config_loader.TlsFiles naming them."""
    from dcrm.node.config_loader import TlsFiles

    (folder / TLS_FOLDER).mkdir()
    authority.issue_server(f"dcrm node{index}", folder / TLS_FOLDER / "node.crt", folder / TLS_FOLDER / "node.key")
    return TlsFiles(cert=f"{TLS_FOLDER}/node.crt", key=f"{TLS_FOLDER}/node.key", client_ca=f"../{TLS_FOLDER}/ca.crt")


def run_init(args: argparse.Namespace) -> int:
    passphrase = obtain_passphrase(args.passphrase_file, confirm=True) if args.encrypt_keys else None
    layout = init_chain(
        args.data,
        chain_id=args.chain_id,
        validators=args.validators,
        base_port=args.base_port,
        force=args.force,
        tls=args.tls,
        passphrase=passphrase,
        passphrase_file=args.passphrase_file if args.encrypt_keys else None,
        peer_hosts=args.peer_hosts,
    )
    count = len(layout.configs)
    print(f"chain {layout.chain_id!r} with {count} validator{'s' if count > 1 else ''} written to {layout.data}")
    print(f"  genesis    {layout.genesis}")
    print(f"  admin key  {layout.admin_key} (account {layout.admin_account.hex()})")
    for index, (config, endpoint) in enumerate(zip(layout.configs, layout.endpoints, strict=True)):
        mutual = f", mutual TLS {layout.mtls_endpoints[index]}" if layout.mtls_endpoints else ""
        print(f"  {config.parent.name:<9}  {config} (gRPC {endpoint}{mutual})")
    if layout.tls is not None:
        print(f"  TLS        CA {layout.tls / 'ca.crt'}, client certificate {layout.tls / 'client.crt'}")
    if args.encrypt_keys:
        print("  keys       encrypted; the node reads the passphrase from key_passphrase_file or DCRM_KEY_PASSPHRASE")
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
    from dcrm.node.keyfiles import load_validator_key
    from dcrm.node.logs import configure_logging

    configure_logging(config.log)
    key = load_validator_key(config, os.environ)
    account = key.account_id.hex()
    from dcrm.node.service import NodeService

    service = NodeService(config, key=key)
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
        if service.mtls_port is not None:
            print(f"mutual TLS (client certificates) on {config.api.host}:{service.mtls_port}", flush=True)
        if service.metrics_port is not None:
            host = config.metrics.listen.rpartition(":")[0]
            print(f"metrics on http://{host}:{service.metrics_port}/metrics", flush=True)

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


# --- node backup / restore ---------------------------------------------------------------------------


def _port_of(config: NodeConfig, configured: int, port_file: str) -> int:
    if configured:
        return configured
    path = config.data_dir / port_file
    try:
        return int(path.read_text())
    except (OSError, ValueError):
        raise CliError(
            f"the config's port is 0 and {path} does not name the port the node bound: is it running?"
        ) from None


def _admin_channel(args: argparse.Namespace, config: NodeConfig) -> Any:
    """A channel to the node's Admin service: mutual TLS when the node has a client CA, else its main port."""
    import grpc

    api = config.api
    host = "127.0.0.1" if api.host in ("0.0.0.0", "::", "") else api.host  # noqa: S104 (reading, not binding)
    if api.tls_cert is None:
        return grpc.insecure_channel(f"{host}:{_port_of(config, api.port, 'grpc.port')}")
    from dcrm.client import tls_credentials

    ca = args.tls_ca or api.client_ca
    if ca is None:
        raise CliError("the node serves TLS: pass --tls-ca, the CA certificate that signed the node's certificate")
    if api.client_ca is None:
        target = f"{host}:{_port_of(config, api.port, 'grpc.port')}"
        credentials = tls_credentials(ca)
    else:
        if args.tls_cert is None or args.tls_key is None:
            raise CliError(
                "the node's admin calls need a client certificate (api.client_ca is set): pass --tls-cert and --tls-key"
            )
        port = api.port if api.require_client_cert == "all" else _port_of(config, api.mtls_port, "grpc-mtls.port")
        target = f"{host}:{port}"
        credentials = tls_credentials(ca, args.tls_cert, args.tls_key)
    options = [("grpc.max_receive_message_length", api.max_message_bytes)]
    return grpc.secure_channel(target, credentials, options=options)


def run_backup(args: argparse.Namespace) -> int:
    import grpc

    from dcrm.client.errors import from_rpc_error
    from dcrm.node.backup import BackupError, write_backup
    from dcrm.node.config_loader import load_config
    from dcrm.v1 import admin_pb2, admin_pb2_grpc

    config = load_config(args.config)
    with _admin_channel(args, config) as channel:
        stub = admin_pb2_grpc.AdminStub(channel)
        try:
            manifest = write_backup(stub.Backup(admin_pb2.BackupRequest(), timeout=args.timeout), args.out)
        except grpc.RpcError as error:
            raise from_rpc_error(error) from None
        except BackupError as error:
            raise CliError(str(error)) from None
    print(f"backup of chain {manifest.chain_id!r} at height {manifest.height} written to {args.out}")
    print(f"  head        {manifest.head_hash}")
    print(f"  state root  {manifest.state_root}")
    print(f"  entries     {manifest.entries} (sha256 {manifest.digest})")
    return 0


def run_restore(args: argparse.Namespace) -> int:
    from dcrm.node.backup import BackupError, restore_backup
    from dcrm.node.config_loader import load_config
    from dcrm.runtime import Genesis

    config = load_config(args.config)
    genesis = Genesis.from_bytes(config.genesis_path.read_bytes())
    try:
        manifest = restore_backup(args.source, config.data_dir, genesis.canonical_bytes(), force=args.force)
    except BackupError as error:
        raise CliError(str(error)) from None
    print(f"restored chain {manifest.chain_id!r} at height {manifest.height} into {config.data_dir / 'db'}")
    print(f"start the node with: dcrm node start --config {args.config}")
    return 0
