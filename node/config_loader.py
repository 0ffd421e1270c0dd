"""Load a node's TOML configuration file, apply environment overrides, validate everything.

The file has seven sections, each optional except that [node] must name its three paths:

```
[node]       data_dir, genesis, validator_key, key_passphrase_file   (paths relative to the config file's folder)
[api]        host, port, max_message_bytes, worker_threads, tls_cert, tls_key, client_ca, require_client_cert,
             mtls_port
[mempool]    max_transactions, max_per_sender, max_batch
[consensus]  block_interval_ms, max_block_transactions, idle_block_ms, submit_wait_timeout_ms
[log]        level, format, rejection_lines_per_second
[limits]     account_tx_per_second, account_burst, peer_requests_per_second, peer_burst, max_streams,
             max_concurrent_calls
[metrics]    listen
```

Any field can be overridden by an environment variable `DCRM_<SECTION>_<FIELD>` (for example
`DCRM_API_PORT=6000`), validated like the file's value. Every problem raises `ConfigError(path, field,
expected)`, whose message names the file, the field (or the variable) and what was expected.
"""

from __future__ import annotations

import dataclasses
import difflib
import ipaddress
import json
import os
import re
import stat
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dcrm.node.config import (
    CLIENT_CERT_POLICIES,
    ApiConfig,
    ConfigError,
    ConsensusConfig,
    LimitsConfig,
    LogConfig,
    MempoolConfig,
    MetricsConfig,
    NetworkSettings,
    NodeConfig,
    ValidatorPeer,
)

__all__ = ["ENV_PREFIX", "ConfigError", "TlsFiles", "load_config", "write_default_config"]

ENV_PREFIX = "DCRM_"
MAX_CONFIG_BYTES = 1 << 20
LOG_LEVELS = ("debug", "info", "warning", "error")
LOG_FORMATS = ("text", "json")

_HOST_NAME = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)(\.(?!-)[A-Za-z0-9-]{1,63}(?<!-))*")
_ENV_INTEGER = re.compile(r"[+-]?[0-9]+")
_TOML_POSITION = re.compile(r"\s*\(at line (\d+), column (\d+)\)$|\s*\(at end of document\)$")


class _Invalid(Exception):
    """A value does not have the expected type or range (the caller knows which field it was)."""


@dataclass(frozen=True)
class _Field:
    """How one setting is parsed: from a TOML value, or from the text of an environment variable."""

    expected: str
    from_toml: Callable[[object], object]
    from_env: Callable[[str], object]


def _integer(minimum: int, maximum: int) -> _Field:
    def check(value: object) -> object:
        if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum:
            raise _Invalid
        return value

    def parse(text: str) -> object:
        if not _ENV_INTEGER.fullmatch(text.strip()):
            raise _Invalid
        return check(int(text.strip()))

    return _Field(f"an integer from {minimum} to {maximum}", check, parse)


def _choice(*choices: str) -> _Field:
    def check(value: object) -> object:
        if not isinstance(value, str) or value not in choices:
            raise _Invalid
        return value

    listed = ", ".join(f'"{choice}"' for choice in choices)
    return _Field(f"one of {listed}", check, check)


def _host() -> _Field:
    def check(value: object) -> object:
        if not isinstance(value, str):
            raise _Invalid
        try:
            ipaddress.ip_address(value)
        except ValueError:
            if len(value) > 253 or not _HOST_NAME.fullmatch(value):
                raise _Invalid from None
        return value

    return _Field("an IP address or host name, e.g. 127.0.0.1 or 0.0.0.0", check, check)


def _listen() -> _Field:
    def check(value: object) -> object:
        if not isinstance(value, str):
            raise _Invalid
        if value == "":
            return value
        host, _, port = value.rpartition(":")
        if not host or not port.isdigit() or not 0 <= int(port) <= 65535:
            raise _Invalid
        _host().from_toml(host)
        return value

    return _Field('"HOST:PORT" (port 0 to 65535, 0 picks a free one) or "" to turn it off', check, check)


def _path(what: str) -> _Field:
    def check(value: object) -> object:
        if not isinstance(value, str) or not value.strip() or "\x00" in value:
            raise _Invalid
        return value

    return _Field(f"a path to {what} (relative to the config file's folder)", check, check)


_PEER_ID = re.compile(r"[1-9A-HJ-NP-Za-km-z]{40,60}")  # base58btc libp2p peer id
_ACCOUNT = re.compile(r"[0-9a-f]{40}")


