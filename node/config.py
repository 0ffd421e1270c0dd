"""Node configuration: one TOML file per node, validated at start.

Parsing and validation live in `load_config`; every error names the file, the field and what was
expected (ConfigError).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["ApiConfig", "ConfigError", "ConsensusConfig", "LogConfig", "MempoolConfig", "NodeConfig"]


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


@dataclass(frozen=True)
class LogConfig:
    level: str = "info"
    format: str = "text"  # or "json"


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
