"""The governance module's calls: quorum, permissions, every error path, on both backends."""

from __future__ import annotations

import pytest

from dcrm.node.consensus.pbft.validators import quorum_size as consensus_quorum_size
from dcrm.runtime import QueryError
from dcrm.runtime.errors import DispatchError, ErrorDef, ErrorKind, Rejection, TxRejected
from dcrm.runtime.modules.governance import errors, quorum_size
from dcrm.runtime.modules.governance.calls import MAX_OPEN_PROPOSALS, check_proposal_id, check_propose
from dcrm.runtime.state.kv import KVStore
from dcrm.v1 import governance_pb2
from tests.support.governance_chain import (
    ADD,
    CANDIDATES,
    NEWCOMER,
    OUTSIDER,
    REASON,
    REMOVE,
    V0,
    V1,
    V2,
    V3,
    VALIDATORS,
    GovernanceChain,
    assert_noop,
    governance_genesis,
)
from tests.support.runtime_harness import deterministic_key


def test_quorum_rule_is_the_consensus_cores() -> None:
    assert [quorum_size(n) for n in range(1, 11)] == [1, 2, 2, 3, 4, 4, 5, 6, 6, 7]
    assert all(quorum_size(n) == consensus_quorum_size(n) for n in range(1, 301))
    with pytest.raises(ValueError, match="at least one member"):
        quorum_size(0)


# --- the quorum ------------------------------------------------------------------------------------------


def test_four_validators_schedule_at_the_third_approval_and_not_before(store: KVStore) -> None:
    chain = GovernanceChain(store)
    receipt = chain.ok(V0, chain.propose_args(ADD, NEWCOMER.public_key, lead=20))
    assert [event.name for event in receipt.events] == ["ValidatorChangeProposed"]
    proposed = governance_pb2.ValidatorChangeProposed.FromString(receipt.events[0].data)
    assert (proposed.proposal_id, proposed.kind, proposed.public_key) == (1, ADD, NEWCOMER.public_key)
    assert (proposed.proposer, proposed.reason_hash, proposed.quorum) == (V0.account_id, REASON, 3)
    effective = proposed.effective_height

    second = chain.approve(V1, 1)
    assert second.success
    assert [event.name for event in second.events] == ["ValidatorChangeApproved"]
    approved = governance_pb2.ValidatorChangeApproved.FromString(second.events[0].data)
    assert (approved.proposal_id, approved.approver, approved.approvals, approved.quorum) == (1, V1.account_id, 2, 3)
    pending = chain.proposal(1)
    assert (pending.approvals, pending.quorum) == (2, 3)
    assert list(pending.proposal.approvals) == [V0.account_id, V1.account_id]
    assert chain.schedule().entries == []

    third = chain.approve(V2, 1)
    assert [event.name for event in third.events] == ["ValidatorChangeApproved", "ValidatorChangeScheduled"]
    scheduled = governance_pb2.ValidatorChangeScheduled.FromString(third.events[1].data)
    assert (scheduled.proposal_id, scheduled.effective_height, scheduled.approvals) == (1, effective, 3)
    assert scheduled.validator_count == 5
    with pytest.raises(QueryError) as caught:
        chain.proposal(1)
    assert caught.value.kind is ErrorKind.NOT_FOUND
    (entry,) = chain.schedule().entries
    assert not entry.applied
    assert (entry.change.proposal_id, entry.change.scheduled_at) == (1, chain.height)
    assert list(entry.change.approvals) == [V0.account_id, V1.account_id, V2.account_id]
    assert chain.validators_at(effective) == [key.public_key for key in VALIDATORS] + [NEWCOMER.public_key]


@pytest.mark.parametrize("size", [1, 2, 3, 5, 7])
def test_scheduled_exactly_at_the_quorum_of_any_size(store: KVStore, size: int) -> None:
    validators = [deterministic_key(1000 + index) for index in range(size)]
    chain = GovernanceChain(store, governance_genesis(validators))
    needed = quorum_size(size)
    receipt = chain.ok(validators[0], chain.propose_args(ADD, NEWCOMER.public_key))
    scheduled_after = 1 if "ValidatorChangeScheduled" in [event.name for event in receipt.events] else None
    for approvals, key in enumerate(validators[1:], start=2):
        if scheduled_after is not None:
            break
        receipt = chain.approve(key, 1)
        assert receipt.success
        if "ValidatorChangeScheduled" in [event.name for event in receipt.events]:
            scheduled_after = approvals
    assert scheduled_after == needed


