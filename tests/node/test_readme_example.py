"""The README's SDK example runs as written against a real node."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from dcrm.client.keys import save_key
from tests.support.node_process import NodeProcess

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_example() -> str:
    text = README.read_text()
    marker = text.index("<!-- README example:")
    match = re.search(r"```python\n(.*?)```", text[marker:], re.DOTALL)
    assert match is not None, "the README example block is missing"
    return match.group(1)


def test_readme_example_runs(node: NodeProcess, tmp_path: Path) -> None:
    admin_key = tmp_path / "admin.key"
    save_key(admin_key, node.admin)
    env = {**os.environ, "DCRM_ENDPOINT": node.endpoint, "DCRM_ADMIN_KEY": str(admin_key)}
    result = subprocess.run(
        [sys.executable, "-c", readme_example()], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "granted in block" in result.stdout
    assert "controller: True" in result.stdout
