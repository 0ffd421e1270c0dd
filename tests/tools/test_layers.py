"""The import-layer check sees real imports: a contract the code breaks is reported broken."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = str(Path(sys.executable).with_name("lint-imports"))


def run_lint(config: Path | None = None) -> subprocess.CompletedProcess[str]:
    command = [LINT_IMPORTS] + ([] if config is None else ["--config", str(config)])
    env = {**os.environ, "PYTHONPATH": str(ROOT / ".typecheck")}
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False)


def test_project_layers_are_kept() -> None:
    result = run_lint()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "runtime never imports node or client KEPT" in result.stdout
    assert "other modules read identity state only through identity.lookup KEPT" in result.stdout


def test_a_broken_layer_is_reported(tmp_path: Path) -> None:
    # The node does import the runtime, so forbidding it must fail: proof that the check can fail.
    config = tmp_path / "layers.toml"
    config.write_text(
        '[tool.importlinter]\nroot_packages = ["dcrm"]\n\n'
        "[[tool.importlinter.contracts]]\n"
        'name = "node never imports runtime"\ntype = "forbidden"\n'
        'source_modules = ["dcrm.node"]\nforbidden_modules = ["dcrm.runtime"]\n'
    )
    result = run_lint(config)
    assert result.returncode != 0
    assert "node never imports runtime BROKEN" in result.stdout
