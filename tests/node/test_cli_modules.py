"""The module command groups without a node: they load with the SDK alone, and bad arguments are refused with
"error: <message>" naming the option (exit 1) or a usage error (exit 2) before anything is sent.
(tests/node/test_modules_e2e.py runs them against a node.)"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest

from dcrm.client import save_key
from dcrm.node.cli.calls import parse_duration_ms
from dcrm.node.cli.main import main
from tests.support.runtime_harness import deterministic_key

UNUSED = ("--endpoint", "127.0.0.1:9")  # never reached: every case fails before connecting


def run_main(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(list(args))
    return code, capsys.readouterr().err


def test_the_module_groups_need_no_server_modules() -> None:
    script = (
        "import sys\n"
        "from dcrm.node.cli.main import build_parser\n"
        "parser = build_parser()\n"
        "for group in ('identity', 'consent', 'tokens'):\n"
        "    try:\n"
        "        parser.parse_args([group, '--help'])\n"
        "    except SystemExit:\n"
        "        pass\n"
        "server = ('plyvel', 'libp2p', 'trio', 'dcrm.runtime', 'dcrm.node.service', 'dcrm.node.api.server')\n"
        "heavy = [name for name in server if name in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    for action in ("create-did", "verify-receipt", "transfer-from"):  # each group's help was printed
        assert action in result.stdout


def test_durations() -> None:
    assert [parse_duration_ms(text) for text in ("500ms", "90s", "45m", "12h", "30d")] == [
        500,
        90_000,
        2_700_000,
        43_200_000,
        2_592_000_000,
    ]
    with pytest.raises(argparse.ArgumentTypeError, match="expected a duration like 30d"):
        parse_duration_ms("30 days")


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    path = tmp_path / "k.key"
    save_key(path, deterministic_key(60))
    return path


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("identity", "create-did", "--salt", "zz"), "error: --salt must be hex digits, got 'zz'\n"),
        (("identity", "create-did", "--salt", "00" * 33), "error: --salt must be 2 to 64 hex digits, got 66\n"),
        (("consent", "withdraw", "abcd"), "error: RECORD_ID must be 32 hex digits, got 4\n"),
        (
            ("consent", "log-access", "00" * 16, "--purpose", "p", "--category", "c", "--accessor", "00" * 8),
            "error: --accessor must be 32 to 64 hex digits, got 16\n",
        ),
        (
            ("tokens", "redeem", "--class", "c", "--amount", "1"),
            "error: --reward HEX (a 32-byte hash) or --reward-of TEXT (hashed with sha256) is required\n",
        ),
        (
            ("tokens", "mint", "--class", "c", "--to", "00" * 20, "--amount", "1", "--reference", "00"),
            "error: --reference must be 64 hex digits, got 2\n",
        ),
        (("tokens", "transfer", "--class", "c", "--to", "xyz", "--amount", "1"), "error: --to must be 40 hex digits"),
    ],
)
def test_bad_arguments_are_refused_before_sending(
    capsys: pytest.CaptureFixture[str], key_file: Path, args: tuple[str, ...], message: str
) -> None:
    code, err = run_main(capsys, *args, *UNUSED, "--key", str(key_file))
    assert code == 1
    assert err.startswith(message), err


def test_terms_file_problems_name_the_file(capsys: pytest.CaptureFixture[str], key_file: Path, tmp_path: Path) -> None:
    terms = tmp_path / "terms.json"
    base = ["consent", "grant", *UNUSED, "--key", str(key_file), "--ref", "r", "--subject", "did:dcrm:abc"]
    base += ["--controller", "did:dcrm:def", "--terms", str(terms), "--valid-for", "30d"]
    code, err = run_main(capsys, *base)
    assert (code, err) == (1, f"error: --terms {terms}: No such file or directory\n")
    terms.write_text(json.dumps({"purposes": [{"id": "newsletter", "colour": "blue"}]}))
    code, err = run_main(capsys, *base)
    assert code == 1
    assert err.startswith(f"error: --terms {terms}: not dcrm.v1.consent.Terms in protobuf JSON: "), err
    assert "colour" in err


def test_verify_receipt_needs_trusted_validators(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    receipt = tmp_path / "receipt.json"
    receipt.write_text("{}")
    with pytest.raises(SystemExit) as usage:
        main(["consent", "verify-receipt", str(receipt)])
    assert usage.value.code == 2
    assert "one of the arguments --validator --genesis is required" in capsys.readouterr().err
    genesis = tmp_path / "genesis.json"
    genesis.write_text(json.dumps({"modules": {}}))
    code, err = run_main(capsys, "consent", "verify-receipt", str(receipt), "--genesis", str(genesis))
    assert (code, err) == (1, f"error: --genesis {genesis}: not a genesis document with modules.system.validators\n")
    code, err = run_main(capsys, "consent", "verify-receipt", str(receipt), "--validator", "02" + "11" * 32)
    assert (code, err) == (1, 'error: the receipt has no "proof" object\n')
