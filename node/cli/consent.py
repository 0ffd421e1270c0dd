"""`dcrm consent`: consent records, the check before each use of personal data, the access log and consent
receipts, through the SDK (client.consent).

Subjects and controllers are did:dcrm DIDs (`dcrm identity create-did`). Terms are read from a JSON file in the
protobuf JSON form of dcrm.v1.consent.Terms (field names as in the .proto or in lowerCamelCase, enums by name,
bytes in base64); `--notice-file` sets the notice's content hash to the sha256 of the notice text shown. A
receipt written by `receipt --out` verifies later with `verify-receipt`, without a node. The module is described
in docs/modules/consent.md.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dcrm.node.cli.calls import (
    add_action,
    connect,
    parse_duration_ms,
    parse_hex,
    report_call,
    report_read,
    signer,
)
from dcrm.node.cli.common import CliError, add_json_argument, parse_account, print_json, print_table

if TYPE_CHECKING:
    from dcrm.v1 import consent_pb2

__all__ = ["register"]

RECORD_ID_BYTES = 16
MAX_CLIENT_REF_BYTES = 32
ACCESSOR_BYTES = tuple(range(16, 33))


def _add_record_id(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("record_id", metavar="RECORD_ID", help="the record id (32 hex digits)")


def _add_new_record(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--ref",
        required=True,
        metavar="TEXT",
        help="1 to 32 bytes (UTF-8) you choose, e.g. your CRM's row id; with your account it fixes the record id",
    )
    parser.add_argument("--subject", required=True, metavar="DID", help="the subject's did:dcrm DID")
    parser.add_argument("--controller", required=True, metavar="DID", help="the controller's did:dcrm DID")
    parser.add_argument("--terms", type=Path, required=True, metavar="FILE", help="the terms, as protobuf JSON")
    parser.add_argument(
        "--notice-file",
        type=Path,
        metavar="FILE",
        help="the notice text shown: its sha256 is the notice's content hash",
    )
    until = parser.add_mutually_exclusive_group(required=True)
    until.add_argument(
        "--valid-for", type=parse_duration_ms, metavar="DURATION", help="how long from now, e.g. 365d or 12h"
    )
    until.add_argument("--valid-until-ms", type=int, metavar="MS", help="the end of validity, in ms since 1970")


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    group = commands.add_parser(
        "consent",
        help="consent records, checks, the access log and receipts (consent module)",
        description="Consent records, the check before each use of personal data, the access log and receipts.",
    )
    actions = group.add_subparsers(dest="action", metavar="ACTION", required=True)
    _register_calls(actions)
    _register_reads(actions)


def _register_calls(actions: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    request = add_action(
        actions,
        "request",
        run_request,
        help_text="a controller asks a subject for consent",
        description=(
            "The key's account (role controller, controlling the --controller DID) asks the subject for consent "
            "to the terms; the subject answers with `client.consent.grant_request`. Prints the record id."
        ),
    )
    _add_new_record(request)
    request.add_argument(
        "--subject-account", required=True, metavar="HEX", help="an account that controls the subject DID"
    )

    grant = add_action(
        actions,
        "grant",
        run_grant,
        help_text="a subject gives consent to a controller",
        description="The key's account, which controls the --subject DID, gives consent. Prints the record id.",
    )
    _add_new_record(grant)

    withdraw = add_action(
        actions,
        "withdraw",
        run_withdraw,
        help_text="a subject withdraws consent",
        description="The key's account, which controls the record's subject DID, withdraws the consent.",
    )
    _add_record_id(withdraw)

    log = add_action(
        actions,
        "log-access",
        run_log_access,
        help_text="a controller logs one use of personal data",
        description="The record's controller logs one use of the subject's data under a valid consent.",
    )
    _add_record_id(log)
    log.add_argument("--purpose", required=True, metavar="PURPOSE")
    log.add_argument("--category", action="append", required=True, metavar="CATEGORY", help="repeatable")
    who = log.add_mutually_exclusive_group(required=True)
    who.add_argument("--accessor", metavar="HEX", help="an opaque 16- to 32-byte hash of who accessed")
    who.add_argument("--accessor-of", metavar="TEXT", help="hash this (e.g. a salted staff id) with sha256")


def _register_reads(actions: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    check = add_action(
        actions,
        "check",
        run_check,
        help_text="may a controller use a data category of a subject for a purpose?",
        description=(
            "Ask whether CONTROLLER may use CATEGORY of SUBJECT's data for PURPOSE, now or at a moment. A denial "
            "is an answer, not an error: the exit code is 0 either way; read `allowed`."
        ),
        read=True,
    )
    check.add_argument("subject", metavar="SUBJECT")
    check.add_argument("controller", metavar="CONTROLLER")
    check.add_argument("purpose", metavar="PURPOSE")
    check.add_argument("category", metavar="CATEGORY")
    check.add_argument("--at-ms", type=int, metavar="MS", help="answer for this moment (ms since 1970)")
    check.add_argument(
        "--verify", action="store_true", help="confirm an allowed answer with state proofs and the commit certificate"
    )

    records = add_action(
        actions,
        "records",
        run_records,
        help_text="a DID's consent records",
        description="Every consent record of a subject or controller DID.",
        read=True,
    )
    records.add_argument("did", metavar="DID")
    records.add_argument("--by", choices=("subject", "controller"), default="subject", help="default: %(default)s")

    receipt = add_action(
        actions,
        "receipt",
        run_receipt,
        help_text="export a consent receipt that verifies offline",
        description=(
            "Export a Kantara Consent Receipt 1.1 of the record's current revision, with the proof that verifies "
            "it offline (state proof, header, commit certificate, earlier revisions), as JSON."
        ),
        read=True,
    )
    _add_record_id(receipt)
    receipt.add_argument("--out", type=Path, metavar="FILE", help="write the receipt to a new FILE, not stdout")

    verify = actions.add_parser(
        "verify-receipt",
        help="verify a consent receipt offline",
        description=(
            "Verify a receipt without a node: the commit certificate against the validators' keys, the state "
            "proof against the header, every readable field against the proven record, the revision hash chain."
        ),
    )
    add_json_argument(verify)
    verify.add_argument("file", type=Path, metavar="FILE")
    trusted = verify.add_mutually_exclusive_group(required=True)
    trusted.add_argument(
        "--validator", action="append", metavar="HEX", help="a validator's public key (66 hex digits); repeatable"
    )
    trusted.add_argument("--genesis", type=Path, metavar="FILE", help="take the validators from the chain's genesis")
    verify.add_argument("--chain-id", metavar="ID", help="require this chain id (default: the receipt's)")
    verify.set_defaults(run=run_verify_receipt)


# --- calls ------------------------------------------------------------------------------------------------------


def _client_ref(text: str) -> bytes:
    ref = text.encode()
    if not 1 <= len(ref) <= MAX_CLIENT_REF_BYTES:
        raise CliError(f"--ref must be 1 to {MAX_CLIENT_REF_BYTES} bytes in UTF-8, got {len(ref)}")
    return ref


def _terms(args: argparse.Namespace) -> consent_pb2.Terms:
    from google.protobuf import json_format

    from dcrm.client.keys import sha256
    from dcrm.v1 import consent_pb2

    try:
        text = args.terms.read_text()
    except OSError as error:
        raise CliError(f"--terms {args.terms}: {error.strerror}") from None
    except UnicodeDecodeError:
        raise CliError(f"--terms {args.terms}: not UTF-8 text") from None
    terms = consent_pb2.Terms()
    try:
        json_format.Parse(text, terms)
    except json_format.ParseError as error:
        raise CliError(f"--terms {args.terms}: not dcrm.v1.consent.Terms in protobuf JSON: {error}") from None
    if args.notice_file is not None:
        try:
            terms.notice.content_hash = sha256(args.notice_file.read_bytes())
        except OSError as error:
            raise CliError(f"--notice-file {args.notice_file}: {error.strerror}") from None
    return terms


def _valid_until_ms(args: argparse.Namespace) -> int:
    if args.valid_until_ms is not None:
        return int(args.valid_until_ms)
    return time.time_ns() // 1_000_000 + int(args.valid_for)


def _change_fields(change: Any) -> list[tuple[str, str, Any]]:
    return [
        ("record id", "record_id", change.record_id.hex()),
        ("revision", "revision", change.revision),
        ("revision hash", "revision_hash", change.revision_hash.hex()),
    ]


def _new_record(
    args: argparse.Namespace,
    terms: consent_pb2.Terms,
    until: int,
    call: Callable[[Any], Callable[..., Any]],
    **extra: Any,
) -> int:
    """`request` or `grant` (chosen by `call` from client.consent): a new record of --ref, --subject,
    --controller, the terms and their validity; `extra` are the call's other arguments."""
    with signer(args) as (client, account):
        change = call(client.consent)(
            account,
            client_ref=_client_ref(args.ref),
            subject=args.subject,
            controller=args.controller,
            terms=terms,
            valid_until_ms=until,
            timeout=args.timeout,
            **extra,
        )
    return report_call(
        change.receipt, args.json, [*_change_fields(change), ("valid until ms", "valid_until_ms", until)]
    )