def test_approvals_of_accounts_that_left_the_set_no_longer_count(store: KVStore) -> None:
    chain = GovernanceChain(store)
    # V3 approves proposal 1, then leaves the set: proposal 1 is back to V0's approval alone.
    first = chain.propose(V0, ADD, NEWCOMER.public_key, lead=30)
    assert chain.approve(V3, first).success
    removal = chain.propose(V1, REMOVE, V3.public_key, lead=4)
    assert chain.approve(V0, removal).success
    assert chain.approve(V2, removal).success
    chain.run_to_block(chain.height + 2)
    assert V3.public_key not in chain.validators_at(chain.height)
    pending = chain.proposal(first)
    assert (pending.approvals, pending.quorum) == (1, 2)  # n = 3: q = 2
    receipt = chain.approve(V1, first)
    approved = governance_pb2.ValidatorChangeApproved.FromString(receipt.events[0].data)
    assert (approved.approvals, approved.quorum) == (2, 2)
    scheduled = governance_pb2.ValidatorChangeScheduled.FromString(receipt.events[1].data)
    assert scheduled.approvals == 2
    (entry, _removal) = sorted(chain.schedule().entries, key=lambda item: item.change.proposal_id)
    assert list(entry.change.approvals) == [V0.account_id, V1.account_id]  # V3's is not among them


# --- permissions ---------------------------------------------------------------------------------------


def test_non_validators_cannot_propose(store: KVStore) -> None:
    chain = GovernanceChain(store)
    receipt = assert_noop(chain, OUTSIDER, chain.propose_args(ADD, NEWCOMER.public_key), "NotValidator")
    assert OUTSIDER.account_id.hex() in receipt.error.message
    assert "governance.propose" in receipt.error.message


def test_non_validators_cannot_approve(store: KVStore) -> None:
    chain = GovernanceChain(store)
    proposal_id = chain.propose(V0, ADD, NEWCOMER.public_key)
    assert_noop(chain, OUTSIDER, governance_pb2.Approve(proposal_id=proposal_id), "NotValidator")


def test_a_scheduled_validator_acts_only_from_its_effective_height(store: KVStore) -> None:
    chain = GovernanceChain(store)
    proposal_id = chain.propose(V0, ADD, NEWCOMER.public_key, lead=5)
    chain.approve(V1, proposal_id)
    chain.approve(V2, proposal_id)
    effective = chain.schedule().entries[0].change.effective_height
    other = chain.propose(V0, ADD, CANDIDATES[1].public_key, lead=40)
    assert_noop(chain, NEWCOMER, governance_pb2.Approve(proposal_id=other), "NotValidator")
    chain.run_to_block(effective - 1)
    assert chain.approve(NEWCOMER, other).success  # runs in block `effective`


def test_only_the_proposer_withdraws(store: KVStore) -> None:
    chain = GovernanceChain(store)
    proposal_id = chain.propose(V0, ADD, NEWCOMER.public_key)
    receipt = assert_noop(chain, V1, governance_pb2.Withdraw(proposal_id=proposal_id), "NotProposer")
    assert V0.account_id.hex() in receipt.error.message
    assert receipt.error.module == errors.INDEX


# --- approve -----------------------------------------------------------------------------------------------


def test_double_approval_is_rejected(store: KVStore) -> None:
    chain = GovernanceChain(store)
    proposal_id = chain.propose(V0, ADD, NEWCOMER.public_key)
    assert chain.approve(V1, proposal_id).success
    assert_noop(chain, V1, governance_pb2.Approve(proposal_id=proposal_id), "AlreadyApproved")
    # The proposal counts as the proposer's approval.
    assert_noop(chain, V0, governance_pb2.Approve(proposal_id=proposal_id), "AlreadyApproved")
    assert chain.proposal(proposal_id).approvals == 2


def test_two_approvals_in_one_block_from_one_validator(store: KVStore) -> None:
    chain = GovernanceChain(store)
    proposal_id = chain.propose(V0, ADD, NEWCOMER.public_key)
    approve = governance_pb2.Approve(proposal_id=proposal_id)
    result = chain.block([chain.sign(V1, approve), chain.sign(V1, approve)])
    assert [receipt.success for receipt in result.receipts] == [True, False]
    assert result.receipts[1].error.name == "AlreadyApproved"


