"""Node configuration: loading, defaults, every kind of error (naming file and field), env overrides, logging."""

from __future__ import annotations

import io
import json
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dcrm.node.config import ApiConfig, ConfigError, ConsensusConfig, LogConfig, MempoolConfig, NodeConfig
from dcrm.node.config_loader import load_config, write_default_config
from dcrm.node.logs import REDACTED, configure_logging

NODE_SECTION = """\
[node]
data_dir = "data"
genesis = "genesis.json"
validator_key = "keys/validator.key"
"""


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A node folder holding the files [node] points at."""
    (tmp_path / "genesis.json").write_text("{}")
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "validator.key").write_text("{}")
    return tmp_path


def write(folder: Path, text: str, name: str = "config.toml") -> Path:
    path = folder / name
    path.write_text(text)
    return path


def config_error(path: Path, env: dict[str, str] | None = None) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        load_config(path, env or {})
    return caught.value


def assert_names(error: ConfigError, path: Path, field: str, *fragments: str) -> None:
    """The message is "<file>: <field>: expected ..." and says what was expected."""
    message = str(error)
    assert message.startswith(f"{path}: {field}: expected "), message
    assert error.path == str(path)
    assert error.field == field
    for fragment in fragments:
        assert fragment in message, message


# --- valid files -------------------------------------------------------------------------------------


def test_full_file_is_loaded_with_paths_resolved_against_its_folder(folder: Path) -> None:
    path = write(
        folder,
        NODE_SECTION
        + """
[api]
host = "0.0.0.0"
port = 6000
max_message_bytes = 1048576
worker_threads = 4

[mempool]
max_transactions = 1000
max_per_sender = 10
max_batch = 100

[consensus]
block_interval_ms = 20
max_block_transactions = 500
idle_block_ms = 1000
submit_wait_timeout_ms = 5000