def _peers() -> _Field:
    """[[network.peers]] tables: account (40 hex digits), peer_id (base58), optional address "host:port"."""

    def check(value: object) -> object:
        if not isinstance(value, list):
            raise _Invalid
        peers = []
        for entry in value:
            if not isinstance(entry, dict) or not {"account", "peer_id"} <= entry.keys() <= {
                "account",
                "peer_id",
                "address",
            }:
                raise _Invalid
            account, peer_id, address = entry["account"], entry["peer_id"], entry.get("address")
            if not isinstance(account, str) or not _ACCOUNT.fullmatch(account):
                raise _Invalid
            if not isinstance(peer_id, str) or not _PEER_ID.fullmatch(peer_id):
                raise _Invalid
            if address is not None:
                _listen().from_toml(address)
            peers.append(ValidatorPeer(bytes.fromhex(account), peer_id, address))
        if len({peer.peer_id for peer in peers}) != len(peers) or len({p.account for p in peers}) != len(peers):
            raise _Invalid
        return tuple(peers)

    def from_env(text: str) -> object:
        raise _Invalid  # a list of tables has no one-line form: set peers in the file

    return _Field(
        'a list of tables {account = 40 hex digits, peer_id = a base58 libp2p peer id, address = "HOST:PORT"}'
        " with distinct peer ids and accounts",
        check,
        from_env,
    )


# The schema: section -> field -> how to parse it. Field names are the NodeConfig dataclasses' fields.
_SCHEMA: dict[str, dict[str, _Field]] = {
    "node": {
        "data_dir": _path("the node's data folder"),
        "genesis": _path("the genesis file"),
        "validator_key": _path("the validator's key file"),
        "key_passphrase_file": _path("a file holding the passphrase of an encrypted validator key"),
    },
    "api": {
        "host": _host(),
        "port": _integer(0, 65535),
        "max_message_bytes": _integer(64 * 1024, 2**31 - 1),
        "worker_threads": _integer(1, 256),
        "tls_cert": _path("the node's TLS certificate chain (PEM)"),
        "tls_key": _path("the node's TLS private key (PEM)"),
        "client_ca": _path("the CA certificate (PEM) that client certificates must chain to"),
        "require_client_cert": _choice(*CLIENT_CERT_POLICIES),
        "mtls_port": _integer(0, 65535),
    },
    "mempool": {
        "max_transactions": _integer(1, 10_000_000),
        "max_per_sender": _integer(1, 1_000_000),
        "max_batch": _integer(1, 100_000),
    },
    "consensus": {
        "block_interval_ms": _integer(1, 60_000),
        "max_block_transactions": _integer(1, 100_000),
        "idle_block_ms": _integer(10, 3_600_000),
        "submit_wait_timeout_ms": _integer(100, 600_000),
        "view_timeout_ms": _integer(100, 600_000),
    },
    "log": {
        "level": _choice(*LOG_LEVELS),
        "format": _choice(*LOG_FORMATS),
        "rejection_lines_per_second": _integer(0, 100_000),
    },
    "limits": {
        "account_tx_per_second": _integer(0, 1_000_000),
        "account_burst": _integer(1, 10_000_000),
        "peer_requests_per_second": _integer(0, 1_000_000),
        "peer_burst": _integer(1, 10_000_000),
        "max_streams": _integer(1, 1_000),
        "max_concurrent_calls": _integer(1, 1_000_000),
    },
    "metrics": {
        "listen": _listen(),
    },
    "network": {
        "listen_host": _host(),
        "listen_port": _integer(0, 65535),
        "peer_key": _path("the node's libp2p peer key file"),
        "peers": _peers(),
    },
}
_REQUIRED_NODE_PATHS = ("data_dir", "genesis", "validator_key")
_TLS_FILES = {
    "tls_cert": ("the node's TLS certificate chain", b"-----BEGIN CERTIFICATE-----"),
    "tls_key": ("the node's TLS private key", b"PRIVATE KEY-----"),
    "client_ca": ("the client CA certificate", b"-----BEGIN CERTIFICATE-----"),
}


def _section_list() -> str:
    return ", ".join(f"[{name}]" for name in _SCHEMA)


