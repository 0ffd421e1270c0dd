"""`dcrm keys`: create, encrypt and inspect key files (needs only the SDK; encryption needs `cryptography`).

A passphrase comes from `--passphrase-file FILE` (mode 0600; one trailing newline ignored), else from the
environment variable DCRM_KEY_PASSPHRASE, else from a prompt when standard input is a terminal.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from dcrm.node.cli.common import CliError, add_json_argument, print_json, print_table

if TYPE_CHECKING:
    from dcrm.client.keys import SigningKey

__all__ = ["add_passphrase_argument", "load_key_file", "obtain_passphrase", "register"]

PASSPHRASE_ENV = "DCRM_KEY_PASSPHRASE"  # noqa: S105 (the variable's name, not a secret)


def add_passphrase_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--passphrase-file",
        type=Path,
        metavar="FILE",
        help=f"read the key passphrase from FILE (mode 0600) instead of {PASSPHRASE_ENV} or a prompt",
    )


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    group = commands.add_parser("keys", help="create and inspect key files", description="Key files.")
    actions = group.add_subparsers(dest="action", metavar="ACTION", required=True)

    new = actions.add_parser(
        "new",
        help="create a key and write it to a new key file",
        description="Create a secp256k1 key and write it to a new key file (mode 0600; never overwritten).",
    )
    new.add_argument("--out", type=Path, required=True, metavar="FILE", help="the key file to create")
    new.add_argument("--encrypt", action="store_true", help="encrypt the key with a passphrase (scrypt + AES-256-GCM)")
    add_passphrase_argument(new)
    add_json_argument(new)
    new.set_defaults(run=run_new)

    encrypt = actions.add_parser(
        "encrypt",
        help="encrypt a plain key file with a passphrase",
        description=(
            "Encrypt the plain key file FILE with a passphrase (scrypt + AES-256-GCM). The file is replaced "
            "atomically, or with --out a new encrypted file is written and FILE is left as it is."
        ),
    )
    encrypt.add_argument("file", type=Path, metavar="FILE")
    encrypt.add_argument("--out", type=Path, metavar="FILE", help="write the encrypted key here instead")
    add_passphrase_argument(encrypt)
    add_json_argument(encrypt)
    encrypt.set_defaults(run=run_encrypt)

    show = actions.add_parser(
        "show",
        help="print a key file's account id and public key",
        description="Print a key file's account id and public key (never the private key).",
    )
    show.add_argument("file", type=Path, metavar="FILE")
    add_json_argument(show)
    show.set_defaults(run=run_show)


def obtain_passphrase(passphrase_file: Path | None, *, confirm: bool, env: Mapping[str, str] = os.environ) -> bytes:
    """The passphrase from the file, DCRM_KEY_PASSPHRASE or a terminal prompt; CliError when there is none."""
    if passphrase_file is not None:
        from dcrm.node.keyfiles import read_passphrase_file

        return read_passphrase_file(passphrase_file)
    value = env.get(PASSPHRASE_ENV)
    if value:
        return value.encode("utf-8")
    if not sys.stdin.isatty():
        raise CliError(f"a passphrase is needed: pass --passphrase-file FILE or set {PASSPHRASE_ENV}")
    first = getpass.getpass("key passphrase: ")
    if not first:
        raise CliError("the passphrase is empty")
    if confirm and getpass.getpass("repeat the passphrase: ") != first:
        raise CliError("the two passphrases differ")
    return first.encode("utf-8")


def load_key_file(path: Path, passphrase_file: Path | None) -> SigningKey:
    """A plain or encrypted key file; the passphrase is asked for only when the file is encrypted."""
    from dcrm.client.keys import load_key

    if not _is_encrypted(path):
        return load_key(path)
    return load_key(path, passphrase=obtain_passphrase(passphrase_file, confirm=False))


def _is_encrypted(path: Path) -> bool:
    """Whether the file holds an encrypted key; any problem is left for load_key to report precisely."""
    try:
        document = json.loads(path.read_bytes()[: 64 * 1024])
    except (OSError, ValueError):
        return False
    return isinstance(document, dict) and "crypto" in document


def _print_key(account: bytes, public_key: bytes, path: Path, as_json: bool, *, encrypted: bool) -> None:
    if as_json:
        print_json(
            {"account": account.hex(), "public_key": public_key.hex(), "file": str(path), "encrypted": encrypted}
        )
    else:
        print_table(
            [
                ("account", account.hex()),
                ("public key", public_key.hex()),
                ("key file", str(path)),
                ("encrypted", "yes" if encrypted else "no"),
            ]
        )


def run_new(args: argparse.Namespace) -> int:
    from dcrm.client.keys import SigningKey, save_key

    key = SigningKey.generate()
    if args.encrypt:
        from dcrm.client.keystore import save_encrypted_key

        save_encrypted_key(args.out, key, obtain_passphrase(args.passphrase_file, confirm=True))
    else:
        save_key(args.out, key)
    _print_key(key.account_id, key.public_key, args.out, args.json, encrypted=args.encrypt)
    return 0


def run_encrypt(args: argparse.Namespace) -> int:
    from dcrm.client.keys import load_key
    from dcrm.client.keystore import save_encrypted_key

    if _is_encrypted(args.file):
        raise CliError(f"{args.file} is already encrypted")
    key = load_key(args.file)
    passphrase = obtain_passphrase(args.passphrase_file, confirm=True)
    if args.out is None:
        save_encrypted_key(args.file, key, passphrase, replace=True)
    else:
        save_encrypted_key(args.out, key, passphrase)
    _print_key(key.account_id, key.public_key, args.out or args.file, args.json, encrypted=True)
    return 0


def run_show(args: argparse.Namespace) -> int:
    from dcrm.client.keys import from_hex, load_key

    if not _is_encrypted(args.file):
        key = load_key(args.file)
        _print_key(key.account_id, key.public_key, args.file, args.json, encrypted=False)
        return 0
    document = json.loads(args.file.read_bytes())
    try:
        account = from_hex(str(document.get("account")), length=20, what='"account"')
        public_key = from_hex(str(document.get("public_key")), length=33, what='"public_key"')
    except ValueError as error:
        raise CliError(f"key file {args.file}: {error}") from None
    _print_key(account, public_key, args.file, args.json, encrypted=True)
    return 0
