"""Signing keys, account ids, recoverable signatures and key files."""

from __future__ import annotations

import hashlib
import json
import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from dcrm.client.errors import KeyFileError, SignatureError
from dcrm.client.keys import (
    SigningKey,
    account_id_from_public_key,
    from_hex,
    load_key,
    recover_public_key,
    save_key,
    to_hex,
)

SECRET = "0101010101010101010101010101010101010101010101010101010101010101"
CURVE_ORDER = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
# The public key of the scalar 1 is the curve's generator point.
GENERATOR = "0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798"


@pytest.fixture
def key() -> SigningKey:
    return SigningKey.from_hex(SECRET)


# -- keys ---------------------------------------------------------------------------------------------


def test_generated_keys_are_distinct_and_well_formed() -> None:
    first, second = SigningKey.generate(), SigningKey.generate()
    assert first.secret != second.secret
    for key in (first, second):
        assert len(key.public_key) == 33
        assert key.public_key[0] in (2, 3)
        assert key.account_id == hashlib.sha256(key.public_key).digest()[:20]


def test_scalar_one_has_the_generator_as_public_key() -> None:
    key = SigningKey.from_hex("00" * 31 + "01")
    assert key.public_key.hex() == GENERATOR
    assert key.account_id == account_id_from_public_key(bytes.fromhex(GENERATOR))


def test_hex_round_trip(key: SigningKey) -> None:
    assert key.to_hex() == SECRET
    assert SigningKey.from_hex("0x" + SECRET).secret == key.secret
    assert SigningKey(key.secret).public_key == key.public_key


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("zz" * 32, "not hex"),
        ("01" * 31, "must be 32 bytes, got 31"),
        ("01" * 33, "must be 32 bytes, got 33"),
        ("00" * 32, "not a valid secp256k1 scalar"),
        (f"{CURVE_ORDER:064x}", "not a valid secp256k1 scalar"),
    ],
)
def test_from_hex_rejects_bad_keys(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SigningKey.from_hex(text)


def test_largest_scalar_is_valid() -> None:
    assert len(SigningKey.from_hex(f"{CURVE_ORDER - 1:064x}").public_key) == 33


def test_repr_hides_the_secret(key: SigningKey) -> None:
    assert SECRET not in repr(key)
    assert key.account_id.hex() in repr(key)


def test_hex_helpers() -> None:
    assert to_hex(b"\x00\xab") == "00ab"
    assert from_hex("0x00AB") == b"\x00\xab"
    with pytest.raises(ValueError, match="account must be 20 bytes, got 2"):
        from_hex("00ab", length=20, what="account")
    with pytest.raises(ValueError, match="account is not hex"):
        from_hex("0g", what="account")


# -- signatures -----------------------------------------------------------------------------------------


def test_signatures_are_deterministic_and_recover_the_key(key: SigningKey) -> None:
    signature = key.sign_recoverable(b"message")
    assert len(signature) == 65
    assert signature == key.sign_recoverable(b"message")
    assert signature == key.sign_digest(hashlib.sha256(b"message").digest())
    assert recover_public_key(b"message", signature) == key.public_key
    assert recover_public_key(b"other message", signature) != key.public_key


def test_signatures_are_low_s(key: SigningKey) -> None:
    for index in range(16):
        signature = key.sign_recoverable(bytes([index]))
        assert int.from_bytes(signature[32:64], "big") <= CURVE_ORDER // 2
        assert signature[64] in (0, 1)


def test_sign_digest_needs_32_bytes(key: SigningKey) -> None:
    with pytest.raises(ValueError, match="digest must be 32 bytes, got 5"):
        key.sign_digest(b"short")


@pytest.mark.parametrize(
    ("signature", "message"),
    [
        (b"\x01" * 64, "must be 65 bytes, got 64"),
        (b"\x01" * 64 + b"\x07", "recovers no public key"),
        (b"\x00" * 65, "recovers no public key"),
    ],
)
def test_recover_rejects_bad_signatures(signature: bytes, message: str) -> None:
    with pytest.raises(SignatureError, match=message):
        recover_public_key(b"message", signature)


def test_account_id_from_public_key_checks_the_key(key: SigningKey) -> None:
    assert account_id_from_public_key(key.public_key) == key.account_id
    with pytest.raises(ValueError, match="33 bytes, compressed"):
        account_id_from_public_key(key.public_key[:32])
    with pytest.raises(ValueError, match="33 bytes, compressed"):
        account_id_from_public_key(b"\x04" + key.public_key[1:])
    with pytest.raises(ValueError, match="not a point on secp256k1"):
        account_id_from_public_key(b"\x02" + b"\xff" * 32)


# -- key files ------------------------------------------------------------------------------------------


def test_save_and_load_round_trip(tmp_path: Path, key: SigningKey) -> None:
    path = tmp_path / "validator.key"
    save_key(path, key)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    document = json.loads(path.read_text())
    assert document == {
        "type": "secp256k1",
        "private_key": SECRET,
        "public_key": key.public_key.hex(),
        "account": key.account_id.hex(),
    }
    loaded = load_key(path)
    assert loaded.secret == key.secret
    assert load_key(str(path)).account_id == key.account_id


def test_save_sets_mode_0600_whatever_the_umask(tmp_path: Path, key: SigningKey) -> None:
    previous = os.umask(0)
    try:
        save_key(tmp_path / "k", key)
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "k").stat().st_mode) == 0o600