def _did_you_mean(word: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def _describe(value: object) -> str:
    """How a wrong value is shown in an error: its TOML spelling and kind."""
    if isinstance(value, bool):
        return f"{str(value).lower()} (a boolean)"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"{value!r} (a float)"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "an array"
    return f"a {type(value).__name__}"


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        if not path.exists():
            raise ConfigError(path, "file", "an existing config file, but there is none at this path")
        if not path.is_file():
            raise ConfigError(path, "file", "a config file, but this path is not a regular file")
        with path.open("rb") as handle:
            raw = handle.read(MAX_CONFIG_BYTES + 1)
    except PermissionError:
        raise ConfigError(path, "file", "a readable config file, but permission to read it is denied") from None
    except OSError as error:
        raise ConfigError(path, "file", f"a readable config file, but it cannot be read: {error.strerror}") from None
    if len(raw) > MAX_CONFIG_BYTES:
        raise ConfigError(path, "file", f"a config file of at most {MAX_CONFIG_BYTES} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ConfigError(path, "file", f"UTF-8 text, but byte {error.start} is not UTF-8") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        message = str(error)
        match = _TOML_POSITION.search(message)
        reason = message[: match.start()] if match else message
        if match and match.group(1):
            where, reason = f"line {match.group(1)}", f"{reason}, column {match.group(2)}"
        else:
            where = "end of file" if match else "file"
        raise ConfigError(path, where, f"valid TOML ({reason})") from None


def _check_file_shape(path: Path, document: dict[str, Any]) -> None:
    for section, table in document.items():
        if section not in _SCHEMA:
            hint = _did_you_mean(section, list(_SCHEMA))
            raise ConfigError(path, section, f"one of the sections {_section_list()}; {section!r} is unknown{hint}")
        if not isinstance(table, dict):
            raise ConfigError(path, section, f"a table [{section}], got {_describe(table)}")
        fields = _SCHEMA[section]
        for name in table:
            if name not in fields:
                known = ", ".join(fields)
                hint = _did_you_mean(name, list(fields))
                raise ConfigError(path, f"{section}.{name}", f"a known key of [{section}] ({known}){hint}")


def _env_overrides(path: Path, env: Mapping[str, str]) -> dict[tuple[str, str], tuple[object, str]]:
    """(section, field) -> (parsed value, variable name) for every DCRM_<SECTION>_<FIELD> variable set."""
    found: dict[tuple[str, str], tuple[object, str]] = {}
    for variable in sorted(env):
        if not variable.startswith(ENV_PREFIX):
            continue
        rest = variable[len(ENV_PREFIX) :]
        for section, fields in _SCHEMA.items():
            prefix = f"{section.upper()}_"
            if not rest.startswith(prefix):
                continue
            name = rest[len(prefix) :].lower()
            if name not in fields:
                known = ", ".join(f"{ENV_PREFIX}{section.upper()}_{field.upper()}" for field in fields)
                hint = _did_you_mean(name, list(fields))
                raise ConfigError(path, variable, f"one of {known}{hint.upper()}")
            spec = fields[name]
            text = env[variable]
            try:
                value = spec.from_env(text)
            except _Invalid:
                raise ConfigError(
                    path, variable, f"{spec.expected} for {section}.{name}, got {json.dumps(text)}"
                ) from None
            found[(section, name)] = (value, variable)
    return found


def _resolve(base: Path, value: str) -> Path:
    return (base / Path(value).expanduser()).resolve()


def _check_paths(path: Path, paths: dict[str, tuple[Path, str]]) -> None:
    data_dir, label = paths["data_dir"]
    if data_dir.exists() and not data_dir.is_dir():
        raise ConfigError(path, label, f"a folder for the node's data, but {data_dir} is not a folder")
    for name, what in (("genesis", "the genesis file"), ("validator_key", "the validator's key file")):
        file, label = paths[name]
        if not file.exists():
            raise ConfigError(path, label, f"{what}, but {file} does not exist")
        if not file.is_file():
            raise ConfigError(path, label, f"{what}, but {file} is not a regular file")


def _check_private_file(path: Path, label: str, file: Path, what: str) -> None:
    """A secret's file: a regular file that only its owner may access (like key files)."""
    try:
        info = file.stat()
    except FileNotFoundError:
        raise ConfigError(path, label, f"{what}, but {file} does not exist") from None
    except OSError as error:
        raise ConfigError(path, label, f"{what}, but {file} cannot be read: {error.strerror}") from None
    if not stat.S_ISREG(info.st_mode):
        raise ConfigError(path, label, f"{what}, but {file} is not a regular file")
    mode = stat.S_IMODE(info.st_mode)
    if mode & 0o077:
        raise ConfigError(
            path, label, f"{what} that only its owner can access, but {file} has mode {mode:04o}; run `chmod 600` on it"
        )


def _tls_files(path: Path, base: Path, api: dict[str, Any], labels: dict[tuple[str, str], str]) -> None:
    """Resolve [api]'s TLS paths in place; check they exist, look like PEM, and fit together."""
    for name, (what, marker) in _TLS_FILES.items():
        if name not in api:
            api[name] = None
            continue
        label = labels[("api", name)]
        file = _resolve(base, str(api[name]))
        if name == "tls_key":
            _check_private_file(path, label, file, what)
        elif not file.is_file():
            raise ConfigError(path, label, f"{what} (a PEM file), but {file} is not an existing regular file")
        try:
            content = file.read_bytes()[:MAX_CONFIG_BYTES]
        except OSError as error:
            raise ConfigError(path, label, f"{what}, but {file} cannot be read: {error.strerror}") from None
        if marker not in content:
            raise ConfigError(path, label, f"{what} in PEM form, but {file} has no {marker.decode().strip('-')} block")
        api[name] = file

    def label_of(name: str) -> str:
        return labels.get(("api", name), f"api.{name}")

    if (api["tls_cert"] is None) != (api["tls_key"] is None):
        missing = "tls_key" if api["tls_key"] is None else "tls_cert"
        other = "tls_cert" if missing == "tls_key" else "tls_key"
        raise ConfigError(path, f"api.{missing}", f"a path as well, since {label_of(other)} is set (TLS needs both)")
    if api["client_ca"] is not None and api["tls_cert"] is None:
        raise ConfigError(path, label_of("client_ca"), "no client CA without TLS: set api.tls_cert and api.tls_key too")
    policy = api.get("require_client_cert", "none")
    if policy != "none" and api["client_ca"] is None:
        raise ConfigError(path, label_of("require_client_cert"), f'"none" unless api.client_ca is set, got "{policy}"')
    port, mtls_port = api.get("port", ApiConfig.port), api.get("mtls_port", 0)
    if mtls_port and mtls_port == port:
        raise ConfigError(path, label_of("mtls_port"), f"a port other than api.port ({port}), or 0")


def _network_settings(
    path: Path, base: Path, settings: dict[str, Any], labels: dict[tuple[str, str], str]
) -> NetworkSettings | None:
    """[network], when present: the peer key must exist and be private."""
    if not settings:
        return None
    if "peer_key" not in settings:
        raise ConfigError(path, "network.peer_key", f"{_SCHEMA['network']['peer_key'].expected}; it is required")
    peer_key = _resolve(base, str(settings["peer_key"]))
    _check_private_file(path, labels[("network", "peer_key")], peer_key, "the node's libp2p peer key")
    return NetworkSettings(
        peer_key_path=peer_key,
        listen_host=settings.get("listen_host", "127.0.0.1"),
        listen_port=settings.get("listen_port", 0),
        peers=settings.get("peers", ()),
    )


def load_config(path: Path, env: Mapping[str, str] = os.environ) -> NodeConfig:
    """Read and validate the node configuration at `path`, with `env`'s DCRM_* overrides applied.

    Paths in [node] are resolved against the config file's folder and are absolute in the result; the
    genesis and validator key files must exist, and data_dir must be a folder if it exists.
    Raises ConfigError naming the file, the field (or environment variable) and what was expected.
    """
    path = Path(path)
    document = _read_toml(path)
    _check_file_shape(path, document)
    overrides = _env_overrides(path, env)
    base = path.resolve().parent

    values: dict[str, dict[str, Any]] = {section: {} for section in _SCHEMA}  # checked by _SCHEMA
    labels: dict[tuple[str, str], str] = {}
    for section, fields in _SCHEMA.items():
        table = document.get(section, {})
        for name, spec in fields.items():
            if (section, name) in overrides:
                values[section][name], labels[(section, name)] = overrides[(section, name)]
            elif name in table:
                try:
                    values[section][name] = spec.from_toml(table[name])
                except _Invalid:
                    raise ConfigError(
                        path, f"{section}.{name}", f"{spec.expected}, got {_describe(table[name])}"
                    ) from None
                labels[(section, name)] = f"{section}.{name}"

    node = values["node"]
    for name in _REQUIRED_NODE_PATHS:
        if name not in node:
            variable = f"{ENV_PREFIX}NODE_{name.upper()}"
            spec = _SCHEMA["node"][name]
            raise ConfigError(path, f"node.{name}", f"{spec.expected}; it is required (or set {variable})")
    paths = {name: (_resolve(base, str(node[name])), labels[("node", name)]) for name in _REQUIRED_NODE_PATHS}
    _check_paths(path, paths)
    passphrase_file: Path | None = None
    if "key_passphrase_file" in node:
        passphrase_file = _resolve(base, str(node["key_passphrase_file"]))
        _check_private_file(
            path, labels[("node", "key_passphrase_file")], passphrase_file, "the validator key's passphrase file"
        )
    _tls_files(path, base, values["api"], labels)

    api = ApiConfig(**values["api"])
    mempool = MempoolConfig(**values["mempool"])
    consensus = ConsensusConfig(**values["consensus"])
    log = LogConfig(**values["log"])
    limits = LimitsConfig(**values["limits"])
    metrics = MetricsConfig(**values["metrics"])
    if mempool.max_per_sender > mempool.max_transactions:
        label = labels.get(("mempool", "max_per_sender"), "mempool.max_per_sender")
        expected = f"at most mempool.max_transactions ({mempool.max_transactions}), got {mempool.max_per_sender}"
        raise ConfigError(path, label, expected)
    if consensus.idle_block_ms < consensus.block_interval_ms:
        label = labels.get(("consensus", "idle_block_ms"), "consensus.idle_block_ms")
        expected = (
            f"at least consensus.block_interval_ms ({consensus.block_interval_ms}), got {consensus.idle_block_ms}"
        )
        raise ConfigError(path, label, expected)

    network = _network_settings(path, base, values["network"], labels)
    return NodeConfig(
        config_path=path.resolve(),
        data_dir=paths["data_dir"][0],
        genesis_path=paths["genesis"][0],
        validator_key_path=paths["validator_key"][0],
        api=api,
        mempool=mempool,
        consensus=consensus,
        log=log,
        limits=limits,
        metrics=metrics,
        key_passphrase_file=passphrase_file,
        network=network,
    )


# --- writing ---------------------------------------------------------------------------------------


def _toml_string(value: str) -> str:
    """A TOML basic string; JSON's escapes are a subset of TOML's (non-ASCII stays literal)."""
    return json.dumps(value, ensure_ascii=False)


def _defaults_of(cls: type[Any]) -> dict[str, object]:
    return {item.name: item.default for item in dataclasses.fields(cls)}


@dataclass(frozen=True)
class TlsFiles:
    """The [api] TLS settings `write_default_config` writes (paths as they should appear in the file)."""

    cert: str
    key: str
    client_ca: str
    require_client_cert: str = "writes"


def _tls_lines(tls: TlsFiles | None, mtls_port: int) -> str:
    if tls is None:
        return (
            "# TLS: the node's certificate chain and key (PEM); both or neither. Unset serves plaintext.\n"
            '# tls_cert = "tls/node.crt"\n'
            '# tls_key = "tls/node.key"\n'
            "# Mutual TLS: the CA client certificates must chain to, and which methods need one (none, writes, all).\n"
            '# client_ca = "tls/ca.crt"\n'
            '# require_client_cert = "none"\n'
            "# The port that requires a client certificate (opened when client_ca is set); 0 picks a free one.\n"
            f"# mtls_port = {mtls_port}\n"
        )
    return (
        "# TLS: the node's certificate chain and key (PEM).\n"
        f"tls_cert = {_toml_string(tls.cert)}\n"
        f"tls_key = {_toml_string(tls.key)}\n"
        "# Mutual TLS: the CA client certificates must chain to, and which methods need one (none, writes, all).\n"
        f"client_ca = {_toml_string(tls.client_ca)}\n"
        f"require_client_cert = {_toml_string(tls.require_client_cert)}\n"
        "# The port that requires a client certificate (for writes and admin calls); 0 picks a free one,\n"
        "# written to data_dir/grpc-mtls.port.\n"
        f"mtls_port = {mtls_port}\n"
    )


def _network_lines(network: NetworkSettings | None) -> str:
    """[network] of a multi-validator chain; nothing for a single validator."""
    if network is None:
        return ""
    lines = [
        "",
        "[network]",
        "# This node's libp2p identity (mode 0600), and where it listens for the other validators.",
        f"peer_key = {_toml_string(str(network.peer_key_path))}",
        f"listen_host = {_toml_string(network.listen_host)}",
        f"listen_port = {network.listen_port}",
        "# The other validators: their account (from the validator key), libp2p peer id and address.",
    ]
    for peer in network.peers:
        lines += ["[[network.peers]]", f"account = {_toml_string(peer.account.hex())}"]
        lines.append(f"peer_id = {_toml_string(peer.peer_id)}")
        if peer.address is not None:
            lines.append(f"address = {_toml_string(peer.address)}")
    return "\n".join(lines) + "\n"


def write_default_config(
    path: Path,
    *,
    data_dir: Path | str,
    genesis: Path | str,
    validator_key: Path | str,
    port: int,
    tls: TlsFiles | None = None,
    mtls_port: int = 0,
    key_passphrase_file: Path | str | None = None,
    network: NetworkSettings | None = None,
) -> None:
    """Write a commented config file that `load_config` accepts, replacing any file at `path`.

    Relative paths are written as given and so are read relative to the config file's folder. Every
    setting but the paths, the API address, TLS (when `tls` is given) and the log settings is written
    commented out at its default.
    Raises ValueError when a port is not from 0 to 65535, OSError when the file cannot be written.
    """
    for value in (port, mtls_port):
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 65535:
            raise ValueError(f"port must be an integer from 0 to 65535, got {value!r}")
    api = _defaults_of(ApiConfig)
    mempool = _defaults_of(MempoolConfig)
    consensus = _defaults_of(ConsensusConfig)
    log = _defaults_of(LogConfig)
    limits = _defaults_of(LimitsConfig)
    passphrase = "# The passphrase of an encrypted validator key (mode 0600); else DCRM_KEY_PASSPHRASE is used.\n" + (
        f"key_passphrase_file = {_toml_string(str(key_passphrase_file))}\n"
        if key_passphrase_file is not None
        else '# key_passphrase_file = "passphrase"\n'
    )
    text = f"""\
# dcrm node configuration; docs/configuration.md describes every setting.
# Any setting can be overridden by an environment variable DCRM_<SECTION>_<FIELD>, e.g. DCRM_API_PORT=6000.
# Settings that are commented out show their default.

[node]
# Relative paths are relative to the folder of this file.
# The node's database and state.
data_dir = {_toml_string(str(data_dir))}
# The chain's genesis document.
genesis = {_toml_string(str(genesis))}
# This validator's key file (mode 0600).
validator_key = {_toml_string(str(validator_key))}
{passphrase}
[api]
# The address the gRPC API listens on; 0.0.0.0 listens on every interface.
host = {_toml_string(str(api["host"]))}
# 0 picks a free port; the bound port is logged and written to data_dir/grpc.port.
port = {port}
# The largest gRPC request or response, in bytes.
# max_message_bytes = {api["max_message_bytes"]}
# Threads that handle gRPC calls.
# worker_threads = {api["worker_threads"]}
{_tls_lines(tls, mtls_port)}
[mempool]
# Pending transactions held in total, and per sender account.
# max_transactions = {mempool["max_transactions"]}
# max_per_sender = {mempool["max_per_sender"]}
# Transactions accepted in one SubmitBatch call.
# max_batch = {mempool["max_batch"]}

[consensus]
# How long a block gathers transactions, and how many it holds at most.
# block_interval_ms = {consensus["block_interval_ms"]}
# max_block_transactions = {consensus["max_block_transactions"]}
# An empty block this often, so that block time (the runtime's clock) advances.
# idle_block_ms = {consensus["idle_block_ms"]}
# How long SubmitAndWait waits for the commit when the request gives no timeout (and at most).
# submit_wait_timeout_ms = {consensus["submit_wait_timeout_ms"]}
# PBFT: a view that has not decided within this time is abandoned (doubling per view, at most 8x).
# view_timeout_ms = {consensus["view_timeout_ms"]}

[log]
# debug, info, warning or error.
level = {_toml_string(str(log["level"]))}
# text (one readable line per record) or json (one JSON object per line).
format = {_toml_string(str(log["format"]))}
# INFO lines about refused calls per second, at most; the rest are counted and summarised.
# rejection_lines_per_second = {log["rejection_lines_per_second"]}

[limits]
# Token buckets (0 turns a rate off): transactions per sender account, calls per client address.
# account_tx_per_second = {limits["account_tx_per_second"]}
# account_burst = {limits["account_burst"]}
# peer_requests_per_second = {limits["peer_requests_per_second"]}
# peer_burst = {limits["peer_burst"]}
# Concurrent block/event streams per client address.
# max_streams = {limits["max_streams"]}
# Calls running or queued for a worker thread; more are refused with RESOURCE_EXHAUSTED.
# max_concurrent_calls = {limits["max_concurrent_calls"]}

[metrics]
# The Prometheus endpoint, e.g. "127.0.0.1:9615"; "" turns it off.
listen = ""
{_network_lines(network)}"""
    path = Path(path)
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)
