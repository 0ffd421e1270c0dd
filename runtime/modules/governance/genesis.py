"""Governance module genesis: the max lead, and (normally none) open proposals and scheduled changes.

Every field is required and every list is sorted, so that `export(build(config)) == config` holds for
every config that builds. An exported chain carries its whole change history: rebuilt on the genesis set
of the system module (built first: it has the lower index), it gives the same validators at every height.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dcrm.runtime.errors import DispatchError
from dcrm.runtime.genesis import GenesisError, require_hex, require_int, require_keys, require_list
from dcrm.runtime.modules.governance.calls import HASH_LENGTH, MAX_OPEN_PROPOSALS, PUBLIC_KEY_LENGTH, is_public_key
from dcrm.runtime.modules.governance.proposals import MIN_LEAD, open_count, put_new_proposal
from dcrm.runtime.modules.governance.schedule import rebuild_from
from dcrm.runtime.modules.governance.storage import (
    CHANGES,
    PARAMS,
    PROPOSAL_COUNT,
    PROPOSALS,
    change_key,
)
from dcrm.runtime.modules.system.roles import ACCOUNT_LENGTH
from dcrm.runtime.state.kv import KVReader
from dcrm.runtime.state.overlay import Overlay
from dcrm.v1 import governance_pb2

FIELD = "modules.governance"
DEFAULT_MAX_LEAD = 100_000
MAX_MAX_LEAD = 10_000_000
DEFAULT_CONFIG: dict[str, Any] = {"max_lead": DEFAULT_MAX_LEAD, "proposal_count": 0, "proposals": [], "changes": []}

KIND_NAMES = {governance_pb2.CHANGE_KIND_ADD: "add", governance_pb2.CHANGE_KIND_REMOVE: "remove"}
KINDS_BY_NAME = {name: kind for kind, name in KIND_NAMES.items()}
COMMON_FIELDS = {"proposal_id", "kind", "public_key", "effective_height", "reason_hash", "proposer", "proposed_at"}
PROPOSAL_FIELDS = COMMON_FIELDS | {"approvals"}
CHANGE_FIELDS = COMMON_FIELDS | {"scheduled_at", "approvals"}
FIRST_BLOCK = 1


def build(state: Overlay, config: Mapping[str, Any]) -> None:
    require_keys(config, FIELD, required=set(DEFAULT_CONFIG))
    max_lead = require_int(config["max_lead"], f"{FIELD}.max_lead", minimum=MIN_LEAD, maximum=MAX_MAX_LEAD)
    PARAMS.put(state, governance_pb2.Params(max_lead=max_lead))
    count = require_int(config["proposal_count"], f"{FIELD}.proposal_count")
    PROPOSAL_COUNT.put(state, count)
    used_ids: set[int] = set()
    _build_proposals(state, config["proposals"], count, used_ids)
    _build_changes(state, config["changes"], count, used_ids)


def export(state: KVReader) -> dict[str, Any]:
    params = PARAMS.get(state) or governance_pb2.Params()
    proposals = []
    for _key, proposal in PROPOSALS.items(state):
        entry = _export_common(proposal)
        entry["approvals"] = [account.hex() for account in proposal.approvals]
        proposals.append(entry)
    changes = []
    for _key, change in CHANGES.items(state):
        entry = _export_common(change)
        entry["scheduled_at"] = change.scheduled_at
        entry["approvals"] = [account.hex() for account in change.approvals]
        changes.append(entry)
    return {
        "max_lead": params.max_lead,
        "proposal_count": PROPOSAL_COUNT.get(state) or 0,
        "proposals": proposals,
        "changes": changes,
    }


def _export_common(record: governance_pb2.Proposal | governance_pb2.ScheduledChange) -> dict[str, Any]:
    return {
        "proposal_id": record.proposal_id,
        "kind": KIND_NAMES[record.kind],
        "public_key": record.public_key.hex(),
        "effective_height": record.effective_height,
        "reason_hash": record.reason_hash.hex(),
        "proposer": record.proposer.hex(),
        "proposed_at": record.proposed_at,
    }


def _parse_common(value: Any, field: str, count: int, used_ids: set[int]) -> dict[str, Any]:
    """The fields proposals and changes share, checked; the proposal id must be new and at most `count`."""
    proposal_id = require_int(value["proposal_id"], f"{field}.proposal_id", minimum=1)
    if proposal_id > count or proposal_id in used_ids:
        raise GenesisError(f"{field}.proposal_id", f"expected a unique id from 1 to proposal_count {count}")
    used_ids.add(proposal_id)
    kind = KINDS_BY_NAME.get(value["kind"]) if isinstance(value["kind"], str) else None
    if kind is None:
        raise GenesisError(f"{field}.kind", 'expected "add" or "remove"')
    public_key = require_hex(value["public_key"], f"{field}.public_key", PUBLIC_KEY_LENGTH)
    if not is_public_key(public_key):
        raise GenesisError(f"{field}.public_key", "expected a compressed secp256k1 public key on the curve")
    return {
        "proposal_id": proposal_id,
        "kind": kind,
        "public_key": public_key,
        "effective_height": require_int(value["effective_height"], f"{field}.effective_height", minimum=FIRST_BLOCK),
        "reason_hash": require_hex(value["reason_hash"], f"{field}.reason_hash", HASH_LENGTH),
        "proposer": require_hex(value["proposer"], f"{field}.proposer", ACCOUNT_LENGTH),
        "proposed_at": require_int(value["proposed_at"], f"{field}.proposed_at"),
    }


def _parse_approvals(value: Any, field: str) -> list[bytes]:
    approvals = [
        require_hex(item, f"{field}[{position}]", ACCOUNT_LENGTH)
        for position, item in enumerate(require_list(value, field))
    ]
    if len(set(approvals)) != len(approvals):
        raise GenesisError(field, "an account approves at most once")
    return approvals


def _build_proposals(state: Overlay, value: Any, count: int, used_ids: set[int]) -> None:
    previous = 0
    for position, item in enumerate(require_list(value, f"{FIELD}.proposals")):
        field = f"{FIELD}.proposals[{position}]"
        require_keys(item, field, required=PROPOSAL_FIELDS)
        proposal = governance_pb2.Proposal(**_parse_common(item, field, count, used_ids))
        if proposal.proposal_id <= previous:
            raise GenesisError(f"{field}.proposal_id", "proposals must be sorted by proposal_id")
        previous = proposal.proposal_id
        # Open at genesis means approvable in block 1, whose changes take effect at 1 + MIN_LEAD or later.
        if proposal.effective_height < FIRST_BLOCK + MIN_LEAD:
            raise GenesisError(f"{field}.effective_height", f"an open proposal needs at least {FIRST_BLOCK + MIN_LEAD}")
        proposal.approvals.extend(_parse_approvals(item["approvals"], f"{field}.approvals"))
        if not proposal.approvals or proposal.approvals[0] != proposal.proposer:
            raise GenesisError(f"{field}.approvals", "the proposer's approval comes first")
        if open_count(state, proposal.proposer) >= MAX_OPEN_PROPOSALS:
            raise GenesisError(field, f"the proposer has more than {MAX_OPEN_PROPOSALS} open proposals")
        put_new_proposal(state, proposal)


def _build_changes(state: Overlay, value: Any, count: int, used_ids: set[int]) -> None:
    previous = (0, 0)
    for position, item in enumerate(require_list(value, f"{FIELD}.changes")):
        field = f"{FIELD}.changes[{position}]"
        require_keys(item, field, required=CHANGE_FIELDS)
        change = governance_pb2.ScheduledChange(
            **_parse_common(item, field, count, used_ids),
            scheduled_at=require_int(item["scheduled_at"], f"{field}.scheduled_at"),
        )
        change.approvals.extend(_parse_approvals(item["approvals"], f"{field}.approvals"))
        order = (change.effective_height, change.proposal_id)
        if order <= previous:
            raise GenesisError(field, "changes must be sorted by effective_height, then proposal_id")
        previous = order
        CHANGES.put(state, change_key(change.effective_height, change.proposal_id), change)
    try:
        rebuild_from(state, FIRST_BLOCK)
    except DispatchError as error:
        raise GenesisError(f"{FIELD}.changes", f"do not apply to the genesis validators: {error.message}") from None