def test_save_refuses_to_overwrite(tmp_path: Path, key: SigningKey) -> None:
    path = tmp_path / "k"
    path.write_text("precious")
    with pytest.raises(KeyFileError, match="already exists; refusing to overwrite") as raised:
        save_key(path, key)
    assert raised.value.path == str(path)
    assert path.read_text() == "precious"


def test_save_into_a_missing_directory(tmp_path: Path, key: SigningKey) -> None:
    with pytest.raises(KeyFileError, match="directory does not exist"):
        save_key(tmp_path / "missing" / "k", key)


def _write(path: Path, content: str | bytes, mode: int = 0o600) -> Path:
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    path.chmod(mode)
    return path


def _document(key: SigningKey, **changes: Any) -> str:
    document: dict[str, Any] = {
        "type": "secp256k1",
        "private_key": key.to_hex(),
        "public_key": key.public_key.hex(),
        "account": key.account_id.hex(),
    }
    for name, value in changes.items():
        if value is None:
            del document[name]
        else:
            document[name] = value
    return json.dumps(document)


def test_load_missing_file(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError, match="does not exist") as raised:
        load_key(tmp_path / "nope")
    assert raised.value.path == str(tmp_path / "nope")
    assert str(raised.value).startswith(f"key file {tmp_path / 'nope'}: ")


def test_load_a_directory(tmp_path: Path) -> None:
    directory = tmp_path / "dir"
    directory.mkdir(mode=0o700)
    with pytest.raises(KeyFileError, match="not a regular file"):
        load_key(directory)


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o620, 0o602, 0o660, 0o610])
def test_load_refuses_files_others_may_access(tmp_path: Path, key: SigningKey, mode: int) -> None:
    path = _write(tmp_path / "k", _document(key), mode)
    with pytest.raises(KeyFileError, match=f"has mode {mode:04o}, which lets group or others access it"):
        load_key(path)


def test_load_accepts_owner_only_modes(tmp_path: Path, key: SigningKey) -> None:
    assert load_key(_write(tmp_path / "k", _document(key), 0o400)).secret == key.secret


def test_load_refuses_huge_files(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError, match="a key file is under"):
        load_key(_write(tmp_path / "k", b" " * (64 * 1024 + 1)))


BadContent = Callable[[SigningKey], str | bytes]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (lambda key: b"\xff\xfe", "is not UTF-8 text"),
        (lambda key: "{", "is not JSON: Expecting property name enclosed in double quotes at line 1, column 2"),
        (lambda key: "[]", "must hold a JSON object, not list"),
        (lambda key: _document(key, type=None), '"type" must be "secp256k1", got None'),
        (lambda key: _document(key, type="ed25519"), '"type" must be "secp256k1", got \'ed25519\''),
        (lambda key: _document(key, private_key=None), '"private_key" is missing'),
        (lambda key: _document(key, private_key=7), '"private_key" must be a hex string, not int'),
        (lambda key: _document(key, private_key="xyz"), '"private_key" is not hex'),
        (lambda key: _document(key, private_key="01" * 31), '"private_key" must be 32 bytes, got 31'),
        (lambda key: _document(key, private_key="00" * 32), '"private_key": the private key is not a valid'),
        (lambda key: _document(key, public_key=None), '"public_key" is missing'),
        (lambda key: _document(key, public_key="02" * 32), '"public_key" must be 33 bytes, got 32'),
        (lambda key: _document(key, account=None), '"account" is missing'),
        (lambda key: _document(key, account="00" * 21), '"account" must be 20 bytes, got 21'),
        (
            lambda key: _document(key, public_key=SigningKey.generate().public_key.hex()),
            '"public_key" .* is not the private key\'s public key',
        ),
        (
            lambda key: _document(key, account=SigningKey.generate().account_id.hex()),
            '"account" .* is not the private key\'s account',
        ),
    ],
)
def test_load_rejects_malformed_files(tmp_path: Path, key: SigningKey, content: BadContent, message: str) -> None:
    path = _write(tmp_path / "k", content(key))
    with pytest.raises(KeyFileError, match=message) as raised:
        load_key(path)
    assert raised.value.path == str(path)
