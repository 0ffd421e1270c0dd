"""What the module command groups (`dcrm identity`, `dcrm consent`, `dcrm tokens`) share: the options of a
signed call or a read, a connected SDK client, argument parsers, and how a committed call is reported.

Only the SDK is used (imported inside the functions, like the other command modules), so these commands run
with the SDK's dependencies alone. A failed call raises the SDK's TransactionFailed subclass, which `main`
prints as "error: transaction <hash> failed in block <n>: <Name> ...", exit code 1; ValueError raised by the
SDK for an argument it refuses before sending becomes a CliError (same format, exit code 1).
"""

from __future__ import annotations

import argparse
import hashlib
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dcrm.node.cli.common import (
    CliError,
    add_endpoint_argument,
    add_json_argument,
    channel_credentials,
    print_json,
    print_table,
)
from dcrm.node.cli.keys import add_passphrase_argument, load_key_file

if TYPE_CHECKING:
    from dcrm.client import Account, Client

__all__ = [
    "add_action",
    "add_call_arguments",
    "add_read_arguments",
    "add_submit_arguments",
    "connect",
    "parse_duration_ms",
    "parse_hash",
    "parse_hex",
    "report_call",
    "report_read",
    "report_receipt",
    "sdk_errors",
    "signer",
    "submit",
]

HASH_BYTES = 32
_DURATION = re.compile(r"([0-9]+)(ms|s|m|h|d)")
_UNIT_MS = {"ms": 1, "s": 1_000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}


def add_read_arguments(parser: argparse.ArgumentParser) -> None:
    """--endpoint, TLS options and --json: what a query needs."""
    add_endpoint_argument(parser)
    add_json_argument(parser)


def add_call_arguments(parser: argparse.ArgumentParser) -> None:
    """A read's options, and the signer's key file, its passphrase and how long to wait for the commit."""
    add_read_arguments(parser)
    parser.add_argument("--key", type=Path, required=True, metavar="FILE", help="the sender's key file")
    add_passphrase_argument(parser)
    parser.add_argument(
        "--timeout",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="how long to wait for the block that includes the call (default: %(default)s)",
    )


def add_action(
    actions: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    run: Callable[[argparse.Namespace], int],
    *,
    help_text: str,
    description: str,
    read: bool = False,
) -> argparse.ArgumentParser:
    """The subcommand `name`, which runs `run`, with the options of a signed call (or of a read, with `read`);
    the caller adds its own arguments to the parser returned."""
    parser = actions.add_parser(name, help=help_text, description=description)
    if read:
        add_read_arguments(parser)
    else:
        add_call_arguments(parser)
    parser.set_defaults(run=run)
    return parser


def add_submit_arguments(parser: argparse.ArgumentParser, *, key_help: str, wait_default: bool) -> None:
    """The options of a raw signed call (`dcrm tx`, `dcrm governance`): --endpoint, TLS options, the key file and
    its passphrase, --wait/--no-wait, --timeout and --json."""
    add_endpoint_argument(parser)
    parser.add_argument("--key", type=Path, required=True, metavar="FILE", help=key_help)
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


# What a successful receipt says beyond its hash and block: (JSON fields, readable rows).
ReceiptDetails = Callable[[Any], tuple[dict[str, Any], list[tuple[str, str]]]]


