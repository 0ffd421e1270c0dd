"""`dcrm tx`: sign and submit system module calls with a key file, and report their receipts."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from dcrm.node.cli.common import (
    CliError,
    add_endpoint_argument,
    add_json_argument,
    channel_credentials,
    parse_account,
    print_json,
    print_table,
)
from dcrm.node.cli.keys import add_passphrase_argument, load_key_file

__all__ = ["register"]

MAX_NOTE_BYTES = 256


def _add_common(parser: argparse.ArgumentParser, *, wait_default: bool) -> None:
    add_endpoint_argument(parser)
    parser.add_argument("--key", type=Path, required=True, metavar="FILE", help="the sender's key file")
    add_passphrase_argument(parser)
    parser.add_argument(
        "--wait",
        action=argparse.BooleanOptionalAction,
        default=wait_default,
        help="wait for the block that includes the transaction and print its receipt (default: %(default)s)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="how long to wait for the commit (default: %(default)s)",
    )
    add_json_argument(parser)


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
    _add_common(remark, wait_default=False)
    remark.add_argument("--note", required=True, metavar="TEXT", help="the note")
    remark.set_defaults(run=run_remark)

    for name, verb, runner in (("grant-role", "grants", run_grant_role), ("revoke-role", "revokes", run_revoke_role)):
        parser = actions.add_parser(
            name,
            help=f"an admin {verb} a role (admin, issuer, controller, validator)",
            description=f"The key's account (an admin) {verb} ROLE to or from ACCOUNT.",
        )
        _add_common(parser, wait_default=True)
        parser.add_argument("--account", required=True, metavar="HEX", help="the account id (40 hex digits)")
        parser.add_argument("--role", required=True, metavar="ROLE", help="admin, issuer, controller or validator")
        parser.set_defaults(run=runner)


def _report_receipt(receipt: Any, as_json: bool) -> int:
    from dcrm.client.errors import error_for_receipt

    failure = error_for_receipt(receipt)
    if as_json:
        document: dict[str, Any] = {
            "tx_hash": receipt.tx_hash.hex(),
            "height": receipt.height,
            "index": receipt.index,
            "success": receipt.success,
        }
        if receipt.HasField("error"):
            error = receipt.error
            document["error"] = {
                "module": error.module,
                "code": error.code,
                "name": error.name,
                "message": error.message,
            }
        print_json(document)
    else:
        rows = [
            ("tx hash", receipt.tx_hash.hex()),
            ("block", f"{receipt.height} (transaction {receipt.index})"),
            ("result", "success" if failure is None else "failed"),
        ]
        if receipt.HasField("error"):
            error = receipt.error
            rows.append(("error", f"{error.name} (module {error.module}, code {error.code}): {error.message}"))
        print_table(rows)
    if failure is not None:
        raise failure  # printed by main as "error: transaction ... failed in block ...", exit code 1
    return 0


def _send(args: argparse.Namespace, method: int, message: Any) -> int:
    from dcrm.client import Client
    from dcrm.client.system import MODULE_INDEX

    key = load_key_file(args.key, args.passphrase_file)
    with Client(args.endpoint, credentials=channel_credentials(args)) as client:
        account = client.account(key)
        if args.wait:
            receipt = account.submit_and_wait(MODULE_INDEX, method, message, timeout=args.timeout, check=False)
            return _report_receipt(receipt, args.json)
        tx_hash = account.submit(MODULE_INDEX, method, message)
    if args.json:
        print_json({"tx_hash": tx_hash.hex(), "state": "submitted"})
    else:
        print_table([("tx hash", tx_hash.hex()), ("result", "submitted (not waiting for the commit)")])
    return 0


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
