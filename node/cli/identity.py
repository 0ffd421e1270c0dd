"""`dcrm identity`: did:dcrm DIDs, credential issuers, schemas and status lists, through the SDK (client.identity).

Calls sign with --key, wait for their block and print the transaction hash, the block and what the call made;
a failed call prints "error: transaction ... failed in block ...: <Name> (module 1, code n): <message>" and exits
with 1. The module is described in docs/modules/identity.md and the DID method in docs/did-method.md.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from dcrm.node.cli.calls import (
    add_action,
    connect,
    parse_hex,
    report_call,
    report_read,
    signer,
)
from dcrm.node.cli.common import CliError

__all__ = ["register"]

MAX_SALT_BYTES = 32


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    group = commands.add_parser(
        "identity",
        help="DIDs, credential issuers, schemas and status lists (identity module)",
        description="did:dcrm DIDs, credential issuers, schemas and status lists: the identity module.",
    )
    actions = group.add_subparsers(dest="action", metavar="ACTION", required=True)

    create = add_action(
        actions,
        "create-did",
        run_create_did,
        help_text="create a DID controlled by the key's account",
        description=(
            "Create a did:dcrm DID whose #key-1 is the key's public key (authentication and assertionMethod) and "
            "whose controlling account is the key's account. The DID is derived from the account and a salt: "
            "random unless --salt is given (a fresh key and salt make a pseudonymous DID)."
        ),
    )
    create.add_argument("--salt", metavar="HEX", help="1 to 32 bytes as hex (default: 16 random bytes)")
    create.add_argument(
        "--service",
        nargs=3,
        action="append",
        default=[],
        metavar=("FRAGMENT", "TYPE", "ENDPOINT"),
        help="a service of the document, e.g. crm LinkedDomains https://crm.acme.example (repeatable)",
    )

    resolve = add_action(
        actions,
        "resolve",
        run_resolve,
        help_text="resolve a DID, now or at a past block height or time",
        description="Resolve DID: its document and metadata now, or the version in effect at a height or time.",
        read=True,
    )
    resolve.add_argument("did", metavar="DID")
    point = resolve.add_mutually_exclusive_group()
    point.add_argument("--at-height", type=int, metavar="HEIGHT", help="the version in effect at this block height")
    point.add_argument("--at-time-ms", type=int, metavar="MS", help="the version in effect at this block time (ms)")

    for name, run, help_text, description in (
        (
            "deactivate",
            run_deactivate,
            "deactivate a DID for good",
            "Deactivate DID permanently; the key's account must control it.",
        ),
        (
            "register-issuer",
            run_register_issuer,
            "an admin registers a DID as a credential issuer",
            "The key's account (role admin) registers DID as a credential issuer.",
        ),
    ):
        add_action(actions, name, run, help_text=help_text, description=description).add_argument("did", metavar="DID")

    schema = add_action(
        actions,
        "register-schema",
        run_register_schema,
        help_text="an issuer registers a credential schema",
        description=(
            "Register the schema NAME/VERSION of an issuer DID the key controls; the chain keeps the sha256 of "
            "the schema document FILE, which stays off chain. Prints the schema id."
        ),
    )
    schema.add_argument("--issuer", required=True, metavar="DID", help="the issuer DID")
    schema.add_argument("--name", required=True, metavar="NAME")
    schema.add_argument("--version", required=True, metavar="VERSION")
    schema.add_argument("--attribute", action="append", required=True, metavar="NAME", help="a claim name (repeatable)")
    schema.add_argument("--content", type=Path, required=True, metavar="FILE", help="the schema document")

    status_list = add_action(
        actions,
        "create-status-list",
        run_create_status_list,
        help_text="an issuer creates a revocation or suspension list",
        description="Create the Bitstring status list LIST of an issuer DID the key controls.",
    )
    _add_status_list(status_list)
    status_list.add_argument("--purpose", choices=("revocation", "suspension"), default="revocation")
    status_list.add_argument(
        "--size", type=int, default=None, metavar="N", help="entries, a multiple of 8 from 131072 to 1048576"
    )

    for name, verb in (
        ("revoke", "revoke (for good) the credential at INDEX of a revocation list"),
        ("suspend", "suspend the credential at INDEX of a suspension list"),
        ("unsuspend", "lift the suspension of the credential at INDEX"),
    ):
        parser = add_action(
            actions, name, run_set_status, help_text=verb, description=f"An issuer's controller: {verb}."
        )
        _add_status_list(parser)
        parser.add_argument("--index", type=int, required=True, metavar="N", help="the credential's list index")
        parser.set_defaults(status_action=name)


def _add_status_list(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--issuer", required=True, metavar="DID", help="the issuer DID")
    parser.add_argument("--list", dest="list_id", required=True, metavar="LIST", help="the list id")


def run_create_did(args: argparse.Namespace) -> int:
    from dcrm.v1 import identity_pb2

    salt = None if args.salt is None else parse_hex(args.salt, "--salt", lengths=tuple(range(1, MAX_SALT_BYTES + 1)))
    services = [
        identity_pb2.Service(fragment=fragment, type=service_type, endpoint=endpoint)
        for fragment, service_type, endpoint in args.service
    ]
    with signer(args) as (client, account):
        created = client.identity.create_did(
            account, account.key.public_key, salt=salt, services=services, timeout=args.timeout
        )
    return report_call(created.receipt, args.json, [("did", "did", created.did)])


def run_resolve(args: argparse.Namespace) -> int:
    with connect(args) as client:
        result = client.identity.resolve(args.did, at_height=args.at_height, at_time=args.at_time_ms)
    document = result["didDocument"]
    if document is None:
        when = ""
        if args.at_height is not None:
            when = f" at height {args.at_height}"
        elif args.at_time_ms is not None:
            when = f" at time {args.at_time_ms}"
        raise CliError(f"{args.did} does not exist{when} (notFound)")
    return report_read(args.json, result, _resolution_rows(document, result["didDocumentMetadata"]))


def _resolution_rows(document: dict[str, Any], metadata: dict[str, Any]) -> list[tuple[str, str]]:
    controller = document["controller"]
    rows = [
        ("did", document["id"]),
        ("version", metadata["versionId"]),
        ("created", metadata["created"]),
        ("updated", metadata.get("updated", "-")),
        ("deactivated", "yes" if metadata["deactivated"] else "no"),
        ("controller", controller if isinstance(controller, str) else ", ".join(controller)),
    ]
    relationships = ("authentication", "assertionMethod", "keyAgreement")
    for method in document.get("verificationMethod", []):
        uses = [name for name in relationships if method["id"] in document.get(name, [])]
        key = method.get("publicKeyMultibase", "")
        rows.append((f"key #{method['id'].split('#', 1)[1]}", f"{method['type']} {key} ({', '.join(uses) or 'none'})"))
    for service in document.get("service", []):
        rows.append((f"service #{service['id'].split('#', 1)[1]}", f"{service['type']} {service['serviceEndpoint']}"))
    if "nextVersionId" in metadata:
        rows.append(("next version", f"{metadata['nextVersionId']} at {metadata['nextUpdate']}"))
    return rows


def run_deactivate(args: argparse.Namespace) -> int:
    with signer(args) as (client, account):
        receipt = client.identity.deactivate_did(account, args.did, timeout=args.timeout)
    return report_call(receipt, args.json, [("deactivated", "did", args.did)])


def run_register_issuer(args: argparse.Namespace) -> int:
    with signer(args) as (client, account):
        receipt = client.identity.register_issuer(account, args.did, timeout=args.timeout)
    return report_call(receipt, args.json, [("issuer", "issuer", args.did)])


def run_register_schema(args: argparse.Namespace) -> int:
    from dcrm.client.identity import MODULE_INDEX, REGISTER_SCHEMA, schema_id
    from dcrm.client.keys import sha256
    from dcrm.v1 import identity_pb2

    try:
        content = args.content.read_bytes()
    except OSError as error:
        raise CliError(f"--content {args.content}: {error.strerror}") from None
    call = identity_pb2.RegisterSchema(
        issuer_did=args.issuer,
        name=args.name,
        version=args.version,
        attributes=args.attribute,
        content_hash=sha256(content),
    )
    with signer(args) as (_client, account):
        # The receipt is reported, so the call is sent as client.identity.register_schema would send it.
        receipt = account.submit_and_wait(MODULE_INDEX, REGISTER_SCHEMA, call, timeout=args.timeout)
    fields = [
        ("schema id", "schema_id", schema_id(args.issuer, args.name, args.version)),
        ("content hash", "content_hash", call.content_hash.hex()),
    ]
    return report_call(receipt, args.json, fields)


def run_create_status_list(args: argparse.Namespace) -> int:
    from dcrm.client.identity import DEFAULT_STATUS_LIST_SIZE

    size = DEFAULT_STATUS_LIST_SIZE if args.size is None else args.size
    with signer(args) as (client, account):
        receipt = client.identity.create_status_list(
            account, args.issuer, args.list_id, args.purpose, size, timeout=args.timeout
        )
    fields = [("status list", "list_id", args.list_id), ("purpose", "purpose", args.purpose), ("size", "size", size)]
    return report_call(receipt, args.json, fields)


def run_set_status(args: argparse.Namespace) -> int:
    with signer(args) as (client, account):
        change = getattr(client.identity, args.status_action)
        receipt = change(account, args.issuer, args.list_id, args.index, timeout=args.timeout)
    fields = [("status list", "list_id", args.list_id), ("index", "index", args.index)]
    return report_call(receipt, args.json, [*fields, ("action", "action", args.status_action)])
