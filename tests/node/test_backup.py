"""Backup of a running node through its Admin service, restore into a new data folder, and a node started from it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dcrm.client import Client
from dcrm.v1 import types_pb2
from tests.node.test_cli import run_main
from tests.support.node_process import READY_DEADLINE_SECONDS, local_node, wait_until
from tests.support.runtime_harness import deterministic_key

ALICE = deterministic_key(1)


def test_backup_restore_and_continue(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    original = local_node(tmp_path / "original")
    original.start()
    try:
        with Client(original.endpoint) as client:
            alice = client.account(ALICE)
            for index in range(3):
                assert client.system.remark(alice, f"before backup {index}".encode()).success
        out = tmp_path / "backup"
        code, stdout, err = run_main(capsys, "node", "backup", "--config", str(original.config_path), "--out", str(out))
        assert code == 0, err
        assert f"written to {out}" in stdout
        # The node keeps committing while and after the backup is taken.
        with Client(original.endpoint) as client:
            assert client.system.remark(client.account(ALICE, nonce=3), b"after backup").success
    finally:
        assert original.stop() == 0

    manifest = json.loads((out / "backup.json").read_text())
    assert manifest["height"] >= 3
    assert manifest["chain_id"] == original.genesis.chain_id

    restored = local_node(tmp_path / "restored")
    restored.write_files()
    code, stdout, err = run_main(capsys, "node", "restore", "--from", str(out), "--config", str(restored.config_path))
    assert code == 0, err
    assert f"at height {manifest['height']}" in stdout
    code, _, err = run_main(capsys, "node", "restore", "--from", str(out), "--config", str(restored.config_path))
    assert code == 1
    assert "already exists: stop the node and pass --force" in err

    restored.start()
    try:
        with Client(restored.endpoint) as client:
            height = manifest["height"]
            block = client.block(height)
            assert block.block_hash.hex() == manifest["head_hash"]
            header = types_pb2.BlockHeader.FromString(block.block.header)
            assert header.state_root.hex() == manifest["state_root"]
            assert client.status().genesis_hash.hex() == manifest["genesis_hash"]
            # The state is there: Alice's nonce is the 3 transactions before the backup.
            assert client.system.account_info(ALICE.account_id).nonce == 3
            # And the restored node goes on producing blocks on top of it.
            receipt = client.system.remark(client.account(ALICE), b"after restore")
            assert receipt.success
            assert receipt.height > height
            wait_until(lambda: client.status().height > receipt.height, READY_DEADLINE_SECONDS, "an idle block")
    finally:
        assert restored.stop() == 0


def test_restore_refuses_another_chain(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = local_node(tmp_path / "source")
    source.start()
    try:
        code, _, err = run_main(
            capsys, "node", "backup", "--config", str(source.config_path), "--out", str(tmp_path / "b")
        )
        assert code == 0, err
        code, _, err = run_main(
            capsys, "node", "backup", "--config", str(source.config_path), "--out", str(tmp_path / "b")
        )
        assert code == 1
        assert "already exists and is not an empty folder" in err
    finally:
        source.kill()
    other_chain = tmp_path / "other"
    code, _, err = run_main(capsys, "node", "init", "--data", str(other_chain))
    assert code == 0, err
    code, _, err = run_main(
        capsys, "node", "restore", "--from", str(tmp_path / "b"), "--config", str(other_chain / "node0" / "config.toml")
    )
    assert code == 1
    assert "with another genesis than the node's genesis file" in err
