"""`dcrm query`: accounts, role members, and state values verified with their Merkle proof."""

from __future__ import annotations

import argparse
import re

from dcrm.node.cli.common import (
    CliError,
    add_endpoint_argument,
    add_json_argument,
    channel_credentials,
    parse_account,
    print_json,
    print_table,
)

__all__ = ["parse_state_key", "register"]

_HEX = re.compile(r"(0[xX])?([0-9a-fA-F]{2})+")


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    group = commands.add_parser("query", help="read chain state", description="Read committed chain state.")
    actions = group.add_subparsers(dest="action", metavar="ACTION", required=True)

    account = actions.add_parser(
        "account", help="an account's next nonce and roles", description="An account's next nonce and roles."
    )
    add_endpoint_argument(account)
    add_json_argument(account)
    account.add_argument("account", metavar="ACCOUNT_HEX", help="the account id (40 hex digits)")
    account.set_defaults(run=run_account)

    members = actions.add_parser(
        "role-members", help="the accounts holding a role", description="The accounts holding ROLE."
    )
    add_endpoint_argument(members)
    add_json_argument(members)
    members.add_argument("role", metavar="ROLE", help="admin, issuer, controller or validator")
    members.set_defaults(run=run_role_members)

    state = actions.add_parser(
        "state",
        help="a state value, verified with its Merkle proof and commit certificate",
        description=(
            "Read the value of a runtime state key and verify it: the commit certificate must prove the "
            "header final and the Merkle proof must lead from its state root to the value (or to its absence). "
            "KEY is hex (e.g. 0x73797374...) or text, where a /-separated part starting with 0x is hex: "
            "system/nonce/0x<account hex> is an account's next nonce."
        ),
    )
    add_endpoint_argument(state)
    add_json_argument(state)
    state.add_argument("key", metavar="KEY", help="the state key, as hex or text")
    state.add_argument(
        "--no-verify", action="store_true", help="print the node's answer without checking proof or certificate"
    )
    state.set_defaults(run=run_state)


def parse_state_key(text: str) -> bytes:
    """A state key from hex (all hex digits, optional 0x) or text whose /-parts starting with 0x are hex."""
    if _HEX.fullmatch(text):
        return bytes.fromhex(text[2:] if text[:2].lower() == "0x" else text)
    if not text:
        raise CliError("KEY must not be empty")
    parts = []
    for part in text.split("/"):
        if part[:2].lower() == "0x":
            try:
                parts.append(bytes.fromhex(part[2:]))
            except ValueError:
                raise CliError(f"KEY part {part!r} starts with 0x but is not an even number of hex digits") from None
        else:
            parts.append(part.encode())
    return b"/".join(parts)


def _shown(value: bytes) -> str:
    """Bytes as hex, with the text too when they are printable UTF-8."""
    try:
        text = value.decode()
    except UnicodeDecodeError:
        return value.hex()
    return f"{value.hex()} ({text!r})" if text.isprintable() and text else value.hex()


def run_account(args: argparse.Namespace) -> int:
    from dcrm.client import Client

    account = parse_account(args.account, "ACCOUNT_HEX")
    with Client(args.endpoint, credentials=channel_credentials(args)) as client:
        result = client.system.account_info(account)
    if args.json:
        print_json({"account": account.hex(), "nonce": result.nonce, "roles": list(result.roles)})
    else:
        print_table(
            [("account", account.hex()), ("nonce", str(result.nonce)), ("roles", ", ".join(result.roles) or "none")]
        )
    return 0


def run_role_members(args: argparse.Namespace) -> int:
    from dcrm.client import Client

    with Client(args.endpoint, credentials=channel_credentials(args)) as client:
        accounts = client.system.role_members(args.role)
    if args.json:
        print_json({"role": args.role, "accounts": [account.hex() for account in accounts]})
    elif accounts:
        for account in accounts:
            print(account.hex())
    else:
        print(f"no account holds the role {args.role!r}")
    return 0


def run_state(args: argparse.Namespace) -> int:
    from dcrm.client import Client

    key = parse_state_key(args.key)
    with Client(args.endpoint, credentials=channel_credentials(args)) as client:
        value = client.query_state(key, verify=not args.no_verify)
    checked = "not verified (--no-verify)" if args.no_verify else "verified: commit certificate and Merkle proof"
    if args.json:
        print_json(
            {
                "key": key.hex(),
                "exists": value is not None,
                "value": None if value is None else value.hex(),
                "verified": not args.no_verify,
            }
        )
    else:
        print_table(
            [
                ("key", _shown(key)),
                ("value", "absent" if value is None else _shown(value)),
                ("proof", checked),
            ]
        )
    return 0
