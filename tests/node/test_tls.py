"""TLS and mutual TLS on the node's gRPC API, the per-method client-certificate policy, and `node init --tls`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from dcrm.client import Client, Unauthenticated, save_key, tls_credentials
from dcrm.node.api.guard import AccessPolicy
from dcrm.node.config import ApiConfig
from dcrm.node.config_loader import load_config
from dcrm.node.devcerts import CertificateAuthority
from dcrm.v1 import admin_pb2, admin_pb2_grpc, node_pb2, node_pb2_grpc
from tests.node.test_cli import run_main
from tests.support.node_process import NodeProcess, local_node
from tests.support.runtime_harness import deterministic_key

ALICE = deterministic_key(1)


@pytest.fixture(scope="module")
def tls_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeProcess]:
    """A node serving TLS with require_client_cert = "writes": a main port and a mutual-TLS port."""
    root = tmp_path_factory.mktemp("tls") / "chain"
    tls = root / "tls"
    tls.mkdir(parents=True)
    authority = CertificateAuthority.create()
    authority.write(tls / "ca.crt", tls / "ca.key")
    authority.issue_server("node", tls / "node.crt", tls / "node.key")
    authority.issue_client("app", tls / "client.crt", tls / "client.key")
    node = local_node(root)
    node.env = {
        "DCRM_API_TLS_CERT": "tls/node.crt",
        "DCRM_API_TLS_KEY": "tls/node.key",
        "DCRM_API_CLIENT_CA": "tls/ca.crt",
        "DCRM_API_REQUIRE_CLIENT_CERT": "writes",
        "DCRM_API_MTLS_PORT": "0",
    }
    node.credentials = tls_credentials(tls / "ca.crt")
    node.start()
    try:
        yield node
    finally:
        node.kill()


def tls_files(node: NodeProcess) -> Path:
    return node.root / "tls"


def test_plaintext_client_cannot_talk_to_a_tls_node(tls_node: NodeProcess) -> None:
    with grpc.insecure_channel(tls_node.endpoint) as channel, pytest.raises(grpc.RpcError) as caught:
        node_pb2_grpc.NodeStub(channel).GetStatus(node_pb2.GetStatusRequest(), timeout=5)
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE


def test_tls_client_reads_without_a_client_certificate(tls_node: NodeProcess) -> None:
    with Client(tls_node.endpoint, credentials=tls_credentials(tls_files(tls_node) / "ca.crt")) as client:
        assert client.status().chain_id == tls_node.genesis.chain_id
        assert client.system.account_info(ALICE.account_id).nonce == 0


def test_writes_without_a_client_certificate_are_unauthenticated(tls_node: NodeProcess) -> None:
    credentials = tls_credentials(tls_files(tls_node) / "ca.crt")
    with Client(tls_node.endpoint, credentials=credentials) as client, pytest.raises(Unauthenticated) as caught:
        client.system.remark(client.account(ALICE), b"no certificate")
    message = str(caught.value)
    assert 'SubmitAndWait needs a verified client certificate (api.require_client_cert = "writes")' in message
    assert "mutual-TLS port (api.mtls_port)" in message


def test_writes_with_a_client_certificate_are_accepted(tls_node: NodeProcess) -> None:
    files = tls_files(tls_node)
    credentials = tls_credentials(files / "ca.crt", files / "client.crt", files / "client.key")
    endpoint = f"127.0.0.1:{tls_node.port_file('grpc-mtls.port')}"
    with Client(endpoint, credentials=credentials) as client:
        receipt = client.system.remark(client.account(ALICE), b"with a certificate")
    assert receipt.success


def test_admin_needs_a_client_certificate(tls_node: NodeProcess) -> None:
    credentials = tls_credentials(tls_files(tls_node) / "ca.crt")
    with grpc.secure_channel(tls_node.endpoint, credentials) as channel, pytest.raises(grpc.RpcError) as caught:
        list(admin_pb2_grpc.AdminStub(channel).Backup(admin_pb2.BackupRequest(), timeout=10))
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert "Backup is an admin method: it needs a client certificate" in (caught.value.details() or "")


def test_backup_over_mutual_tls_with_the_cli(
    tls_node: NodeProcess, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    files = tls_files(tls_node)
    for variable, value in tls_node.env.items():
        monkeypatch.setenv(variable, value)
    out = tmp_path / "backup"
    code, stdout, err = run_main(
        capsys,
        "node",
        "backup",
        "--config",
        str(tls_node.config_path),
        "--out",
        str(out),
        "--tls-cert",
        str(files / "client.crt"),
        "--tls-key",
        str(files / "client.key"),
    )
    assert code == 0, err
    assert "backup of chain" in stdout
    assert (out / "backup.json").is_file()


class FakeContext:
    def __init__(self, peer: str, certificate: bool) -> None:
        self._peer = peer
        self._certificate = certificate

    def peer(self) -> str:
        return self._peer

    def auth_context(self) -> dict[str, list[bytes]]:
        return {"x509_pem_cert": [b"-----BEGIN CERTIFICATE-----"]} if self._certificate else {}


def check(policy: AccessPolicy, method: str, peer: str = "ipv4:10.0.0.7:5000", certificate: bool = False) -> Any:
    denial = policy.check(f"/dcrm.v1.{method}", FakeContext(peer, certificate))  # type: ignore[arg-type]
    return None if denial is None else denial.code


@pytest.mark.parametrize(
    ("policy", "method", "certificate", "expected"),
    [
        ("none", "Node/SubmitTransaction", False, None),
        ("writes", "Node/SubmitTransaction", False, grpc.StatusCode.UNAUTHENTICATED),
        ("writes", "Node/SubmitBatch", True, None),
        ("writes", "Node/GetStatus", False, None),
        ("writes", "Node/StreamBlocks", False, None),
        ("all", "Node/GetStatus", False, grpc.StatusCode.UNAUTHENTICATED),
        ("all", "Node/GetStatus", True, None),
        ("none", "Admin/Backup", False, grpc.StatusCode.UNAUTHENTICATED),
        ("none", "Admin/Backup", True, None),
    ],
)
def test_access_policy_with_a_client_ca(policy: str, method: str, certificate: bool, expected: Any) -> None:
    config = ApiConfig(
        tls_cert=Path("n.crt"), tls_key=Path("n.key"), client_ca=Path("ca.crt"), require_client_cert=policy
    )
    assert check(AccessPolicy(config), method, certificate=certificate) == expected


def test_admin_without_a_client_ca_is_for_loopback_only() -> None:
    policy = AccessPolicy(ApiConfig())
    assert check(policy, "Admin/Backup", peer="ipv4:127.0.0.1:4000") is None
    assert check(policy, "Admin/Backup", peer="ipv6:[::1]:4000") is None
    assert check(policy, "Admin/Backup", peer="ipv4:10.0.0.7:4000") == grpc.StatusCode.PERMISSION_DENIED
    assert check(policy, "Node/SubmitTransaction", peer="ipv4:10.0.0.7:4000") is None


def test_node_init_tls_writes_certificates_and_a_config_that_loads(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "chain"
    code, out, err = run_main(
        capsys, "node", "init", "--data", str(data), "--validators", "2", "--base-port", "41000", "--tls"
    )
    assert code == 0, err
    assert "mutual TLS 127.0.0.1:41002" in out
    for name in ("ca.crt", "ca.key", "client.crt", "client.key"):
        assert (data / "tls" / name).is_file()
    assert (data / "tls" / "client.key").stat().st_mode & 0o777 == 0o600
    config = load_config(data / "node1" / "config.toml", {})
    assert config.api.tls_cert == (data / "node1" / "tls" / "node.crt").resolve()
    assert config.api.client_ca == (data / "tls" / "ca.crt").resolve()
    assert (config.api.require_client_cert, config.api.port, config.api.mtls_port) == ("writes", 41001, 41003)
    assert (data / "node1" / "tls" / "node.key").stat().st_mode & 0o777 == 0o600
    from cryptography import x509

    certificate = x509.load_pem_x509_certificate((data / "node0" / "tls" / "node.crt").read_bytes())
    names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert {str(ip) for ip in names.get_values_for_type(x509.IPAddress)} >= {"127.0.0.1"}
    assert "localhost" in names.get_values_for_type(x509.DNSName)


def test_cli_reads_and_writes_with_tls_flags(tls_node: NodeProcess, capsys: pytest.CaptureFixture[str]) -> None:
    files = tls_files(tls_node)
    ca = ["--tls-ca", str(files / "ca.crt")]
    code, out, err = run_main(capsys, "status", "--endpoint", tls_node.endpoint, "--json", *ca)
    assert code == 0, err
    assert '"chain_id": "dcrm-test"' in out
    code, _, err = run_main(capsys, "status", "--endpoint", tls_node.endpoint, "--timeout", "3")
    assert code == 1  # plaintext against a TLS port
    key = tls_node.root / "bob.key"
    save_key(key, deterministic_key(2))
    remark = ["tx", "remark", "--key", str(key), "--note", "hi", "--wait", *ca]
    code, _, err = run_main(capsys, *remark, "--endpoint", tls_node.endpoint)
    assert code == 1
    assert "needs a verified client certificate" in err
    mutual = f"127.0.0.1:{tls_node.port_file('grpc-mtls.port')}"
    client_cert = ["--tls-cert", str(files / "client.crt"), "--tls-key", str(files / "client.key")]
    code, out, err = run_main(capsys, *remark, "--endpoint", mutual, *client_cert)
    assert code == 0, err
    assert "success" in out
    code, _, err = run_main(capsys, "status", "--endpoint", mutual, "--tls-cert", str(files / "client.crt"))
    assert (code, err) == (
        1,
        "error: --tls-cert and --tls-key need --tls-ca (the CA that signed the node's certificate)\n",
    )
