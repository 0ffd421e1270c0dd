"""The governance SDK (`client.governance`) and `dcrm governance` against a real single-validator node.

With one validator the quorum is 1, so a proposal by the validator is scheduled at once; approve and withdraw
therefore meet closed proposals here (their successful paths run on the runtime harness, with four
validators, in tests/runtime/test_governance_*.py). Changes are scheduled far ahead so the one-validator
node never reaches them.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from dcrm.client import Client, NotFound, module_error_class
from dcrm.client.governance import (
    AlreadyMember,
    GovernanceApi,
    GovernanceModuleError,
    LastValidator,
    NotValidator,
    UnknownProposal,
    change_key,
    proposal_id_of,
    proposal_key,
    schedule_key,
)
from dcrm.client.keys import sha256
from dcrm.client.transactions import decode_event
from dcrm.node.cli.main import main
from dcrm.runtime.modules.governance import errors as runtime_errors
from dcrm.v1 import governance_pb2
from tests.support.governance_chain import CANDIDATES, OUTSIDER, V0
from tests.support.node_process import NodeProcess, local_node

DOC = Path(__file__).resolve().parents[2] / "docs" / "modules" / "governance.md"
FAR = 10_000  # blocks ahead: never reached while the tests run
REASON = sha256(b"onboarding ACME as a validator, consortium vote 2025-07")


def test_every_runtime_error_has_its_sdk_class() -> None:
    for error in runtime_errors.ALL:
        cls = module_error_class(4, error.code)
        assert issubclass(cls, GovernanceModuleError)
        assert cls.__name__ == error.name
    assert module_error_class(4, 999) is GovernanceModuleError
    assert sorted(error.code for error in runtime_errors.ALL) == sorted(governance_pb2.Error.values())[1:]


def test_state_keys_match_the_runtime_layout() -> None:
    assert schedule_key(5) == b"governance/schedule/" + (5).to_bytes(8, "big")
    assert change_key(5, 2) == b"governance/change/" + (5).to_bytes(8, "big") + (2).to_bytes(8, "big")
    assert proposal_key(3) == b"governance/proposal/" + (3).to_bytes(8, "big")
    with pytest.raises(ValueError, match="proposal_id"):
        proposal_key(0)


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeProcess]:
    process = local_node(tmp_path_factory.mktemp("governance-node"))
    process.start()
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture
def client(node: NodeProcess) -> Iterator[Client]:
    with Client(node.endpoint) as connected:
        yield connected


def test_a_change_through_the_sdk(client: Client) -> None:
    governance = client.governance
    assert isinstance(governance, GovernanceApi)
    validator = client.account(V0)
    head = client.status().height
    effective = head + FAR
    before = governance.validators_at(effective)
    assert (list(before.public_keys), before.since_height, before.quorum) == ([V0.public_key], 0, 1)

    receipt = governance.propose(validator, "add", CANDIDATES[0].public_key, effective, REASON)
    proposal_id = proposal_id_of(receipt)
    events = [decode_event(event) for event in receipt.events]
    assert [type(event).__name__ for event in events] == ["ValidatorChangeProposed", "ValidatorChangeScheduled"]
    scheduled = events[1]
    assert isinstance(scheduled, governance_pb2.ValidatorChangeScheduled)
    assert (scheduled.proposal_id, scheduled.effective_height, scheduled.validator_count) == (proposal_id, effective, 2)

    after = governance.validators_at(effective)
    assert (list(after.public_keys), after.since_height, after.quorum) == (
        [V0.public_key, CANDIDATES[0].public_key],
        effective,
        2,
    )
    assert list(governance.validators_at(effective - 1).public_keys) == [V0.public_key]
    entries = list(governance.iter_schedule(page_size=1))
    mine = [entry for entry in entries if entry.change.proposal_id == proposal_id]
    assert len(mine) == 1
    assert not mine[0].applied
    assert mine[0].change.reason_hash == REASON
    # The set stored for that height, verified against the commit certificate and the state proof.
    assert governance.scheduled_set(effective) == [V0.public_key, CANDIDATES[0].public_key]
    assert governance.scheduled_set(effective - 1) is None
    with pytest.raises(NotFound):
        governance.proposal(proposal_id)  # passed: no longer open
    assert proposal_id not in [proposal.proposal_id for proposal in governance.proposals().proposals]


def test_failed_calls_raise_typed_errors(client: Client) -> None:
    governance = client.governance
    validator, outsider = client.account(V0), client.account(OUTSIDER)
    effective = client.status().height + 100  # before any change the other tests schedule: V0 alone
    with pytest.raises(NotValidator) as caught:
        governance.propose(outsider, "add", CANDIDATES[1].public_key, effective, REASON)
    assert OUTSIDER.account_id.hex() in caught.value.message
    with pytest.raises(AlreadyMember):
        governance.propose(validator, "add", V0.public_key, effective, REASON)
    with pytest.raises(LastValidator):
        governance.propose(validator, "remove", V0.public_key, effective, REASON)
    with pytest.raises(UnknownProposal):
        governance.approve(validator, 999_999)
    receipt = governance.withdraw(validator, 999_999, check=False)
    assert (receipt.success, receipt.error.module, receipt.error.name) == (False, 4, "UnknownProposal")


def test_arguments_are_checked_before_anything_is_sent(client: Client) -> None:
    governance = client.governance
    validator = client.account(V0)
    nonce = validator.next_nonce
    with pytest.raises(ValueError, match='"add" or "remove"'):
        governance.propose(validator, "replace", V0.public_key, 100, REASON)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="33-byte"):
        governance.propose(validator, "add", V0.account_id, 100, REASON)
    with pytest.raises(ValueError, match="not a point"):
        governance.propose(validator, "add", b"\x02" + bytes(32), 100, REASON)
    with pytest.raises(ValueError, match="reason_hash"):
        governance.propose(validator, "add", CANDIDATES[1].public_key, 100, b"why")
    with pytest.raises(ValueError, match="effective_height"):
        governance.propose(validator, "add", CANDIDATES[1].public_key, 0, REASON)
    with pytest.raises(ValueError, match="proposal_id"):
        governance.approve(validator, 0)
    assert validator.next_nonce == nonce


# --- the CLI -----------------------------------------------------------------------------------------------


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_cli_propose_schedule_approve_withdraw(node: NodeProcess, capsys: pytest.CaptureFixture[str]) -> None:
    key = str(node.root / "validator.key")
    endpoint = ("--endpoint", node.endpoint)
    candidate = CANDIDATES[2].public_key.hex()
    # Ahead of the SDK test's change (FAR), so the set it joins is V0 alone whichever test runs first.
    code, out, err = run_cli(
        capsys, "governance", "propose", *endpoint, "--key", key, "--add", candidate, "--in", str(FAR // 2),
        "--reason", "consortium vote 7", "--json",
    )  # fmt: skip
    assert (code, err) == (0, "")
    document = json.loads(out)
    assert document["success"]
    proposal_id = document["proposal_id"]
    assert document["scheduled"]["validator_count"] == 2
    effective = document["scheduled"]["effective_height"]

    code, out, _ = run_cli(capsys, "governance", "schedule", *endpoint, "--json")
    assert code == 0
    listed = json.loads(out)
    assert listed["validators"]["public_keys"] == [V0.public_key.hex()]
    assert listed["validators"]["quorum"] == 1
    change = next(item for item in listed["changes"] if item["proposal_id"] == proposal_id)
    assert change == change | {"kind": "add", "public_key": candidate, "effective_height": effective, "applied": False}
    assert listed["proposals"] == []

    code, out, _ = run_cli(capsys, "governance", "schedule", *endpoint, "--from-height", str(effective))
    assert code == 0
    assert f"change {proposal_id}" in out
    assert f"add {candidate} at {effective} (scheduled)" in out

    code, out, err = run_cli(capsys, "governance", "approve", *endpoint, "--key", key, "--proposal", str(proposal_id))
    assert code == 1
    assert "UnknownProposal (module 4, code 10)" in out
    assert err.startswith("error: ")
    code, out, _ = run_cli(capsys, "governance", "withdraw", *endpoint, "--key", key, "--proposal", str(proposal_id))
    assert code == 1
    assert "UnknownProposal" in out


def test_cli_refuses_bad_arguments_before_sending(node: NodeProcess, capsys: pytest.CaptureFixture[str]) -> None:
    key = str(node.root / "validator.key")
    base = ("governance", "propose", "--endpoint", node.endpoint, "--key", key)
    code, _, err = run_cli(capsys, *base, "--add", "02ab", "--at", "100", "--reason", "x")
    assert code == 1
    assert "--add must be 66 hex digits" in err
    code, _, err = run_cli(capsys, *base, "--remove", V0.public_key.hex(), "--in", "2", "--reason", "x")
    assert code == 1
    assert "--in must be at least 3" in err
    code, _, err = run_cli(capsys, *base, "--add", CANDIDATES[1].public_key.hex(), "--at", "9", "--reason-hash", "00")
    assert code == 1
    assert "--reason-hash must be 64 hex digits" in err
    with pytest.raises(SystemExit):
        main(["governance", "approve", "--endpoint", node.endpoint, "--key", key, "--proposal", "0"])
    assert "expected a proposal id" in capsys.readouterr().err


def test_the_docs_example_runs_as_written(node: NodeProcess) -> None:
    text = DOC.read_text()
    match = re.search(r"## SDK example.*?```python\n(.*?)```", text, re.S)
    assert match is not None, "docs/modules/governance.md has no SDK example"
    ran = subprocess.run(
        [sys.executable, "-c", match.group(1), node.endpoint, str(node.root / "validator.key")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert ran.returncode == 0, ran.stderr
    lines = ran.stdout.splitlines()
    assert lines[0].endswith("quorum 1, since 0")
    assert lines[1].startswith("proposal ")
    assert any(line.startswith("verified: ") and " keys at " in line for line in lines)
    assert lines[-1].startswith("refused: removing ")
    assert "would leave no validator" in lines[-1]