def run_request(args: argparse.Namespace) -> int:
    terms, until = _terms(args), _valid_until_ms(args)
    subject_account = parse_account(args.subject_account, "--subject-account")
    return _new_record(args, terms, until, lambda consent: consent.request, subject_account=subject_account)


def run_grant(args: argparse.Namespace) -> int:
    terms, until = _terms(args), _valid_until_ms(args)
    return _new_record(args, terms, until, lambda consent: consent.grant)


def _record_id(text: str) -> bytes:
    return parse_hex(text, "RECORD_ID", lengths=(RECORD_ID_BYTES,))


def run_withdraw(args: argparse.Namespace) -> int:
    record_id = _record_id(args.record_id)
    with signer(args) as (client, account):
        change = client.consent.withdraw(account, record_id, timeout=args.timeout)
    return report_call(change.receipt, args.json, [*_change_fields(change), ("state", "state", "withdrawn")])


def run_log_access(args: argparse.Namespace) -> int:
    from dcrm.client.consent import LOG_ACCESS, MODULE_INDEX
    from dcrm.client.keys import sha256
    from dcrm.client.transactions import decode_event
    from dcrm.v1 import consent_pb2

    record_id = _record_id(args.record_id)
    if args.accessor is not None:
        accessor = parse_hex(args.accessor, "--accessor", lengths=ACCESSOR_BYTES)
    else:
        accessor = sha256(args.accessor_of.encode())
    call = consent_pb2.LogAccess(
        record_id=record_id, purpose=args.purpose, data_categories=args.category, accessor=accessor
    )
    with signer(args) as (_client, account):
        # Sent as client.consent.log_access sends it; the receipt is reported, so it is kept.
        receipt = account.submit_and_wait(MODULE_INDEX, LOG_ACCESS, call, timeout=args.timeout)
    logged = [event for event in map(decode_event, receipt.events) if isinstance(event, consent_pb2.AccessLogged)]
    if len(logged) != 1:
        raise CliError(f"the receipt of transaction {receipt.tx_hash.hex()} carries no AccessLogged event")
    fields = [("access seq", "seq", logged[0].seq), ("record id", "record_id", record_id.hex())]
    return report_call(receipt, args.json, [*fields, ("accessor", "accessor", accessor.hex())])


