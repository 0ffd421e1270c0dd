"""`dcrm tx`: sign and submit system module calls with a key file, and report their receipts."""

from __future__ import annotations

import argparse
from typing import Any

from dcrm.node.cli.calls import add_submit_arguments, submit
from dcrm.node.cli.common import CliError, parse_account

__all__ = ["register"]

MAX_NOTE_BYTES = 256
_KEY_HELP = "the sender's key file"


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    group = commands.add_parser(
        "tx", help="sign and submit a transaction", description="Sign and submit system module calls."
    )
    actions = group.add_subparsers(dest="action", metavar="ACTION", required=True)

    remark = actions.add_parser(
        "remark",
        help="record a short note on chain (the cheapest transaction)",
        description=f"Record a note of at most {MAX_NOTE_BYTES} bytes (UTF-8) on chain.",
    )
    add_submit_arguments(remark, key_help=_KEY_HELP, wait_default=False)
    remark.add_argument("--note", required=True, metavar="TEXT", help="the note")
    remark.set_defaults(run=run_remark)

    for name, verb, runner in (("grant-role", "grants", run_grant_role), ("revoke-role", "revokes", run_revoke_role)):
        parser = actions.add_parser(
            name,
            help=f"an admin {verb} a role (admin, issuer, controller, validator)",
            description=f"The key's account (an admin) {verb} ROLE to or from ACCOUNT.",
        )
        add_submit_arguments(parser, key_help=_KEY_HELP, wait_default=True)
        parser.add_argument("--account", required=True, metavar="HEX", help="the account id (40 hex digits)")
        parser.add_argument("--role", required=True, metavar="ROLE", help="admin, issuer, controller or validator")
        parser.set_defaults(run=runner)


def _send(args: argparse.Namespace, method: int, message: Any) -> int:
    from dcrm.client.system import MODULE_INDEX

    return submit(args, MODULE_INDEX, method, message)


def run_remark(args: argparse.Namespace) -> int:
    from dcrm.client.system import REMARK
    from dcrm.v1 import system_pb2

    note = args.note.encode()
    if len(note) > MAX_NOTE_BYTES:
        raise CliError(f"--note is {len(note)} bytes in UTF-8; at most {MAX_NOTE_BYTES} are allowed")
    return _send(args, REMARK, system_pb2.Remark(note=note))


def run_grant_role(args: argparse.Namespace) -> int:
    from dcrm.client.system import GRANT_ROLE
    from dcrm.v1 import system_pb2

    account = parse_account(args.account, "--account")
    return _send(args, GRANT_ROLE, system_pb2.GrantRole(account=account, role=args.role))


def run_revoke_role(args: argparse.Namespace) -> int:
    from dcrm.client.system import REVOKE_ROLE
    from dcrm.v1 import system_pb2

    account = parse_account(args.account, "--account")
    return _send(args, REVOKE_ROLE, system_pb2.RevokeRole(account=account, role=args.role))
