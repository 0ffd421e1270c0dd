"""Helpers shared by the command modules: expected failures, argument parsing, output."""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

__all__ = [
    "CliError",
    "add_endpoint_argument",
    "add_json_argument",
    "channel_credentials",
    "parse_account",
    "parse_endpoint",
    "print_json",
    "print_table",
]

ACCOUNT_ID_LENGTH = 20
_HOST_PORT = re.compile(r"(\[[0-9A-Fa-f:.]+\]|[^:\s\[\]]+):([0-9]{1,5})")


class CliError(Exception):
    """An expected failure: the message is printed as "error: <message>" and dcrm exits with 1."""


def parse_endpoint(text: str) -> str:
    """`HOST:PORT` checked (port 1 to 65535); argparse `type=` for --endpoint."""
    match = _HOST_PORT.fullmatch(text.strip())
    if not match or not 1 <= int(match.group(2)) <= 65535:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT with a port from 1 to 65535, got {text!r}")
    return text.strip()


def add_endpoint_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--endpoint",
        type=parse_endpoint,
        default="127.0.0.1:50051",
        metavar="HOST:PORT",
        help="the node's gRPC address (default: %(default)s)",
    )
    tls = parser.add_argument_group("TLS (when the node serves TLS: api.tls_cert)")
    tls.add_argument("--tls-ca", type=Path, metavar="FILE", help="connect with TLS, trusting this CA certificate (PEM)")
    tls.add_argument(
        "--tls-cert", type=Path, metavar="FILE", help="client certificate (PEM) for mutual TLS; needs --tls-key"
    )
    tls.add_argument("--tls-key", type=Path, metavar="FILE", help="the client certificate's private key (PEM)")


def channel_credentials(args: argparse.Namespace) -> Any:
    """grpc channel credentials from --tls-ca/--tls-cert/--tls-key, or None for plaintext."""
    ca, cert, key = getattr(args, "tls_ca", None), getattr(args, "tls_cert", None), getattr(args, "tls_key", None)
    if ca is None:
        if cert is not None or key is not None:
            raise CliError("--tls-cert and --tls-key need --tls-ca (the CA that signed the node's certificate)")
        return None
    from dcrm.client import tls_credentials

    try:
        return tls_credentials(ca, cert, key)
    except ValueError as error:
        raise CliError(f"TLS: {error}") from None


def add_json_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")


def parse_account(text: str, what: str = "account") -> bytes:
    """A 20-byte account id from 40 hex digits (an optional 0x prefix is allowed); CliError otherwise."""
    digits = text[2:] if text[:2].lower() == "0x" else text
    try:
        account = bytes.fromhex(digits)
    except ValueError:
        raise CliError(f"{what} must be {2 * ACCOUNT_ID_LENGTH} hex digits, got {text!r}") from None
    if len(account) != ACCOUNT_ID_LENGTH:
        raise CliError(f"{what} must be {2 * ACCOUNT_ID_LENGTH} hex digits ({ACCOUNT_ID_LENGTH} bytes), got {text!r}")
    return account


def print_json(document: Any) -> None:
    json.dump(document, sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")


def print_table(rows: list[tuple[str, str]]) -> None:
    """Aligned `name  value` lines."""
    width = max((len(name) for name, _ in rows), default=0)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
