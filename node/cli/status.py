"""`dcrm status`: what a node reports about itself and its chain."""

from __future__ import annotations

import argparse
from typing import Any

from dcrm.node.cli.common import (
    add_endpoint_argument,
    add_json_argument,
    channel_credentials,
    print_json,
    print_table,
)

__all__ = ["register", "status_document"]


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "status",
        help="print a node's chain id, height, head, validators and mempool size",
        description="Print what a node reports: chain id, height, head hash, validators, mempool size, peers.",
    )
    add_endpoint_argument(parser)
    add_json_argument(parser)
    parser.add_argument("--timeout", type=float, default=10.0, metavar="SECONDS", help="default: %(default)s")
    parser.set_defaults(run=run_status)


def status_document(status: Any) -> dict[str, Any]:
    """A dcrm.v1.NodeStatus as JSON-friendly data (bytes as hex)."""
    return {
        "chain_id": status.chain_id,
        "height": status.height,
        "head_hash": status.head_hash.hex(),
        "genesis_hash": status.genesis_hash.hex(),
        "validators": [
            {"account": validator.account.hex(), "public_key": validator.public_key.hex()}
            for validator in status.validators
        ],
        "mempool_size": status.mempool_size,
        "peers": list(status.peers),
        "version": status.version,
    }


def run_status(args: argparse.Namespace) -> int:
    from dcrm.client import Client

    with Client(args.endpoint, credentials=channel_credentials(args), timeout=args.timeout) as client:
        document = status_document(client.status())
    if args.json:
        print_json(document)
        return 0
    print_table(
        [
            ("endpoint", args.endpoint),
            ("chain id", document["chain_id"]),
            ("height", str(document["height"])),
            ("head hash", document["head_hash"]),
            ("genesis hash", document["genesis_hash"]),
            ("validators", str(len(document["validators"]))),
            *[
                (f"  {index}", f"{item['account']} (key {item['public_key']})")
                for index, item in enumerate(document["validators"])
            ],
            ("mempool size", str(document["mempool_size"])),
            ("peers", ", ".join(document["peers"]) or "none"),
            ("version", document["version"] or "unknown"),
        ]
    )
    return 0
