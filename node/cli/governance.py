"""`dcrm governance`: validators propose, approve and withdraw validator-set changes; anyone reads the schedule.

Calls are signed with the validator's key file (its account id is sha256(public key)[:20]).
"""

from __future__ import annotations

import argparse
from typing import Any

from dcrm.node.cli.calls import add_submit_arguments, submit
from dcrm.node.cli.common import (
    CliError,
    add_endpoint_argument,
    add_json_argument,
    channel_credentials,
    print_json,
    print_table,
)

__all__ = ["register"]

MIN_BLOCKS_AHEAD = 3  # the including block is at least head + 1, and changes take effect 2 blocks after it


def _add_signing(parser: argparse.ArgumentParser) -> None:
    add_submit_arguments(parser, key_help="the validator's key file", wait_default=True)


def _proposal_id(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a proposal id (an integer from 1), got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a proposal id (an integer from 1), got {text!r}")
    return value


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    group = commands.add_parser(
        "governance",
        help="validator-set changes: propose, approve, withdraw, schedule",
        description=(
            "Validators add or remove a validator by on-chain vote: a change is scheduled when validators of "
            "the set in force reach its quorum q = (n + f) // 2 + 1, f = (n - 1) // 3, and takes effect at its "
            "declared height on every node at once."
        ),
    )
    actions = group.add_subparsers(dest="action", metavar="ACTION", required=True)

    propose = actions.add_parser(
        "propose",
        help="a validator proposes to add or remove a validator at a future height",
        description=(
            "The key's account (a validator) proposes a change; the proposal counts as its approval. The "
            "reason is stored only as a sha256 hash: keep the document itself off chain."
        ),
    )
    _add_signing(propose)
    change = propose.add_mutually_exclusive_group(required=True)
    change.add_argument("--add", metavar="PUBKEY_HEX", help="the validator public key to add (66 hex digits)")
    change.add_argument("--remove", metavar="PUBKEY_HEX", help="the validator public key to remove (66 hex digits)")
    when = propose.add_mutually_exclusive_group(required=True)
    when.add_argument("--at", type=int, metavar="HEIGHT", help="the first height at which the change is in force")
    when.add_argument(
        "--in",
        dest="blocks_ahead",
        type=int,
        metavar="BLOCKS",
        help=f"effective BLOCKS after the node's head (at least {MIN_BLOCKS_AHEAD})",
    )
    reason = propose.add_mutually_exclusive_group(required=True)
    reason.add_argument("--reason", metavar="TEXT", help="the reason; its sha256 goes on chain, never the text")
    reason.add_argument("--reason-hash", metavar="HEX", help="sha256 of the reason document (64 hex digits)")
    propose.set_defaults(run=run_propose)

    approve = actions.add_parser(
        "approve", help="a validator approves an open proposal", description="The key's account approves ID."
    )
    _add_signing(approve)
    approve.add_argument("--proposal", type=_proposal_id, required=True, metavar="ID", help="the proposal id")
    approve.set_defaults(run=run_approve)

    withdraw = actions.add_parser(
        "withdraw",
        help="the proposer withdraws its open proposal",
        description="The key's account withdraws ID, which it proposed and which has not passed.",
    )
    _add_signing(withdraw)
    withdraw.add_argument("--proposal", type=_proposal_id, required=True, metavar="ID", help="the proposal id")
    withdraw.set_defaults(run=run_withdraw)

    schedule = actions.add_parser(
        "schedule",
        help="the validators of the next height, scheduled changes and open proposals",
        description="The set in force at the next height, every scheduled change (applied or ahead) and every "
        "open proposal, as the node's committed state holds them.",
    )
    add_endpoint_argument(schedule)
    add_json_argument(schedule)
    schedule.add_argument(
        "--from-height", type=int, default=0, metavar="HEIGHT", help="list changes effective from HEIGHT on"
    )
    schedule.set_defaults(run=run_schedule)


def _parse_hex(text: str, length: int, what: str) -> bytes:
    digits = text[2:] if text[:2].lower() == "0x" else text
    try:
        value = bytes.fromhex(digits)
    except ValueError:
        value = b""
    if len(value) != length:
        raise CliError(f"{what} must be {2 * length} hex digits ({length} bytes), got {text!r}")
    return value


def _events(receipt: Any) -> dict[str, Any]:
    """What the receipt's governance events say: proposal id, approvals, the schedule entry it made."""
    from dcrm.client.transactions import decode_event
    from dcrm.v1 import governance_pb2

    found: dict[str, Any] = {}
    for event in receipt.events:
        message = decode_event(event)
        if isinstance(message, governance_pb2.ValidatorChangeProposed):
            found["proposal_id"] = message.proposal_id
            found["approvals"] = f"1 of {message.quorum}"
        elif isinstance(message, governance_pb2.ValidatorChangeApproved):
            found["proposal_id"] = message.proposal_id
            found["approvals"] = f"{message.approvals} of {message.quorum}"
        elif isinstance(message, governance_pb2.ValidatorChangeScheduled):
            found["scheduled"] = {
                "effective_height": message.effective_height,
                "validator_count": message.validator_count,
            }
        elif isinstance(message, governance_pb2.ProposalWithdrawn):
            found["withdrawn"] = message.proposal_id
    return found


def _details(receipt: Any) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """A successful receipt's JSON fields and readable rows: proposal id, approvals, the schedule entry."""
    found = _events(receipt)
    rows: list[tuple[str, str]] = []
    if "proposal_id" in found:
        rows.append(("proposal", str(found["proposal_id"])))
    if "approvals" in found:
        rows.append(("approvals", found["approvals"]))
    if "scheduled" in found:
        scheduled = found["scheduled"]
        rows.append(
            ("scheduled", f"from height {scheduled['effective_height']}: {scheduled['validator_count']} validators")
        )
    return found, rows


def _send(args: argparse.Namespace, method: int, message: Any) -> int:
    from dcrm.client.governance import MODULE_INDEX

    return submit(args, MODULE_INDEX, method, message, _details)


def _effective_height(args: argparse.Namespace) -> int:
    if args.at is not None:
        if args.at < 1:
            raise CliError(f"--at must be a height from 1, got {args.at}")
        return int(args.at)
    if args.blocks_ahead < MIN_BLOCKS_AHEAD:
        raise CliError(f"--in must be at least {MIN_BLOCKS_AHEAD} blocks, got {args.blocks_ahead}")
    from dcrm.client import Client

    with Client(args.endpoint, credentials=channel_credentials(args)) as client:
        return int(client.status().height) + int(args.blocks_ahead)


def run_propose(args: argparse.Namespace) -> int:
    from dcrm.client.governance import CHANGE_KINDS, PROPOSE, PUBLIC_KEY_LENGTH
    from dcrm.client.keys import sha256
    from dcrm.v1 import governance_pb2

    change = "add" if args.add is not None else "remove"
    public_key = _parse_hex(args.add or args.remove, PUBLIC_KEY_LENGTH, f"--{change}")
    reason_hash = (
        sha256(args.reason.encode()) if args.reason is not None else _parse_hex(args.reason_hash, 32, "--reason-hash")
    )
    message = governance_pb2.Propose(
        kind=CHANGE_KINDS[change],
        public_key=public_key,
        effective_height=_effective_height(args),
        reason_hash=reason_hash,
    )
    return _send(args, PROPOSE, message)


def run_approve(args: argparse.Namespace) -> int:
    from dcrm.client.governance import APPROVE
    from dcrm.v1 import governance_pb2

    return _send(args, APPROVE, governance_pb2.Approve(proposal_id=args.proposal))


def run_withdraw(args: argparse.Namespace) -> int:
    from dcrm.client.governance import WITHDRAW
    from dcrm.v1 import governance_pb2

    return _send(args, WITHDRAW, governance_pb2.Withdraw(proposal_id=args.proposal))


def _kind_name(kind: int) -> str:
    from dcrm.client.governance import CHANGE_KINDS

    return next((name for name, value in CHANGE_KINDS.items() if value == kind), str(kind))


def run_schedule(args: argparse.Namespace) -> int:
    from dcrm.client import Client
    from dcrm.v1 import governance_pb2

    if args.from_height < 0:
        raise CliError(f"--from-height must be at least 0, got {args.from_height}")
    with Client(args.endpoint, credentials=channel_credentials(args)) as client:
        head = client.status().height
        governance = client.governance
        validators = governance.validators_at(head + 1)
        entries = list(governance.iter_schedule(from_height=args.from_height))
        proposals: list[governance_pb2.Proposal] = []
        page = governance.proposals()
        proposals.extend(page.proposals)
        while page.more and page.proposals:
            page = governance.proposals(from_proposal_id=page.proposals[-1].proposal_id + 1)
            proposals.extend(page.proposals)
    if args.json:
        print_json(
            {
                "head": head,
                "validators": {
                    "height": head + 1,
                    "since_height": validators.since_height,
                    "quorum": validators.quorum,
                    "max_faulty": validators.max_faulty,
                    "public_keys": [key.hex() for key in validators.public_keys],
                },
                "changes": [
                    {
                        "proposal_id": entry.change.proposal_id,
                        "kind": _kind_name(entry.change.kind),
                        "public_key": entry.change.public_key.hex(),
                        "effective_height": entry.change.effective_height,
                        "applied": entry.applied,
                        "scheduled_at": entry.change.scheduled_at,
                        "approvals": len(entry.change.approvals),
                    }
                    for entry in entries
                ],
                "proposals": [
                    {
                        "proposal_id": proposal.proposal_id,
                        "kind": _kind_name(proposal.kind),
                        "public_key": proposal.public_key.hex(),
                        "effective_height": proposal.effective_height,
                        "proposer": proposal.proposer.hex(),
                        "approvals": len(proposal.approvals),
                    }
                    for proposal in proposals
                ],
            }
        )
        return 0
    since = validators.since_height or "genesis"
    rows = [
        ("head", str(head)),
        (
            f"validators at {head + 1}",
            f"{len(validators.public_keys)} (since {since}; quorum {validators.quorum}, "
            f"tolerates {validators.max_faulty} faulty)",
        ),
    ]
    rows.extend(("", key.hex()) for key in validators.public_keys)
    for entry in entries:
        change = entry.change
        state = "applied" if entry.applied else "scheduled"
        what = f"{_kind_name(change.kind)} {change.public_key.hex()} at {change.effective_height} ({state})"
        rows.append((f"change {change.proposal_id}", what))
    for proposal in proposals:
        what = (
            f"{_kind_name(proposal.kind)} {proposal.public_key.hex()} at {proposal.effective_height} "
            f"({len(proposal.approvals)} approvals, open)"
        )
        rows.append((f"proposal {proposal.proposal_id}", what))
    print_table(rows)
    return 0
