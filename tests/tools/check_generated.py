"""Fail when the committed generated protobuf code differs from what `make proto` writes now."""

from __future__ import annotations

import filecmp
import os
import subprocess
import sys
import tempfile
from pathlib import Path

PROTO_ROOT = Path(__file__).resolve().parents[2] / "proto"
SUFFIXES = ("_pb2.py", "_pb2.pyi", "_pb2_grpc.py", "_pb2_grpc.pyi")


def main(argv: list[str] | None = None) -> int:
    """Compare the generated files under proto_dir (argument, default proto/) with a fresh generation."""
    args = sys.argv[1:] if argv is None else argv
    proto_dir = Path(args[0]) if args else PROTO_ROOT
    return check(proto_dir)


def check(proto_dir: Path) -> int:
    generated_dir = proto_dir / "dcrm" / "v1"
    protos = sorted(str(p.relative_to(proto_dir)) for p in generated_dir.glob("*.proto"))
    with tempfile.TemporaryDirectory() as out:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "grpc_tools.protoc",
                "-I",
                str(proto_dir),
                f"--python_out={out}",
                f"--mypy_out={out}",
                f"--mypy_grpc_out={out}",
                f"--grpc_python_out={out}",
                *protos,
            ],
            check=True,
            cwd=proto_dir,
            # protoc finds the mypy plugins (protoc-gen-mypy) on PATH, next to this interpreter.
            env={**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"},
            stdout=subprocess.DEVNULL,
        )
        fresh_dir = Path(out) / "dcrm" / "v1"
        fresh = {p.name for p in fresh_dir.iterdir() if p.name.endswith(SUFFIXES)}
        committed = {p.name for p in generated_dir.iterdir() if p.name.endswith(SUFFIXES)}
        stale = sorted(
            name
            for name in fresh | committed
            if name not in fresh
            or name not in committed
            or not filecmp.cmp(fresh_dir / name, generated_dir / name, shallow=False)
        )
    if stale:
        print("generated protobuf code is stale; run `make proto`:", ", ".join(stale), file=sys.stderr)
        return 1
    print(f"generated protobuf code is current ({len(fresh)} files)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