def test_approving_an_unknown_or_closed_proposal(store: KVStore) -> None:
    chain = GovernanceChain(store)
    receipt = assert_noop(chain, V1, governance_pb2.Approve(proposal_id=7), "UnknownProposal")
    assert "proposal 7 is not open" in receipt.error.message
    proposal_id = chain.propose(V0, ADD, NEWCOMER.public_key)
    chain.approve(V1, proposal_id)
    chain.approve(V2, proposal_id)  # scheduled: closed
    assert_noop(chain, V3, governance_pb2.Approve(proposal_id=proposal_id), "UnknownProposal")
    assert_noop(chain, V0, governance_pb2.Withdraw(proposal_id=proposal_id), "UnknownProposal")


# --- withdraw ----------------------------------------------------------------------------------------------


def test_withdraw_closes_the_proposal_and_frees_its_place(store: KVStore) -> None:
    chain = GovernanceChain(store)
    proposal_id = chain.propose(V0, REMOVE, V3.public_key)
    chain.approve(V1, proposal_id)
    receipt = chain.withdraw(V0, proposal_id)
    assert receipt.success
    withdrawn = governance_pb2.ProposalWithdrawn.FromString(receipt.events[0].data)
    assert (withdrawn.proposal_id, withdrawn.proposer) == (proposal_id, V0.account_id)
    assert_noop(chain, V2, governance_pb2.Approve(proposal_id=proposal_id), "UnknownProposal")
    assert_noop(chain, V0, governance_pb2.Withdraw(proposal_id=proposal_id), "UnknownProposal")
    keys = [key for key, _value in store.iterate(b"Sgovernance/")]
    assert all(
        not key.startswith((b"Sgovernance/proposal/", b"Sgovernance/expiry/", b"Sgovernance/open/")) for key in keys
    )
    assert chain.validators_at(chain.height + 100) == [key.public_key for key in VALIDATORS]


# --- propose -----------------------------------------------------------------------------------------------


def test_effective_height_bounds(store: KVStore) -> None:
    max_lead = 50
    config = {"max_lead": max_lead, "proposal_count": 0, "proposals": [], "changes": []}
    chain = GovernanceChain(store, governance_genesis(config=config))
    for lead in (0, 1, max_lead + 1):
        args = chain.propose_args(ADD, NEWCOMER.public_key, lead=lead)
        receipt = assert_noop(chain, V0, args, "BadEffectiveHeight")
        block = chain.height
        assert f"must be from {block + 2} to {block + max_lead}" in receipt.error.message
    for lead in (2, max_lead):
        assert chain.call(V0, chain.propose_args(ADD, NEWCOMER.public_key, lead=lead)).success


def test_adding_a_member_or_removing_a_stranger_is_refused(store: KVStore) -> None:
    chain = GovernanceChain(store)
    receipt = assert_noop(chain, V0, chain.propose_args(ADD, V2.public_key), "AlreadyMember")
    assert V2.public_key.hex() in receipt.error.message
    assert_noop(chain, V0, chain.propose_args(REMOVE, NEWCOMER.public_key), "NotMember")


def test_the_check_sees_changes_scheduled_before_the_effective_height(store: KVStore) -> None:
    chain = GovernanceChain(store)
    proposal_id = chain.propose(V0, ADD, NEWCOMER.public_key, lead=10)
    chain.approve(V1, proposal_id)
    chain.approve(V2, proposal_id)
    effective = chain.schedule().entries[0].change.effective_height
    assert_noop(
        chain, V0, chain.propose_args(ADD, NEWCOMER.public_key, effective_height=effective + 5), "AlreadyMember"
    )
    # Before the addition takes effect the key is no member: removing it there is refused.
    assert_noop(chain, V0, chain.propose_args(REMOVE, NEWCOMER.public_key, effective_height=effective - 1), "NotMember")
    assert chain.call(V0, chain.propose_args(REMOVE, NEWCOMER.public_key, effective_height=effective)).success


def test_the_last_validator_cannot_be_removed(store: KVStore) -> None:
    chain = GovernanceChain(store, governance_genesis([V0]))
    receipt = assert_noop(chain, V0, chain.propose_args(REMOVE, V0.public_key), "LastValidator")
    assert "would leave no validator" in receipt.error.message


def test_open_proposals_per_proposer_are_bounded(store: KVStore) -> None:
    chain = GovernanceChain(store)
    keys = [deterministic_key(5000 + index) for index in range(MAX_OPEN_PROPOSALS + 1)]
    result = chain.block([chain.sign(V0, chain.propose_args(ADD, key.public_key, lead=50)) for key in keys[:-1]])
    assert all(receipt.success for receipt in result.receipts)
    receipt = assert_noop(chain, V0, chain.propose_args(ADD, keys[-1].public_key, lead=50), "TooManyProposals")
    assert str(MAX_OPEN_PROPOSALS) in receipt.error.message
    assert chain.call(V1, chain.propose_args(ADD, keys[-1].public_key, lead=50)).success  # the cap is per proposer
    assert chain.withdraw(V0, 1).success
    assert chain.call(V0, chain.propose_args(ADD, keys[-1].public_key, lead=50)).success


