"""Governance genesis: defaults, every rule with its field, export(build(g)) == g, exported history."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from dcrm.runtime import GenesisError, Runtime
from dcrm.runtime.modules import default_modules
from dcrm.runtime.modules.governance.calls import MAX_OPEN_PROPOSALS
from dcrm.runtime.state.kv import KVStore, MemoryKV
from dcrm.v1 import governance_pb2
from tests.support.governance_chain import (
    ADD,
    CANDIDATES,
    NEWCOMER,
    REASON,
    REMOVE,
    V0,
    V1,
    V2,
    V3,
    VALIDATORS,
    GovernanceChain,
    events_named,
    governance_genesis,
)
from tests.support.runtime_harness import RuntimeHarness, deterministic_key

DEFAULT = {"max_lead": 100_000, "proposal_count": 0, "proposals": [], "changes": []}


def populated() -> dict[str, Any]:
    """Two open proposals and two scheduled changes (one at height 5, one at 40)."""
    return {
        "max_lead": 500,
        "proposal_count": 6,
        "proposals": [
            {
                "proposal_id": 2,
                "kind": "add",
                "public_key": CANDIDATES[1].public_key.hex(),
                "effective_height": 30,
                "reason_hash": REASON.hex(),
                "proposer": V1.account_id.hex(),
                "proposed_at": 0,
                "approvals": [V1.account_id.hex(), V2.account_id.hex()],
            },
            {
                "proposal_id": 6,
                "kind": "remove",
                "public_key": V2.public_key.hex(),
                "effective_height": 3,
                "reason_hash": REASON.hex(),
                "proposer": V0.account_id.hex(),
                "proposed_at": 0,
                "approvals": [V0.account_id.hex()],
            },
        ],
        "changes": [
            {
                "proposal_id": 4,
                "kind": "add",
                "public_key": NEWCOMER.public_key.hex(),
                "effective_height": 5,
                "reason_hash": REASON.hex(),
                "proposer": V0.account_id.hex(),
                "proposed_at": 0,
                "scheduled_at": 0,
                "approvals": [V0.account_id.hex(), V1.account_id.hex(), V3.account_id.hex()],
            },
            {
                "proposal_id": 1,
                "kind": "remove",
                "public_key": V3.public_key.hex(),
                "effective_height": 40,
                "reason_hash": REASON.hex(),
                "proposer": V2.account_id.hex(),
                "proposed_at": 0,
                "scheduled_at": 0,
                "approvals": [V2.account_id.hex(), V0.account_id.hex(), V1.account_id.hex()],
            },
        ],
    }


def exported(harness: RuntimeHarness) -> dict[str, Any]:
    return dict(harness.runtime.export_genesis(harness.store).modules["governance"])


def test_default_round_trip(store: KVStore) -> None:
    harness = RuntimeHarness(store, governance_genesis().build())
    assert exported(harness) == DEFAULT


def test_populated_round_trip_and_state(store: KVStore) -> None:
    config = populated()
    chain = GovernanceChain(store, governance_genesis(config=config))
    assert exported(chain.harness) == config
    genesis_keys = [key.public_key for key in VALIDATORS]
    assert chain.validators_at(4) == genesis_keys
    assert chain.validators_at(5) == [*genesis_keys, NEWCOMER.public_key]
    assert chain.validators_at(40) == [V0.public_key, V1.public_key, V2.public_key, NEWCOMER.public_key]
    # The open proposals work as if made on chain: ids continue after proposal_count.
    assert chain.proposal(2).approvals == 2
    receipt = chain.approve(V0, 2)
    assert [event.name for event in receipt.events] == ["ValidatorChangeApproved", "ValidatorChangeScheduled"]
    # Proposal 6 (effective at 3) could pass in block 1 only: it expired at that block's end.
    (expired,) = events_named(chain.last, "ProposalExpired", governance_pb2.ProposalExpired, block_events=True)
    assert expired.proposal_id == 6
    assert chain.propose(V0, ADD, CANDIDATES[2].public_key) == 7
    listed = chain.query("proposals", governance_pb2.ProposalsQuery(), governance_pb2.ProposalsResult)
    assert [proposal.proposal_id for proposal in listed.proposals] == [7]


def test_an_exported_chain_rebuilds_with_the_same_schedule(store: KVStore) -> None:
    chain = GovernanceChain(store)
    first = chain.propose(V0, ADD, NEWCOMER.public_key, lead=3)
    chain.block([chain.sign(key, governance_pb2.Approve(proposal_id=first)) for key in (V1, V2)])
    second = chain.propose(V1, REMOVE, V0.public_key, lead=20)
    # Block 4, where the newcomer has joined: 4 of the 5 must approve.
    chain.block([chain.sign(key, governance_pb2.Approve(proposal_id=second)) for key in (V2, V3, NEWCOMER)])
    chain.propose(V2, ADD, CANDIDATES[1].public_key, lead=50)  # stays open
    chain.run_to_block(chain.height + 5)  # the first change is applied, the second still ahead
    document = chain.harness.runtime.export_genesis(store)
    rebuilt = RuntimeHarness(MemoryKV(), document)
    assert rebuilt.runtime.export_genesis(rebuilt.store) == document
    for height in range(chain.height + 30):
        assert rebuilt.runtime.validators_at(rebuilt.store, height) == chain.validators_at(height), height
    changes = document.modules["governance"]["changes"]
    assert [change["proposal_id"] for change in changes] == [first, second]
    assert [proposal["proposal_id"] for proposal in document.modules["governance"]["proposals"]] == [3]


def _genesis_error(config: dict[str, Any]) -> GenesisError:
    genesis = governance_genesis(config=config).build()
    with pytest.raises(GenesisError) as caught:
        Runtime(genesis.chain_id, default_modules()).build_genesis(genesis)
    return caught.value


def _with(path: str, value: Any) -> dict[str, Any]:
    """populated() with the value at a dotted path (list positions as numbers) replaced; None deletes."""
    config = copy.deepcopy(populated())
    *parents, last = path.split(".")
    target: Any = config
    for part in parents:
        target = target[int(part)] if isinstance(target, list) else target[part]
    if value is None:
        del target[last]
    else:
        target[last] = value
    return config


@pytest.mark.parametrize(
    ("path", "value", "field", "words"),
    [
        ("max_lead", None, "modules.governance.max_lead", "is required"),
        ("extra", 1, "modules.governance.extra", "not a known field"),
        ("max_lead", 1, "modules.governance.max_lead", "from 2 to 10000000"),
        ("max_lead", 10_000_001, "modules.governance.max_lead", "from 2 to 10000000"),
        ("proposal_count", 5, "modules.governance.proposals[1].proposal_id", "from 1 to proposal_count 5"),
        ("proposals.1.proposal_id", 2, "modules.governance.proposals[1].proposal_id", "unique id"),
        ("changes.0.proposal_id", 6, "modules.governance.changes[0].proposal_id", "unique id"),
        ("proposals.0.proposal_id", 4, "modules.governance.changes[0].proposal_id", "unique id"),
        ("proposals.0.kind", "replace", "modules.governance.proposals[0].kind", '"add" or "remove"'),
        ("proposals.0.kind", 1, "modules.governance.proposals[0].kind", '"add" or "remove"'),
        ("proposals.0.public_key", "02" + "00" * 32, "modules.governance.proposals[0].public_key", "on the curve"),
        ("proposals.0.public_key", "ab", "modules.governance.proposals[0].public_key", "66 hex digits"),
        ("proposals.0.reason_hash", "00", "modules.governance.proposals[0].reason_hash", "64 hex digits"),
        ("proposals.0.proposer", "00", "modules.governance.proposals[0].proposer", "40 hex digits"),
        ("proposals.1.effective_height", 2, "modules.governance.proposals[1].effective_height", "at least 3"),
        ("proposals.0.approvals", [], "modules.governance.proposals[0].approvals", "proposer's approval comes first"),
        ("proposals.0.approvals", [V2.account_id.hex()], "modules.governance.proposals[0].approvals", "first"),
        (
            "proposals.0.approvals",
            [V1.account_id.hex(), V1.account_id.hex()],
            "modules.governance.proposals[0].approvals",
            "at most once",
        ),
        ("changes.0.effective_height", 0, "modules.governance.changes[0].effective_height", "from 1 to"),
        ("changes.0.effective_height", 41, "modules.governance.changes[1]", "sorted by effective_height"),
        ("changes.1.public_key", CANDIDATES[2].public_key.hex(), "modules.governance.changes", "is not a validator"),
        ("changes.0.kind", "remove", "modules.governance.changes", "is not a validator at height 5"),
        ("changes.1.scheduled_at", -1, "modules.governance.changes[1].scheduled_at", "integer"),
    ],
)
def test_invalid_configs_name_their_field(path: str, value: Any, field: str, words: str) -> None:
    error = _genesis_error(_with(path, value))
    assert error.field == field
    assert words in str(error)


def test_proposals_must_be_sorted() -> None:
    config = populated()
    config["proposals"].reverse()
    assert _genesis_error(config).field == "modules.governance.proposals[1].proposal_id"


def test_the_open_proposal_cap_holds_at_genesis() -> None:
    count = MAX_OPEN_PROPOSALS + 1
    proposals = [
        {
            "proposal_id": index + 1,
            "kind": "add",
            "public_key": deterministic_key(7000 + index).public_key.hex(),
            "effective_height": 100,
            "reason_hash": REASON.hex(),
            "proposer": V0.account_id.hex(),
            "proposed_at": 0,
            "approvals": [V0.account_id.hex()],
        }
        for index in range(count)
    ]
    error = _genesis_error({**DEFAULT, "proposal_count": count, "proposals": proposals})
    assert error.field == f"modules.governance.proposals[{count - 1}]"
    assert f"more than {MAX_OPEN_PROPOSALS}" in str(error)


def test_removing_the_last_validator_is_refused_at_genesis() -> None:
    change = populated()["changes"][1] | {"public_key": V0.public_key.hex(), "effective_height": 9}
    genesis = governance_genesis([V0], config={**DEFAULT, "proposal_count": 1, "changes": [change]}).build()
    with pytest.raises(GenesisError, match="would leave no validator at height 9") as caught:
        Runtime(genesis.chain_id, default_modules()).build_genesis(genesis)
    assert caught.value.field == "modules.governance.changes"


def test_the_section_is_required() -> None:
    genesis = governance_genesis().build()
    modules = {name: config for name, config in genesis.modules.items() if name != "governance"}
    stripped = type(genesis)(genesis.chain_id, genesis.timestamp_ms, modules)
    with pytest.raises(GenesisError) as caught:
        Runtime(genesis.chain_id, default_modules()).build_genesis(stripped)
    assert caught.value.field == "modules.governance"
