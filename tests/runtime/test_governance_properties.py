"""Random sequences of proposals, approvals and withdrawals against a plain-Python model of governance.

After every block, `Runtime.validators_at` must agree with the model for every height from genesis to past
the furthest effective height, every call must succeed or fail as the model says (with its error), the
open proposals must be the model's, and ValidatorSetChanged must fire exactly at the model's switch heights.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dcrm.client.keys import SigningKey, account_id_from_public_key
from dcrm.runtime.modules.governance import quorum_size
from dcrm.v1 import governance_pb2, types_pb2
from tests.support.governance_chain import (
    ADD,
    CANDIDATES,
    OUTSIDER,
    REMOVE,
    VALIDATORS,
    GovernanceChain,
    Kind,
    governance_genesis,
)
from tests.support.runtime_harness import kv_backend

MAX_LEAD = 8
KEYS: list[SigningKey] = [*VALIDATORS, *CANDIDATES]  # validators, or candidates to become one
SIGNERS: list[SigningKey] = [*KEYS, OUTSIDER]
CONFIG = {"max_lead": MAX_LEAD, "proposal_count": 0, "proposals": [], "changes": []}


@dataclass
class ModelProposal:
    kind: Kind
    key: bytes
    effective: int
    proposer: bytes
    approvals: list[bytes]


@dataclass
class Model:
    """Governance as the docs state it, computed the slow, obvious way."""

    genesis: list[bytes]
    changes: list[tuple[int, int, Kind, bytes]] = field(default_factory=list)  # (effective, id, kind, key)
    proposals: dict[int, ModelProposal] = field(default_factory=dict)
    count: int = 0

    @staticmethod
    def apply(members: list[bytes], kind: Kind, key: bytes) -> list[bytes] | str:
        if kind == ADD:
            return "AlreadyMember" if key in members else [*members, key]
        if key not in members:
            return "NotMember"
        return "LastValidator" if len(members) == 1 else [member for member in members if member != key]

    def set_at(self, height: int) -> list[bytes]:
        members = list(self.genesis)
        for effective, _id, kind, key in sorted(self.changes):
            if effective <= height:
                applied = self.apply(members, kind, key)
                assert isinstance(applied, list), "the model never stores a change that does not apply"
                members = applied
        return members

    def accounts_at(self, height: int) -> set[bytes]:
        return {account_id_from_public_key(key) for key in self.set_at(height)}

    def _schedule_if_quorum(self, proposal_id: int, height: int) -> str | None:
        validators = self.accounts_at(height)
        proposal = self.proposals[proposal_id]
        if sum(account in validators for account in proposal.approvals) < quorum_size(len(validators)):
            return None
        new = (proposal.effective, proposal_id, proposal.kind, proposal.key)
        members = list(self.genesis)
        for change in sorted([*self.changes, new]):
            applied = self.apply(members, change[2], change[3])
            if isinstance(applied, str):
                return applied if change == new else "ScheduleConflict"
            members = applied
        self.changes.append(new)
        del self.proposals[proposal_id]
        return None

    def propose(self, signer: bytes, kind: Kind, key: bytes, effective: int, height: int) -> str | None:
        if signer not in self.accounts_at(height):
            return "NotValidator"
        if not height + 2 <= effective <= height + MAX_LEAD:
            return "BadEffectiveHeight"
        early = self.apply(self.set_at(effective), kind, key)
        if isinstance(early, str):
            return early
        self.count += 1
        self.proposals[self.count] = ModelProposal(kind, key, effective, signer, [signer])
        return self._schedule_if_quorum(self.count, height)

    def approve(self, signer: bytes, proposal_id: int, height: int) -> str | None:
        if signer not in self.accounts_at(height):
            return "NotValidator"
        proposal = self.proposals.get(proposal_id)
        if proposal is None:
            return "UnknownProposal"
        if signer in proposal.approvals:
            return "AlreadyApproved"
        proposal.approvals.append(signer)
        return self._schedule_if_quorum(proposal_id, height)

    def withdraw(self, signer: bytes, proposal_id: int) -> str | None:
        proposal = self.proposals.get(proposal_id)
        if proposal is None:
            return "UnknownProposal"
        if proposal.proposer != signer:
            return "NotProposer"
        del self.proposals[proposal_id]
        return None

    def end_block(self, height: int) -> None:
        for proposal_id in [pid for pid, proposal in self.proposals.items() if proposal.effective - 2 <= height]:
            del self.proposals[proposal_id]


Action = tuple[str, int, Kind, int, int]  # (call, signer, kind, pick of key or proposal, lead)

# Mostly validators sign, mostly valid leads, mostly recent proposals: so that changes get scheduled, conflict
# and take effect, with the error paths mixed in.
actions = st.tuples(
    st.sampled_from(["propose", "propose", "approve", "approve", "approve", "approve", "approve", "withdraw"]),
    st.integers(0, 11),
    st.sampled_from([ADD, ADD, REMOVE]),
    st.integers(0, 9),
    st.sampled_from([2, 3, 4, 5, 6, 7, MAX_LEAD, 1, MAX_LEAD + 1]),
)
blocks = st.lists(st.lists(actions, max_size=4), min_size=1, max_size=25)


def _target(kind: Kind, pick: int) -> bytes:
    """Mostly a candidate to add or a genesis validator to remove; now and then the other way round."""
    genesis, candidates = KEYS[: len(VALIDATORS)], KEYS[len(VALIDATORS) :]
    likely, unlikely = (candidates, genesis) if kind == ADD else (genesis, candidates)
    return (likely[pick % len(likely)] if pick < 8 else unlikely[pick % len(unlikely)]).public_key


def _signer(model: Model, pick: int, height: int) -> SigningKey:
    """Mostly a validator of the set in force, now and then any key (candidates, the outsider)."""
    if pick >= 9:
        return SIGNERS[pick % len(SIGNERS)]
    members = model.set_at(height)
    return next(key for key in KEYS if key.public_key == members[pick % len(members)])


def _run_block(chain: GovernanceChain, model: Model, block: list[Action]) -> None:
    height = chain.height + 1
    txs: list[types_pb2.Transaction] = []
    expected: list[str | None] = []
    for call, signer_index, kind, pick, lead in block:
        signer = _signer(model, signer_index, height)
        before = copy.deepcopy(model)
        args: governance_pb2.Propose | governance_pb2.Approve | governance_pb2.Withdraw
        if call == "propose":
            key = _target(kind, pick)
            args = chain.propose_args(kind, key, effective_height=height + lead)
            outcome = model.propose(signer.account_id, kind, key, height + lead, height)
        else:
            # Mostly one of the latest open proposals; now and then one that is not open.
            open_ids = sorted(model.proposals)
            if pick >= 8 or not open_ids:
                proposal_id = model.count + 1 if pick % 2 else max(1, model.count)
            else:
                proposal_id = open_ids[-1 - pick % min(3, len(open_ids))]
            if call == "approve":
                args = governance_pb2.Approve(proposal_id=proposal_id)
                outcome = model.approve(signer.account_id, proposal_id, height)
            else:
                args = governance_pb2.Withdraw(proposal_id=proposal_id)
                outcome = model.withdraw(signer.account_id, proposal_id)
        if outcome is not None:  # a failed call changes nothing
            model.__dict__.update(before.__dict__)
        txs.append(chain.sign(signer, args))
        expected.append(outcome)
    result = chain.block(txs)
    model.end_block(height)
    got = [None if receipt.success else receipt.error.name for receipt in result.receipts]
    assert got == expected
    switched = [
        governance_pb2.ValidatorSetChanged.FromString(event.data)
        for event in result.block_events
        if event.name == "ValidatorSetChanged"
    ]
    switch_heights = {effective for effective, _id, _kind, _key in model.changes}
    assert [event.height for event in switched] == ([height] if height in switch_heights else [])
    if switched:
        assert list(switched[0].public_keys) == model.set_at(height)


def _check_state(chain: GovernanceChain, model: Model) -> None:
    for height in range(chain.height + MAX_LEAD + 3):
        assert chain.validators_at(height) == model.set_at(height), height
    listed = chain.query("proposals", governance_pb2.ProposalsQuery(), governance_pb2.ProposalsResult)
    assert {proposal.proposal_id: list(proposal.approvals) for proposal in listed.proposals} == {
        proposal_id: proposal.approvals for proposal_id, proposal in model.proposals.items()
    }
    scheduled = [(entry.change.effective_height, entry.change.proposal_id) for entry in chain.schedule().entries]
    assert scheduled == sorted((effective, proposal_id) for effective, proposal_id, _k, _key in model.changes)


@pytest.mark.parametrize("backend", ["memory", "leveldb"])
@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(size=st.sampled_from([1, 2, 4]), plan=blocks)
def test_validators_at_matches_the_model(backend: str, size: int, plan: list[list[Action]]) -> None:
    """Small genesis sets (q = 1 or 2) schedule often: conflicts and last-validator refusals show up."""
    with kv_backend(backend) as store:
        chain = GovernanceChain(store, governance_genesis(VALIDATORS[:size], config=dict(CONFIG)))
        model = Model([key.public_key for key in VALIDATORS[:size]])
        for block in plan:
            _run_block(chain, model, block)
            _check_state(chain, model)
        # Let every scheduled change take effect, and every proposal expire.
        for _ in range(MAX_LEAD + 1):
            _run_block(chain, model, [])
        _check_state(chain, model)
        assert model.proposals == {}
