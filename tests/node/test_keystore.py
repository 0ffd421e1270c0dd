"""Encrypted key files: format, wrong passphrase, tampering, the CLI, and a node unlocking its validator key."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import pytest

from dcrm.client.errors import KeyFileError
from dcrm.client.keys import SigningKey, load_key, save_key
from dcrm.client.keystore import decrypt_key, encrypt_key, save_encrypted_key
from dcrm.node.config_loader import load_config
from dcrm.node.keyfiles import PassphraseFileError, load_validator_key, read_passphrase_file
from tests.node.test_cli import run_main
from tests.support.node_process import local_node

FAST = 1 << 12  # scrypt cost for unit tests; files made by the CLI use the default


def test_round_trip_and_file_shape(tmp_path: Path) -> None:
    key = SigningKey.generate()
    path = tmp_path / "k.json"
    save_encrypted_key(path, key, "correct horse", scrypt_n=FAST)
    assert path.stat().st_mode & 0o777 == 0o600
    document = json.loads(path.read_text())
    assert document["crypto"]["cipher"] == "aes-256-gcm"
    assert document["crypto"]["kdf"] == "scrypt"
    assert document["account"] == key.account_id.hex()
    assert key.to_hex() not in path.read_text()
    assert load_key(path, passphrase="correct horse").secret == key.secret
    assert load_key(path, passphrase=b"correct horse").account_id == key.account_id


def test_wrong_or_missing_passphrase_is_a_precise_error(tmp_path: Path) -> None:
    path = tmp_path / "k.json"
    save_encrypted_key(path, SigningKey.generate(), "right", scrypt_n=FAST)
    with pytest.raises(KeyFileError, match=r"cannot be decrypted: wrong passphrase \(or the file was altered\)"):
        load_key(path, passphrase="wrong")
    with pytest.raises(KeyFileError, match="is encrypted; its passphrase is needed"):
        load_key(path)
    with pytest.raises(KeyFileError, match="passphrase given is empty"):
        load_key(path, passphrase="")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.update(account="00" * 20), "wrong passphrase"),  # the identity is bound to the ciphertext
        (lambda d: d["crypto"]["kdfparams"].update(n=1 << 13), "wrong passphrase"),
        (lambda d: d["crypto"]["kdfparams"].update(n=1 << 30), "outside what dcrm accepts"),
        (lambda d: d["crypto"].update(cipher="aes-128-ctr"), '"crypto.cipher" must be "aes-256-gcm"'),
        (lambda d: d["crypto"].update(ciphertext="zz"), '"crypto.ciphertext" is not hex'),
        (lambda d: d.update(version=3), '"version" must be 1'),
    ],
)
def test_tampered_files_are_refused(change: object, message: str) -> None:
    document = encrypt_key(SigningKey.generate(), "pw", scrypt_n=FAST)
    change(document)  # type: ignore[operator]
    with pytest.raises(KeyFileError, match=message):
        decrypt_key("k.json", document, "pw")


def test_group_readable_key_and_passphrase_files_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "k.json"
    save_encrypted_key(path, SigningKey.generate(), "pw", scrypt_n=FAST)
    path.chmod(0o640)
    with pytest.raises(KeyFileError, match="mode 0640"):
        load_key(path, passphrase="pw")
    secret = tmp_path / "passphrase"
    secret.write_text("pw\n")
    secret.chmod(0o644)
    with pytest.raises(PassphraseFileError, match=r"passphrase file .*: has mode 0644"):
        read_passphrase_file(secret)
    secret.chmod(0o600)
    assert read_passphrase_file(secret) == b"pw"


def test_cli_new_encrypt_and_show(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    secret = tmp_path / "passphrase"
    secret.write_text("s3cret\n")
    secret.chmod(0o600)
    path = tmp_path / "alice.key"
    code, out, err = run_main(capsys, "keys", "new", "--out", str(path), "--encrypt", "--passphrase-file", str(secret))
    assert code == 0, err
    key = load_key(path, passphrase="s3cret")
    code, out, _ = run_main(capsys, "keys", "show", str(path), "--json")
    assert json.loads(out)["encrypted"] is True
    assert json.loads(out)["account"] == key.account_id.hex()

    plain = tmp_path / "bob.key"
    bob = SigningKey.generate()
    save_key(plain, bob)
    code, out, err = run_main(capsys, "keys", "encrypt", str(plain), "--passphrase-file", str(secret))
    assert code == 0, err
    assert "crypto" in json.loads(plain.read_text())
    assert plain.stat().st_mode & 0o777 == 0o600
    assert load_key(plain, passphrase="s3cret").secret == bob.secret
    code, _, err = run_main(capsys, "keys", "encrypt", str(plain), "--passphrase-file", str(secret))
    assert (code, err) == (1, f"error: {plain} is already encrypted\n")


def test_node_init_encrypt_keys_and_load_validator_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    secret = tmp_path / "passphrase"
    secret.write_text("node pass\n")
    secret.chmod(0o600)
    data = tmp_path / "chain"
    code, _, err = run_main(
        capsys, "node", "init", "--data", str(data), "--encrypt-keys", "--passphrase-file", str(secret)
    )
    assert code == 0, err
    config = load_config(data / "node0" / "config.toml", {})
    assert config.key_passphrase_file == secret.resolve()
    key = load_validator_key(config, {})
    assert "crypto" in json.loads((data / "node0" / "validator.key").read_text())
    assert load_key(data / "admin.key", passphrase="node pass").account_id != key.account_id

    env_only = dataclasses.replace(config, key_passphrase_file=None)
    with pytest.raises(KeyFileError, match=r"is encrypted: set \[node\] key_passphrase_file .* DCRM_KEY_PASSPHRASE"):
        load_validator_key(env_only, {})
    with pytest.raises(KeyFileError, match="wrong passphrase"):
        load_validator_key(env_only, {"DCRM_KEY_PASSPHRASE": "nope"})
    assert load_validator_key(env_only, {"DCRM_KEY_PASSPHRASE": "node pass"}).account_id == key.account_id


def test_node_starts_with_an_encrypted_key_and_refuses_a_wrong_passphrase(tmp_path: Path) -> None:
    node = local_node(tmp_path / "chain")
    node.root.mkdir(parents=True)
    save_encrypted_key(node.root / "validator.key", node.validator, "unlock me", scrypt_n=FAST)
    node.env = {"DCRM_KEY_PASSPHRASE": "wrong"}
    with pytest.raises(RuntimeError, match="exited with 1") as caught:
        node.start()
    assert "cannot be decrypted: wrong passphrase" in str(caught.value)
    assert "wrong" not in node.log_tail().replace("wrong passphrase", "")  # the passphrase is never printed
    node.env = {"DCRM_KEY_PASSPHRASE": "unlock me"}
    node.start()
    try:
        assert node.stop() == 0
    finally:
        node.kill()
    assert "unlock me" not in node.log_path.read_text()
    assert os.environ.get("DCRM_KEY_PASSPHRASE") is None
