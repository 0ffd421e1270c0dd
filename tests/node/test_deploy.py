"""Deployment files (Docker cannot run here: they are parsed and cross-checked) and graceful stop under load."""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path
from typing import Any

import yaml

from dcrm.client import Client, RpcError
from dcrm.node.config_loader import load_config
from dcrm.node.metrics import NodeMetrics
from dcrm.v1 import node_pb2
from tests.support.node_process import READY_DEADLINE_SECONDS, local_node, wait_until
from tests.support.runtime_harness import deterministic_key

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"


def compose() -> dict[str, Any]:
    document = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    assert isinstance(document, dict)
    return document


def test_compose_runs_four_validators_with_their_own_volumes() -> None:
    services = compose()["services"]
    assert sorted(services) == ["node0", "node1", "node2", "node3"]
    data_volumes, key_folders, host_ports = set(), set(), []
    for name, service in services.items():
        assert service["build"]["dockerfile"] == "Dockerfile"
        assert (DEPLOY / service["build"]["context"] / "Dockerfile").is_file()
        mounts = dict(volume.split(":", 1) for volume in service["volumes"])
        targets = {target.removesuffix(":ro"): source for source, target in mounts.items()}
        data_volumes.add(targets["/var/lib/dcrm"])
        key_folders.add(targets["/keys"])
        assert targets["/keys"] == f"./chain/{name}"
        host_ports += [port.rsplit(":", 1)[0] for port in service["ports"]]
    assert len(data_volumes) == len(key_folders) == 4
    assert data_volumes <= set(compose()["volumes"])
    assert len(host_ports) == len(set(host_ports))


def test_compose_overrides_are_settings_the_node_accepts(tmp_path: Path) -> None:
    """Every DCRM_* variable of every service is checked by the real loader (paths swapped for local files)."""
    (tmp_path / "genesis.json").write_text("{}")
    (tmp_path / "validator.key").write_text("{}")
    (tmp_path / "peer.key").write_text("{}")
    (tmp_path / "peer.key").chmod(0o600)
    local_paths = {
        "DCRM_NODE_DATA_DIR": str(tmp_path / "data"),
        "DCRM_NODE_GENESIS": str(tmp_path / "genesis.json"),
        "DCRM_NODE_VALIDATOR_KEY": str(tmp_path / "validator.key"),
        "DCRM_NETWORK_PEER_KEY": str(tmp_path / "peer.key"),
    }
    for service in compose()["services"].values():
        env = {name: str(value) for name, value in service["environment"].items()}
        assert set(local_paths) <= set(env)
        config = load_config(DEPLOY / "config.toml", {**env, **local_paths})
        assert config.api.host == "0.0.0.0"
        assert config.metrics.listen == "0.0.0.0:9615"


def test_dockerfile_paths_exist_and_image_is_hardened() -> None:
    text = (ROOT / "Dockerfile").read_text()
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    copies = [line.split()[1:-1] for line in lines if line.startswith("COPY") and "--from" not in line]
    assert copies
    for sources in copies:
        for source in sources:
            assert (ROOT / source).exists(), f"Dockerfile copies {source}, which does not exist"
    assert [line for line in lines if line.startswith("FROM")][-1] == "FROM python:3.11-slim"
    assert 'pip install ".[node]"' in text
    assert re.search(r"^USER dcrm$", text, re.MULTILINE)
    assert "HEALTHCHECK" in text
    assert "dcrm status" in text
    assert '"/var/lib/dcrm"' in text
    assert '"/keys"' in text
    assert "deploy/chain" in (ROOT / ".dockerignore").read_text()  # keys never go into the image


def test_dashboard_uses_only_metrics_the_node_exports() -> None:
    dashboard = json.loads((DEPLOY / "grafana" / "dcrm.json").read_text())
    exported = {metric.name for metric in NodeMetrics().registry.collect()}
    used = set()
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            used |= set(re.findall(r"dcrm_[a-z_]+", target["expr"]))
    assert used
    for name in used:
        base = re.sub(r"_(total|bucket|count|sum)$", "", name)
        assert base in exported, f"the dashboard uses {name}, which the node does not export"


def test_sigterm_under_load_exits_zero_and_keeps_every_acknowledged_block(tmp_path: Path) -> None:
    node = local_node(tmp_path / "chain")
    node.start()
    receipts: list[tuple[bytes, int]] = []
    lock = threading.Lock()
    stop = threading.Event()

    def load(index: int) -> None:
        key = deterministic_key(10 + index)
        with Client(node.endpoint, timeout=10) as client:
            account = client.account(key)
            for count in range(500):  # bounded; the node stops long before
                if stop.is_set():
                    return
                try:
                    receipt = client.system.remark(account, f"load {index} {count}".encode(), timeout=10)
                except (RpcError, ValueError):
                    return  # the node is going away
                with lock:
                    receipts.append((receipt.tx_hash, receipt.height))

    threads = [threading.Thread(target=load, args=(index,), daemon=True) for index in range(4)]
    for thread in threads:
        thread.start()
    try:
        wait_until(lambda: len(receipts) >= 20, READY_DEADLINE_SECONDS, "20 acknowledged transactions")
        assert node.stop() == 0, node.log_tail()
    finally:
        stop.set()
        for thread in threads:
            thread.join(READY_DEADLINE_SECONDS)
        node.kill()
    acknowledged = list(receipts)
    node.start()
    try:
        with Client(node.endpoint) as client:
            assert client.status().height >= max(height for _, height in acknowledged)
            for tx_hash, height in acknowledged:
                status = client.transaction(tx_hash)
                assert status.state == node_pb2.TransactionStatus.COMMITTED
                assert status.receipt.height == height
    finally:
        assert node.stop() == 0