# --- reads ------------------------------------------------------------------------------------------------------


def _when(ms: int) -> str:
    from dcrm.client.did import iso_time

    return f"{iso_time(ms)} ({ms})" if ms else "-"


def run_check(args: argparse.Namespace) -> int:
    from dcrm.client.consent import state_name

    with connect(args) as client:
        answer = client.consent.check(
            args.subject, args.controller, args.purpose, args.category, at_ms=args.at_ms, verify=args.verify
        )
    verified = bool(args.verify and answer.allowed)
    document = {
        "allowed": answer.allowed,
        "record_id": answer.record_id.hex() or None,
        "state": state_name(answer.state) if answer.record_id else None,
        "revision": answer.revision if answer.record_id else None,
        "valid_from_ms": answer.valid_from_ms,
        "valid_until_ms": answer.valid_until_ms,
        "ccpa_opt_out": answer.ccpa_opt_out,
        "gpc": answer.gpc,
        "reason": answer.reason,
        "verified": verified,
    }
    rows = [("allowed", "yes" if answer.allowed else "no")]
    if answer.record_id:
        rows += [
            ("record id", answer.record_id.hex()),
            ("state", f"{state_name(answer.state)} (revision {answer.revision})"),
            ("valid from", _when(answer.valid_from_ms)),
            ("valid until", _when(answer.valid_until_ms)),
            ("ccpa opt-out", "yes" if answer.ccpa_opt_out else "no"),
            ("gpc", "yes" if answer.gpc else "no"),
        ]
    if answer.reason:
        rows.append(("reason", answer.reason))
    if answer.allowed:
        rows.append(("proof", "verified: state proofs and commit certificate" if verified else "not verified"))
    return report_read(args.json, document, rows)


