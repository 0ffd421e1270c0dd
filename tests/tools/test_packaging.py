"""Packaging: every package folder is listed in pyproject.toml under its dcrm.* name."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MAPPED = {"node": "dcrm.node", "runtime": "dcrm.runtime", "client": "dcrm.client", "proto/dcrm/v1": "dcrm.v1"}


def package_folders() -> set[str]:
    found = set()
    for folder, name in MAPPED.items():
        base = ROOT / folder
        for init in base.rglob("__init__.py"):
            relative = init.parent.relative_to(base)
            found.add(".".join([name, *relative.parts]))
    return found


def test_every_package_is_listed() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    listed = set(config["tool"]["setuptools"]["packages"])
    assert package_folders() - listed == set(), "add these to [tool.setuptools] packages in pyproject.toml"
    assert listed - package_folders() == set(), "these listed packages have no folder"