def report_receipt(receipt: Any, as_json: bool, details: ReceiptDetails | None = None) -> int:
    """Print a receipt: hash, block, result, `details(receipt)` when it succeeded, and its error if any. A failed
    receipt then raises the SDK's TransactionFailed (printed by main as "error: transaction ... failed in block
    ...", exit code 1); else returns the exit code 0."""
    from dcrm.client.errors import error_for_receipt

    failure = error_for_receipt(receipt)
    fields, extra_rows = details(receipt) if details is not None and failure is None else ({}, [])
    if as_json:
        document: dict[str, Any] = {
            "tx_hash": receipt.tx_hash.hex(),
            "height": receipt.height,
            "index": receipt.index,
            "success": receipt.success,
            **fields,
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
        rows.extend(extra_rows)
        if receipt.HasField("error"):
            error = receipt.error
            rows.append(("error", f"{error.name} (module {error.module}, code {error.code}): {error.message}"))
        print_table(rows)
    if failure is not None:
        raise failure
    return 0


def submit(
    args: argparse.Namespace,
    module_index: int,
    method: int,
    message: Any,
    details: ReceiptDetails | None = None,
) -> int:
    """Sign `message` with --key and submit it; with --wait, report its receipt (see report_receipt), else
    only its transaction hash. Returns the exit code."""
    from dcrm.client import Client

    key = load_key_file(args.key, args.passphrase_file)
    with Client(args.endpoint, credentials=channel_credentials(args)) as client:
        account = client.account(key)
        if args.wait:
            receipt = account.submit_and_wait(module_index, method, message, timeout=args.timeout, check=False)
            return report_receipt(receipt, args.json, details)
        tx_hash = account.submit(module_index, method, message)
    if args.json:
        print_json({"tx_hash": tx_hash.hex(), "state": "submitted"})
    else:
        print_table([("tx hash", tx_hash.hex()), ("result", "submitted (not waiting for the commit)")])
    return 0


@contextmanager
def sdk_errors() -> Iterator[None]:
    """Report the SDK's ValueError for a refused argument as a CliError (DcrmError is left to main)."""
    from dcrm.client.errors import DcrmError

    try:
        yield
    except DcrmError:
        raise
    except ValueError as error:
        raise CliError(str(error)) from None


@contextmanager
def connect(args: argparse.Namespace) -> Iterator[Client]:
    """An SDK Client of --endpoint (with the TLS options); SDK argument errors become CliErrors."""
    from dcrm.client import Client

    with Client(args.endpoint, credentials=channel_credentials(args)) as client, sdk_errors():
        yield client


@contextmanager
def signer(args: argparse.Namespace) -> Iterator[tuple[Client, Account]]:
    """The client and an Account signing with --key (a plain or encrypted key file)."""
    key = load_key_file(args.key, args.passphrase_file)
    with connect(args) as client:
        yield client, client.account(key)


def parse_hex(text: str, what: str, *, lengths: tuple[int, ...]) -> bytes:
    """Bytes from hex digits (an optional 0x prefix is allowed) whose length is one of `lengths`."""
    digits = text[2:] if text[:2].lower() == "0x" else text
    try:
        value = bytes.fromhex(digits)
    except ValueError:
        raise CliError(f"{what} must be hex digits, got {text!r}") from None
    if len(value) not in lengths:
        if len(lengths) > 2 and list(lengths) == list(range(lengths[0], lengths[-1] + 1)):
            expected = f"{2 * lengths[0]} to {2 * lengths[-1]}"
        else:
            expected = " or ".join(str(2 * length) for length in lengths)
        raise CliError(f"{what} must be {expected} hex digits, got {len(digits)}")
    return value


def parse_hash(hex_value: str | None, text: str | None, what: str, *, required: bool) -> bytes:
    """A 32-byte hash from --<what> HEX or --<what>-of TEXT (its sha256); empty when neither is given and
    the hash is optional."""
    if hex_value is not None and text is not None:
        raise CliError(f"give --{what} or --{what}-of, not both")
    if hex_value is not None:
        return parse_hex(hex_value, f"--{what}", lengths=(HASH_BYTES,))
    if text is not None:
        return hashlib.sha256(text.encode()).digest()
    if required:
        raise CliError(f"--{what} HEX (a 32-byte hash) or --{what}-of TEXT (hashed with sha256) is required")
    return b""


def parse_duration_ms(text: str) -> int:
    """argparse `type=` for durations: an integer with a unit, ms, s, m, h or d (e.g. 90d, 12h)."""
    match = _DURATION.fullmatch(text.strip())
    if match is None:
        raise argparse.ArgumentTypeError(f"expected a duration like 30d, 12h, 45m, 90s or 500ms, got {text!r}")
    return int(match.group(1)) * _UNIT_MS[match.group(2)]


def receipt_document(receipt: Any) -> dict[str, Any]:
    return {"tx_hash": receipt.tx_hash.hex(), "height": receipt.height, "index": receipt.index}


def report_call(receipt: Any, as_json: bool, fields: list[tuple[str, str, Any]] | None = None) -> int:
    """Print a committed, successful call: its transaction hash and block, then `fields` as (label, JSON key,
    value). Returns the exit code 0."""
    extra = fields or []
    if as_json:
        print_json({**receipt_document(receipt), **{key: value for _label, key, value in extra}})
    else:
        rows = [("tx hash", receipt.tx_hash.hex()), ("block", f"{receipt.height} (transaction {receipt.index})")]
        rows.extend((label, _text(value)) for label, _key, value in extra)
        print_table(rows)
    return 0


def report_read(as_json: bool, document: dict[str, Any], rows: list[tuple[str, str]]) -> int:
    """Print a read: the JSON document with --json, else the readable rows. Returns the exit code 0."""
    if as_json:
        print_json(document)
    else:
        print_table(rows)
    return 0


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(str(item) for item in value) or "none"
    return str(value)
