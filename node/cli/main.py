"""The `dcrm` command: keys, a node, a local devnet, transactions, queries, status, and the identity, consent
and tokens modules.

Each command group lives in its own module and registers its subcommands; heavy modules (LevelDB, the gRPC
server, libp2p) are imported inside the commands that need them, so `dcrm keys ...`, `dcrm tx ...`,
`dcrm query ...`, `dcrm status`, `dcrm identity ...`, `dcrm consent ...` and `dcrm tokens ...` work with only
the SDK's dependencies installed.

Exit codes: 0 success; 1 an expected failure, printed as "error: <message>" (SDK errors, a failed
transaction, a refused `node init`); 2 a usage or configuration error ("config error: <file>: <field>:
expected <...>"); 130 interrupted.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from dcrm.node.cli import consent, devnet, governance, identity, keys, node_cmd, query, status, tokens, tx
from dcrm.node.cli.common import CliError
from dcrm.node.config import ConfigError

__all__ = ["build_parser", "main"]

_GROUPS: tuple[Callable[[argparse._SubParsersAction[argparse.ArgumentParser]], None], ...] = (
    keys.register,
    node_cmd.register,
    devnet.register,
    tx.register,
    query.register,
    status.register,
    identity.register,
    consent.register,
    tokens.register,
    governance.register,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dcrm",
        description="dcrm: a permissioned ledger for customer identity, consent and loyalty.",
        epilog="Run `dcrm COMMAND --help` for a command's options.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for register in _GROUPS:
        register(commands)
    return parser


def _error(message: str) -> None:
    print(f"error: {message}", file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one dcrm command; returns the process exit code."""
    args = build_parser().parse_args(argv)
    try:
        code: int = args.run(args)
    except ConfigError as error:
        print(f"config error: {error}", file=sys.stderr, flush=True)
        return 2
    except CliError as error:
        _error(str(error))
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr, flush=True)
        return 130
    except BrokenPipeError:
        return 1
    except Exception as error:
        from dcrm.client.errors import DcrmError

        if isinstance(error, DcrmError):
            _error(str(error))
            return 1
        raise
    return code


if __name__ == "__main__":
    sys.exit(main())
