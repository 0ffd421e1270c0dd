"""Operator settings: TLS paths, passphrase file, [limits], [metrics]; errors name the file and the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from dcrm.node.config import ConfigError, LimitsConfig, MetricsConfig
from dcrm.node.config_loader import TlsFiles, load_config, write_default_config

NODE = '[node]\ndata_dir = "data"\ngenesis = "genesis.json"\nvalidator_key = "validator.key"\n'


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "genesis.json").write_text("{}")
    (tmp_path / "validator.key").write_text("{}")
    (tmp_path / "node.crt").write_text("-----BEGIN CERTIFICATE-----\n")
    (tmp_path / "ca.crt").write_text("-----BEGIN CERTIFICATE-----\n")
    key = tmp_path / "node.key"
    key.write_text("-----BEGIN PRIVATE KEY-----\n")
    key.chmod(0o600)
    return tmp_path


def error_of(path: Path, env: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as caught:
        load_config(path, env or {})
    return str(caught.value)


def write(folder: Path, text: str) -> Path:
    path = folder / "config.toml"
    path.write_text(NODE + text)
    return path


def test_defaults() -> None:
    assert LimitsConfig().account_tx_per_second == 1000
    assert MetricsConfig().listen == ""


def test_tls_settings_load_with_paths_resolved(folder: Path) -> None:
    path = write(
        folder,
        '[api]\ntls_cert = "node.crt"\ntls_key = "node.key"\nclient_ca = "ca.crt"\nrequire_client_cert = "writes"\n'
        'mtls_port = 7001\n[limits]\nmax_streams = 2\n[metrics]\nlisten = "127.0.0.1:9615"\n',
    )
    config = load_config(path, {})
    assert config.api.tls_cert == folder / "node.crt"
    assert config.api.client_ca == folder / "ca.crt"
    assert (config.api.require_client_cert, config.api.mtls_port) == ("writes", 7001)
    assert config.limits.max_streams == 2
    assert config.metrics.listen == "127.0.0.1:9615"


@pytest.mark.parametrize(
    ("text", "env", "expected"),
    [
        ('[api]\ntls_cert = "node.crt"\n', {}, "api.tls_key: expected a path as well, since api.tls_cert is set"),
        ('[api]\nrequire_client_cert = "all"\n', {}, 'api.require_client_cert: expected "none" unless api.client_ca'),
        ('[api]\nclient_ca = "ca.crt"\n', {}, "api.client_ca: expected no client CA without TLS"),
        ('[api]\ntls_cert = "validator.key"\ntls_key = "node.key"\n', {}, "api.tls_cert: expected the node's TLS"),
        ("[api]\nport = 7000\nmtls_port = 7000\n", {}, "api.mtls_port: expected a port other than api.port (7000)"),
        ('[metrics]\nlisten = "9615"\n', {}, 'metrics.listen: expected "HOST:PORT"'),
        ("[limits]\npeer_burst = 0\n", {}, "limits.peer_burst: expected an integer from 1 to 10000000, got 0"),
        ("", {"DCRM_LIMITS_MAX_STREAM": "3"}, "DCRM_LIMITS_MAX_STREAM: expected one of"),
        ("", {"DCRM_API_REQUIRE_CLIENT_CERT": "some"}, 'DCRM_API_REQUIRE_CLIENT_CERT: expected one of "none"'),
    ],
)
def test_errors_name_the_field(folder: Path, text: str, env: dict[str, str], expected: str) -> None:
    path = write(folder, text)
    message = error_of(path, env)
    assert message.startswith(f"{path}: "), message
    assert expected in message, message


def test_secret_files_must_be_private(folder: Path) -> None:
    (folder / "node.key").chmod(0o644)
    path = write(folder, '[api]\ntls_cert = "node.crt"\ntls_key = "node.key"\n')
    assert "api.tls_key: expected the node's TLS private key that only its owner can access" in error_of(path)
    assert "has mode 0644; run `chmod 600` on it" in error_of(path)
    secret = folder / "passphrase"
    secret.write_text("pw\n")
    secret.chmod(0o640)
    path.write_text(NODE + 'key_passphrase_file = "passphrase"\n')
    assert "node.key_passphrase_file: expected the validator key's passphrase file" in error_of(path)
    secret.chmod(0o600)
    assert load_config(path, {}).key_passphrase_file == secret


def test_default_config_with_tls_round_trips(folder: Path) -> None:
    path = folder / "written.toml"
    write_default_config(
        path,
        data_dir="data",
        genesis="genesis.json",
        validator_key="validator.key",
        port=7000,
        tls=TlsFiles(cert="node.crt", key="node.key", client_ca="ca.crt"),
        mtls_port=7001,
        key_passphrase_file="passphrase",
    )
    (folder / "passphrase").write_text("pw")
    (folder / "passphrase").chmod(0o600)
    config = load_config(path, {})
    assert (config.api.port, config.api.mtls_port, config.api.require_client_cert) == (7000, 7001, "writes")
    assert config.key_passphrase_file == folder / "passphrase"
    assert config.limits == LimitsConfig()
    assert config.metrics == MetricsConfig()