[log]
level = "debug"
format = "json"
""",
    )
    config = load_config(path, {})
    assert config == NodeConfig(
        config_path=path.resolve(),
        data_dir=(folder / "data").resolve(),
        genesis_path=(folder / "genesis.json").resolve(),
        validator_key_path=(folder / "keys" / "validator.key").resolve(),
        api=ApiConfig(host="0.0.0.0", port=6000, max_message_bytes=1048576, worker_threads=4),
        mempool=MempoolConfig(max_transactions=1000, max_per_sender=10, max_batch=100),
        consensus=ConsensusConfig(
            block_interval_ms=20, max_block_transactions=500, idle_block_ms=1000, submit_wait_timeout_ms=5000
        ),
        log=LogConfig(level="debug", format="json"),
    )
    assert config.data_dir.is_absolute()


def test_only_node_section_gives_every_default(folder: Path) -> None:
    config = load_config(write(folder, NODE_SECTION), {})
    assert (config.api, config.mempool, config.consensus, config.log) == (
        ApiConfig(),
        MempoolConfig(),
        ConsensusConfig(),
        LogConfig(),
    )


def test_config_loaded_from_another_working_folder(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(folder, NODE_SECTION)
    elsewhere = folder / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert load_config(Path(os.path.relpath(path)), {}).genesis_path == (folder / "genesis.json").resolve()


def test_default_config_file_is_accepted(folder: Path) -> None:
    path = folder / "node" / "config.toml"
    path.parent.mkdir()
    write_default_config(
        path, data_dir="data", genesis="../genesis.json", validator_key="../keys/validator.key", port=0
    )
    config = load_config(path, {})
    assert config.api == ApiConfig(port=0)
    assert (config.mempool, config.consensus, config.log) == (MempoolConfig(), ConsensusConfig(), LogConfig())
    assert config.data_dir == (folder / "node" / "data").resolve()
    assert config.validator_key_path == (folder / "keys" / "validator.key").resolve()
    assert "#" in path.read_text()  # commented


def test_default_config_quotes_awkward_paths(tmp_path: Path) -> None:
    odd = tmp_path / 'a "quoted" \\ päth'
    odd.mkdir()
    (odd / "genesis.json").write_text("{}")
    (odd / "validator.key").write_text("{}")
    path = tmp_path / "config.toml"
    write_default_config(
        path, data_dir=odd / "data", genesis=odd / "genesis.json", validator_key=odd / "validator.key", port=7
    )
    config = load_config(path, {})
    assert (config.genesis_path, config.api.port) == ((odd / "genesis.json").resolve(), 7)


def test_default_config_rejects_a_bad_port(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="port must be an integer from 0 to 65535"):
        write_default_config(tmp_path / "c.toml", data_dir="d", genesis="g", validator_key="k", port=70000)


# --- errors in the file --------------------------------------------------------------------------------


def test_unknown_section(folder: Path) -> None:
    path = write(folder, NODE_SECTION + "[netwrk]\nport = 1\n")
    assert_names(config_error(path), path, "netwrk", "[node], [api], [mempool], [consensus], [log]")


def test_unknown_key_suggests_the_close_one(folder: Path) -> None:
    path = write(folder, NODE_SECTION + "[api]\nprot = 6000\n")
    assert_names(config_error(path), path, "api.prot", "known key of [api]", "did you mean 'port'?")


def test_top_level_key_is_an_unknown_section(folder: Path) -> None:
    path = write(folder, "port = 1\n" + NODE_SECTION)
    assert_names(config_error(path), path, "port", "one of the sections")


def test_section_that_is_not_a_table(folder: Path) -> None:
    path = write(folder, "api = 3\n" + NODE_SECTION)
    assert_names(config_error(path), path, "api", "a table [api], got 3")


@pytest.mark.parametrize(
    ("setting", "field", "expected"),
    [
        ('[api]\nport = "6000"', "api.port", 'an integer from 0 to 65535, got "6000"'),
        ("[api]\nport = 6000.0", "api.port", "an integer from 0 to 65535, got 6000.0 (a float)"),
        ("[api]\nworker_threads = true", "api.worker_threads", "got true (a boolean)"),
        ("[api]\nhost = 127", "api.host", "an IP address or host name"),
        ("[log]\nlevel = 1", "log.level", '"debug", "info", "warning", "error"'),
        ("[mempool]\nmax_batch = [1]", "mempool.max_batch", "got an array"),
        ('[node]\ndata_dir = 1\ngenesis = "g"\nvalidator_key = "k"', "node.data_dir", "a path to the node's data"),
    ],
)
def test_wrong_type(folder: Path, setting: str, field: str, expected: str) -> None:
    text = setting + "\n" if setting.startswith("[node]") else NODE_SECTION + setting + "\n"
    path = write(folder, text)
    assert_names(config_error(path), path, field, expected)


@pytest.mark.parametrize(
    ("setting", "field", "expected"),
    [
        ("[api]\nport = 70000", "api.port", "an integer from 0 to 65535, got 70000"),
        ("[api]\nport = -1", "api.port", "an integer from 0 to 65535, got -1"),
        ("[api]\nworker_threads = 0", "api.worker_threads", "an integer from 1 to 256, got 0"),
        ("[api]\nmax_message_bytes = 10", "api.max_message_bytes", "from 65536 to 2147483647"),
        ("[api]\nhost = 'not a host'", "api.host", 'got "not a host"'),
        ("[consensus]\nblock_interval_ms = 0", "consensus.block_interval_ms", "from 1 to 60000, got 0"),
        ("[log]\nlevel = 'verbose'", "log.level", 'one of "debug", "info", "warning", "error", got "verbose"'),
        ("[log]\nformat = 'xml'", "log.format", 'one of "text", "json", got "xml"'),
        (
            "[mempool]\nmax_transactions = 10\nmax_per_sender = 20",
            "mempool.max_per_sender",
            "at most mempool.max_transactions (10), got 20",
        ),
        (
            "[consensus]\nblock_interval_ms = 500\nidle_block_ms = 100",
            "consensus.idle_block_ms",
            "at least consensus.block_interval_ms (500), got 100",
        ),
    ],
)
def test_out_of_range(folder: Path, setting: str, field: str, expected: str) -> None:
    path = write(folder, NODE_SECTION + setting + "\n")
    assert_names(config_error(path), path, field, expected)


def test_missing_required_path(folder: Path) -> None:
    path = write(folder, '[node]\ndata_dir = "data"\nvalidator_key = "keys/validator.key"\n')
    assert_names(config_error(path), path, "node.genesis", "it is required (or set DCRM_NODE_GENESIS)")


def test_genesis_file_that_does_not_exist(folder: Path) -> None:
    path = write(folder, NODE_SECTION.replace("genesis.json", "nowhere.json"))
    assert_names(config_error(path), path, "node.genesis", f"{(folder / 'nowhere.json').resolve()} does not exist")


def test_validator_key_that_is_a_folder(folder: Path) -> None:
    path = write(folder, NODE_SECTION.replace("keys/validator.key", "keys"))
    assert_names(config_error(path), path, "node.validator_key", "is not a regular file")


def test_data_dir_that_is_a_file(folder: Path) -> None:
    path = write(folder, NODE_SECTION.replace('"data"', '"genesis.json"'))
    assert_names(config_error(path), path, "node.data_dir", "is not a folder")


def test_invalid_toml_names_the_line(folder: Path) -> None:
    path = write(folder, NODE_SECTION + "[api]\nport 6000\n")
    assert_names(config_error(path), path, "line 6", "valid TOML", "column")


def test_duplicate_key_is_invalid_toml(folder: Path) -> None:
    path = write(folder, NODE_SECTION + "[api]\nport = 1\nport = 2\n")
    assert_names(config_error(path), path, "line 7", "valid TOML")


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "absent.toml"
    assert_names(config_error(path), path, "file", "there is none at this path")


def test_folder_instead_of_file(tmp_path: Path) -> None:
    assert_names(config_error(tmp_path), tmp_path, "file", "not a regular file")


def test_file_that_is_not_utf8(folder: Path) -> None:
    path = folder / "config.toml"
    path.write_bytes(NODE_SECTION.encode() + b"# \xff\n")
    assert_names(config_error(path), path, "file", "UTF-8")


def test_unreadable_file(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(folder, NODE_SECTION)
    # Root reads files whatever their mode, so refuse the read itself, as the kernel would for others.
    real_open = Path.open

    def refuse(self: Path, *args: Any, **kwargs: Any) -> Any:
        if self == path:
            raise PermissionError(13, "Permission denied", str(self))
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", refuse)
    assert_names(config_error(path), path, "file", "permission to read it is denied")


# --- environment overrides ---------------------------------------------------------------------------------


def test_environment_overrides_the_file(folder: Path) -> None:
    other = folder / "other.json"
    other.write_text("{}")
    path = write(folder, NODE_SECTION + "[api]\nport = 5000\n[log]\nformat = 'text'\n")
    env = {
        "DCRM_API_PORT": "6000",
        "DCRM_LOG_FORMAT": "json",
        "DCRM_MEMPOOL_MAX_PER_SENDER": " 7 ",
        "DCRM_NODE_GENESIS": "other.json",
        "DCRM_SOMETHING_ELSE": "ignored",
        "PATH": "/bin",
    }
    config = load_config(path, env)
    assert (config.api.port, config.log.format, config.mempool.max_per_sender) == (6000, "json", 7)
    assert config.genesis_path == other.resolve()


def test_environment_can_supply_required_paths(folder: Path) -> None:
    path = write(folder, "[api]\nport = 1\n")
    env = {
        "DCRM_NODE_DATA_DIR": "d",
        "DCRM_NODE_GENESIS": "genesis.json",
        "DCRM_NODE_VALIDATOR_KEY": "keys/validator.key",
    }
    assert load_config(path, env).data_dir == (folder / "d").resolve()


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("DCRM_API_PORT", "abc", 'an integer from 0 to 65535 for api.port, got "abc"'),
        ("DCRM_API_PORT", "99999", 'for api.port, got "99999"'),
        ("DCRM_API_PORT", "6e3", 'got "6e3"'),
        ("DCRM_LOG_LEVEL", "INFO", 'one of "debug", "info", "warning", "error" for log.level, got "INFO"'),
        ("DCRM_API_PROT", "1", "one of DCRM_API_HOST, DCRM_API_PORT"),
    ],
)
def test_bad_environment_value_names_the_variable(folder: Path, variable: str, value: str, expected: str) -> None:
    path = write(folder, NODE_SECTION)
    assert_names(config_error(path, {variable: value}), path, variable, expected)


def test_environment_path_is_checked_like_the_file(folder: Path) -> None:
    path = write(folder, NODE_SECTION)
    error = config_error(path, {"DCRM_NODE_VALIDATOR_KEY": "missing.key"})
    assert_names(error, path, "DCRM_NODE_VALIDATOR_KEY", "does not exist")


# --- logging ---------------------------------------------------------------------------------------------


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)


@pytest.mark.usefixtures("restore_logging")
def test_text_logs_are_single_lines_with_extras() -> None:
    stream = io.StringIO()
    configure_logging(LogConfig(level="info", format="text"), stream)
    log = logging.getLogger("dcrm.test")
    log.debug("not shown")
    log.info("two\nlines", extra={"height": 3, "block_hash": b"\xab\xcd", "note": "a b"})
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1
    assert lines[0].endswith('INFO  dcrm.test: two\\nlines height=3 block_hash=abcd note="a b"')


@pytest.mark.usefixtures("restore_logging")
def test_json_logs_one_object_per_record_without_key_material() -> None:
    from dcrm.client.keys import SigningKey

    key = SigningKey.generate()
    stream = io.StringIO()
    configure_logging(LogConfig(level="debug", format="json"), stream)
    configure_logging(LogConfig(level="debug", format="json"), stream)  # replaces, does not add
    log = logging.getLogger("dcrm.test")
    log.debug("signed", extra={"height": 7, "private_key": key.to_hex(), "key": key, "account": key.account_id})
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        log.exception("failed")
    records = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert len(records) == 2
    first = records[0]
    assert set(first) == {"ts", "level", "logger", "message", "height", "private_key", "key", "account"}
    assert (first["level"], first["logger"], first["message"], first["height"]) == ("debug", "dcrm.test", "signed", 7)
    assert first["private_key"] == first["key"] == REDACTED
    assert first["account"] == key.account_id.hex()
    assert key.to_hex() not in stream.getvalue()
    assert records[1]["level"] == "error"
    assert "RuntimeError: boom" in records[1]["exc"]
