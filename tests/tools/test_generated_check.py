"""`make proto-check` can fail: an edited .proto without regenerated code is reported stale."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.tools.check_generated import PROTO_ROOT, check


def test_committed_generated_code_is_current() -> None:
    assert check(PROTO_ROOT) == 0


def test_edited_proto_is_reported_stale(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    copy = tmp_path / "proto"
    shutil.copytree(PROTO_ROOT, copy)
    types_proto = copy / "dcrm" / "v1" / "types.proto"
    types_proto.write_text(types_proto.read_text() + "\nmessage AddedWithoutRegenerating { uint32 field = 1; }\n")
    assert check(copy) == 1
    assert "types_pb2.py" in capsys.readouterr().err