def run_records(args: argparse.Namespace) -> int:
    from dcrm.client.consent import state_name

    with connect(args) as client:
        found = list(client.consent.all_records(args.did, by=args.by))
    listed: list[dict[str, Any]] = [
        {
            "record_id": record.record_id.hex(),
            "subject": record.subject,
            "controller": record.controller,
            "state": state_name(record.state),
            "revision": record.revision,
            "created_ms": record.created_ms,
            "valid_until_ms": record.valid_until_ms,
        }
        for record in found
    ]
    if args.json:
        print_json({"did": args.did, "by": args.by, "records": listed})
    elif not listed:
        print(f"no consent records with {args.by} {args.did}")
    else:
        other = "controller" if args.by == "subject" else "subject"
        for item in listed:
            print(
                f"{item['record_id']}  {item['state']:<11} rev {item['revision']:<3} {other} {item[other]}  "
                f"until {_when(item['valid_until_ms'])}"
            )
    return 0


def run_receipt(args: argparse.Namespace) -> int:
    record_id = _record_id(args.record_id)
    with connect(args) as client:
        receipt = client.consent.receipt(record_id)
    text = json.dumps(receipt, indent=2, ensure_ascii=False) + "\n"
    if args.out is None:
        sys.stdout.write(text)
        return 0
    try:
        with args.out.open("x", encoding="utf-8") as file:
            file.write(text)
    except FileExistsError:
        raise CliError(f"--out {args.out} exists; receipts are never overwritten") from None
    except OSError as error:
        raise CliError(f"--out {args.out}: {error.strerror}") from None
    record = receipt["record"]
    return report_read(
        args.json,
        {
            "file": str(args.out),
            "record_id": record["record_id"],
            "state": record["state"],
            "revision": record["revision"],
        },
        [
            ("receipt", str(args.out)),
            ("record id", record["record_id"]),
            ("state", f"{record['state']} (revision {record['revision']})"),
            ("at height", str(receipt["proof"]["height"])),
        ],
    )


def _validators(args: argparse.Namespace) -> list[bytes]:
    if args.validator:
        return [parse_hex(value, "--validator", lengths=(33,)) for value in args.validator]
    try:
        genesis = json.loads(args.genesis.read_bytes())
        keys = genesis["modules"]["system"]["validators"]
    except OSError as error:
        raise CliError(f"--genesis {args.genesis}: {error.strerror}") from None
    except (ValueError, KeyError, TypeError):
        raise CliError(f"--genesis {args.genesis}: not a genesis document with modules.system.validators") from None
    if not isinstance(keys, list) or not keys:
        raise CliError(f"--genesis {args.genesis}: modules.system.validators must be a non-empty list")
    return [parse_hex(str(key), "modules.system.validators[]", lengths=(33,)) for key in keys]


def run_verify_receipt(args: argparse.Namespace) -> int:
    from dcrm.client.consent import state_name, verify_consent_receipt

    validators = _validators(args)
    try:
        text = args.file.read_bytes()
    except OSError as error:
        raise CliError(f"{args.file}: {error.strerror}") from None
    verified = verify_consent_receipt(text, validators, chain_id=args.chain_id)  # ReceiptInvalid: exit 1
    record, header = verified.record, verified.header
    document: dict[str, Any] = {
        "valid": True,
        "record_id": record.record_id.hex(),
        "subject": record.subject,
        "controller": record.controller,
        "state": state_name(record.state),
        "revision": record.revision,
        "valid_for_processing": verified.valid_for_processing,
        "chain_id": header.chain_id,
        "height": header.height,
        "earlier_revisions": len(verified.history),
    }
    if args.json:
        print_json(document)
    else:
        print_table(
            [
                ("receipt", f"valid: proven by block {header.height} of chain {header.chain_id}"),
                ("record id", document["record_id"]),
                ("subject", record.subject),
                ("controller", record.controller),
                ("state", f"{document['state']} (revision {record.revision})"),
                ("valid until", _when(record.valid_until_ms)),
                ("history", f"{len(verified.history)} earlier revisions, hash chain intact"),
            ]
        )
    return 0