def test_proposal_ids_count_up(store: KVStore) -> None:
    chain = GovernanceChain(store)
    assert chain.propose(V0, ADD, CANDIDATES[0].public_key) == 1
    assert chain.propose(V1, ADD, CANDIDATES[1].public_key) == 2
    chain.withdraw(V0, 1)
    assert chain.propose(V0, ADD, CANDIDATES[2].public_key) == 3  # never reused
    listed = chain.query("proposals", governance_pb2.ProposalsQuery(), governance_pb2.ProposalsResult)
    assert [proposal.proposal_id for proposal in listed.proposals] == [2, 3]
    page = chain.query(
        "proposals", governance_pb2.ProposalsQuery(from_proposal_id=3, limit=1), governance_pb2.ProposalsResult
    )
    assert ([proposal.proposal_id for proposal in page.proposals], page.more) == ([3], False)
    first = chain.query("proposals", governance_pb2.ProposalsQuery(limit=1), governance_pb2.ProposalsResult)
    assert ([proposal.proposal_id for proposal in first.proposals], first.more) == ([2], True)


# --- argument checks (admission) ------------------------------------------------------------------------


def _expect(error: ErrorDef, check: object, args: object) -> str:
    with pytest.raises(DispatchError) as caught:
        check(args)  # type: ignore[operator]
    assert caught.value.error is error
    return caught.value.message


OFF_CURVE = bytes([2]) + bytes(32)  # x = 0 is no point of secp256k1


@pytest.mark.parametrize(
    ("change", "error", "words"),
    [
        ({"kind": 0}, errors.BAD_CHANGE_KIND, "kind must be CHANGE_KIND_ADD"),
        ({"kind": 3}, errors.BAD_CHANGE_KIND, "got 3"),
        ({"public_key": b""}, errors.BAD_PUBLIC_KEY, "got 0 bytes"),
        ({"public_key": V1.account_id}, errors.BAD_PUBLIC_KEY, "got 20 bytes"),
        ({"public_key": b"\x04" + V1.public_key[1:]}, errors.BAD_PUBLIC_KEY, "0x02 or 0x03"),
        ({"public_key": OFF_CURVE}, errors.BAD_PUBLIC_KEY, "curve"),
        ({"reason_hash": b""}, errors.BAD_REASON_HASH, "got 0"),
        ({"reason_hash": bytes(31)}, errors.BAD_REASON_HASH, "got 31"),
    ],
)
def test_propose_arguments(change: dict[str, object], error: ErrorDef, words: str) -> None:
    fields: dict[str, object] = {"kind": ADD, "public_key": NEWCOMER.public_key, "effective_height": 9}
    fields["reason_hash"] = REASON
    args = governance_pb2.Propose(**{**fields, **change})  # type: ignore[arg-type]
    assert words in _expect(error, check_propose, args)


def test_good_arguments_pass_the_checks() -> None:
    check_propose(governance_pb2.Propose(kind=REMOVE, public_key=V3.public_key, reason_hash=REASON))
    check_proposal_id(governance_pb2.Approve(proposal_id=1))


def test_proposal_id_zero_is_refused() -> None:
    assert "at least 1" in _expect(errors.BAD_PROPOSAL_ID, check_proposal_id, governance_pb2.Approve())
    _expect(errors.BAD_PROPOSAL_ID, check_proposal_id, governance_pb2.Withdraw())


def test_bad_arguments_never_enter_a_block(store: KVStore) -> None:
    chain = GovernanceChain(store)
    tx = chain.sign(V0, governance_pb2.Propose(kind=ADD, public_key=OFF_CURVE, effective_height=9, reason_hash=REASON))
    with pytest.raises(TxRejected) as caught:
        chain.harness.decode(tx)
    assert caught.value.reason is Rejection.BAD_ARGUMENTS
    assert caught.value.message.startswith("governance.propose: public_key")


def test_every_error_is_on_the_wire_enum() -> None:
    assert sorted(error.code for error in errors.ALL) == sorted(governance_pb2.Error.values())[1:]
    assert len({error.name for error in errors.ALL}) == len(errors.ALL)
    for error in errors.ALL:
        assert (error.module, error.module_index) == ("governance", 4)
