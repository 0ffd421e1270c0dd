"""Fail when the committed generated protobuf code differs from what `make proto` writes now."""

from __future__ import annotations

import filecmp
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROTO_DIR = ROOT / "proto"
GENERATED_DIR = PROTO_DIR / "dcrm" / "v1"
SUFFIXES = ("_pb2.py", "_pb2.pyi", "_pb2_grpc.py", "_pb2_grpc.pyi")


def main() -> int:
    protos = sorted(str(p.relative_to(PROTO_DIR)) for p in GENERATED_DIR.glob("*.proto"))
    with tempfile.TemporaryDirectory() as out:
        subprocess.run(
            [
                sys.executable, "-m", "grpc_tools.protoc", "-I", str(PROTO_DIR),
                f"--python_out={out}", f"--mypy_out={out}", f"--mypy_grpc_out={out}",
                f"--grpc_python_out={out}", *protos,
            ],
            check=True,
            cwd=PROTO_DIR,
            stdout=subprocess.DEVNULL,
        )
        fresh_dir = Path(out) / "dcrm" / "v1"
        fresh = {p.name for p in fresh_dir.iterdir() if p.name.endswith(SUFFIXES)}
        committed = {p.name for p in GENERATED_DIR.iterdir() if p.name.endswith(SUFFIXES)}
        stale = sorted(
            name
            for name in fresh | committed
            if name not in fresh or name not in committed or not filecmp.cmp(fresh_dir / name, GENERATED_DIR / name, shallow=False)
        )
    if stale:
        print("generated protobuf code is stale; run `make proto`:", ", ".join(stale), file=sys.stderr)
        return 1
    print(f"generated protobuf code is current ({len(fresh)} files)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
