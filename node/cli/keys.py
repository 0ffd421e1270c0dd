"""`dcrm keys`: create and inspect key files (needs only the SDK)."""

from __future__ import annotations

import argparse
from pathlib import Path

from dcrm.node.cli.common import add_json_argument, print_json, print_table

__all__ = ["register"]


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    group = commands.add_parser("keys", help="create and inspect key files", description="Key files.")
    actions = group.add_subparsers(dest="action", metavar="ACTION", required=True)

    new = actions.add_parser(
        "new",
        help="create a key and write it to a new key file",
        description="Create a secp256k1 key and write it to a new key file (mode 0600; never overwritten).",
    )
    new.add_argument("--out", type=Path, required=True, metavar="FILE", help="the key file to create")
    add_json_argument(new)
    new.set_defaults(run=run_new)

    show = actions.add_parser(
        "show",
        help="print a key file's account id and public key",
        description="Print a key file's account id and public key (never the private key).",
    )
    show.add_argument("file", type=Path, metavar="FILE")
    add_json_argument(show)
    show.set_defaults(run=run_show)


def _print_key(account: bytes, public_key: bytes, path: Path, as_json: bool) -> None:
    if as_json:
        print_json({"account": account.hex(), "public_key": public_key.hex(), "file": str(path)})
    else:
        print_table([("account", account.hex()), ("public key", public_key.hex()), ("key file", str(path))])


def run_new(args: argparse.Namespace) -> int:
    from dcrm.client.keys import SigningKey, save_key

    key = SigningKey.generate()
    save_key(args.out, key)
    _print_key(key.account_id, key.public_key, args.out, args.json)
    return 0


def run_show(args: argparse.Namespace) -> int:
    from dcrm.client.keys import load_key

    key = load_key(args.file)
    _print_key(key.account_id, key.public_key, args.file, args.json)
    return 0
