"""Node configuration: one TOML file per node, validated at start.

Parsing and validation live in `load_config`; every error names the file, the field and what was
expected (ConfigError).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "CLIENT_CERT_POLICIES",
    "ApiConfig",
    "ConfigError",
    "ConsensusConfig",
    "LimitsConfig",
    "LogConfig",
    "MempoolConfig",
    "MetricsConfig",
    "NodeConfig",
]

# Which gRPC methods need a verified client certificate (api.require_client_cert); see node/api/auth.py.
CLIENT_CERT_POLICIES = ("none", "writes", "all")


class ConfigError(ValueError):
    """A configuration value is wrong: says which file, which field and what was expected."""

    def __init__(self, path: Path | str, field_name: str, expected: str) -> None:
        super().__init__(f"{path}: {field_name}: expected {expected}")
        self.path = str(path)
        self.field = field_name
        self.expected = expected


@dataclass(frozen=True)
class ApiConfig:
    host: str = "127.0.0.1"
    port: int = 50051  # 0 picks a free port; the bound port is logged and written to data_dir/grpc.port
    max_message_bytes: int = 16 << 20
    worker_threads: int = 16
    # TLS: the node's certificate chain and private key (PEM); both or neither. None serves plaintext.
    tls_cert: Path | None = None
    tls_key: Path | None = None
    # Mutual TLS: the CA (PEM) that client certificates must chain to, and which methods require one.
    client_ca: Path | None = None
    require_client_cert: str = "none"  # one of CLIENT_CERT_POLICIES
    # With client_ca and a policy other than "all", a second port that requires a client certificate;
    # 0 picks a free port (written to data_dir/grpc-mtls.port).
    mtls_port: int = 0


@dataclass(frozen=True)
class MempoolConfig:
    max_transactions: int = 50_000
    max_per_sender: int = 64
    max_batch: int = 5_000  # transactions in one SubmitBatch call


@dataclass(frozen=True)
class ConsensusConfig:
    block_interval_ms: int = 50  # how long the producer gathers transactions before it builds a block
    max_block_transactions: int = 3_000
    idle_block_ms: int = 5_000  # an empty block this often, so block time (the runtime's clock) advances
    submit_wait_timeout_ms: int = 30_000  # default wait of SubmitAndWait
    view_timeout_ms: int = 1_000  # PBFT: a view without a decision is abandoned after this (doubling, capped 8x)


@dataclass(frozen=True)
class LogConfig:
    level: str = "info"
    format: str = "text"  # or "json"
    rejection_lines_per_second: int = 10  # INFO lines about refused calls, at most; the rest are counted


@dataclass(frozen=True)
class LimitsConfig:
    """Admission control; a rate of 0 turns that limit off."""

    account_tx_per_second: int = 1_000  # transactions admitted per sender account (token bucket)
    account_burst: int = 2_000
    peer_requests_per_second: int = 5_000  # gRPC calls per client address (token bucket)
    peer_burst: int = 10_000
    max_streams: int = 4  # concurrent StreamBlocks/StreamEvents per client address
    max_concurrent_calls: int = 1_000  # calls running or queued for a worker thread; beyond: RESOURCE_EXHAUSTED


@dataclass(frozen=True)
class MetricsConfig:
    listen: str = ""  # "host:port" of the Prometheus endpoint; "" turns it off; port 0 picks a free port


@dataclass(frozen=True)
class ValidatorPeer:
    """Another validator: its account (from its validator key), libp2p peer id, and where to dial it."""

    account: bytes
    peer_id: str
    address: str | None = None  # "host:port"; without one this node waits for the peer to dial in


@dataclass(frozen=True)
class NetworkSettings:
    """[network]: present on every node of a multi-validator chain; absent, a single validator runs alone."""

    peer_key_path: Path
    listen_host: str = "127.0.0.1"
    listen_port: int = 0
    peers: tuple[ValidatorPeer, ...] = ()


@dataclass(frozen=True)
class NodeConfig:
    """Everything a node process needs; paths are absolute after loading."""

    config_path: Path
    data_dir: Path
    genesis_path: Path
    validator_key_path: Path
    api: ApiConfig = field(default_factory=ApiConfig)
    mempool: MempoolConfig = field(default_factory=MempoolConfig)
    consensus: ConsensusConfig = field(default_factory=ConsensusConfig)
    log: LogConfig = field(default_factory=LogConfig)
    limits: LimitsConfig = field(default_factory=LimitsConfig)
    metrics: MetricsConfig = field(default_factory=MetricsConfig)
    key_passphrase_file: Path | None = None  # unlocks an encrypted validator key; else DCRM_KEY_PASSPHRASE
    network: NetworkSettings | None = None
