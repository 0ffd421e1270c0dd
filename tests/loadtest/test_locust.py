"""The locust side: the call wrapper fires request events for successes and failures, and a short headless run
of the locustfile against a node writes CSV rows named after the dCRM calls, with no failures."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

from tests.support.node_process import NodeProcess

REPO = Path(__file__).resolve().parents[2]
LOCUST = str(Path(sys.executable).with_name("locust"))
SUBPROCESS_DEADLINE_SECONDS = 120


def run(command: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=SUBPROCESS_DEADLINE_SECONDS,
        check=False,
    )


def test_the_call_wrapper_fires_request_events_for_success_and_failure(
    loadtest_node: NodeProcess, admin_key_file: Path
) -> None:
    result = run(
        [sys.executable, "-m", "tests.loadtest.fire_request_events", loadtest_node.endpoint, str(admin_key_file)]
    )
    assert result.returncode == 0, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]

    assert [event["name"] for event in events] == ["system.account", *["system.grant_role"] * 3]
    assert {event["request_type"] for event in events} == {"grpc"}
    assert all(event["response_time"] > 0 for event in events)
    success, rejected, granted, failed = (event["failure"] for event in events)
    assert success is None
    assert granted is None
    assert rejected.startswith("PERMISSION_DENIED: ")
    assert failed.startswith("system.RoleAlreadyGranted: ")


def test_a_short_headless_run_writes_rows_for_the_dcrm_calls(
    loadtest_node: NodeProcess, admin_key_file: Path, tmp_path: Path
) -> None:
    prefix = tmp_path / "locust"
    result = run(
        [
            LOCUST,
            "-f",
            "loadtest/locustfile.py",
            "--headless",
            "--users",
            "3",
            "--spawn-rate",
            "3",
            "--run-time",
            "5s",
            "--stop-timeout",
            "10",
            "--only-summary",
            "--targets",
            loadtest_node.endpoint,
            "--admin-key",
            str(admin_key_file),
            "--think-seconds",
            "0.1,0.3",
            "--csv",
            str(prefix),
        ]
    )
    assert result.returncode == 0, result.stderr[-3000:]  # locust exits 1 when any request failed
    with Path(f"{prefix}_stats.csv").open() as stats:
        rows = {row["Name"]: row for row in csv.DictReader(stats)}
    # Every user onboards: resolves its DID, creates it (new chain), gives consent, gets welcome points.
    for name in ("identity.resolve", "identity.create_did", "consent.grant", "tokens.mint"):
        assert int(rows[name]["Request Count"]) >= 3, name
    assert all(row["Type"] == "grpc" for name, row in rows.items() if name != "Aggregated")
    assert int(rows["Aggregated"]["Failure Count"]) == 0
    assert int(rows["Aggregated"]["Request Count"]) > 12  # the tasks ran after onboarding
