"""The validator schedule: Runtime.validators_at, the switch at the effective height, composition, expiry."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from dcrm.runtime import STATE_PREFIX, QueryError
from dcrm.runtime.errors import ErrorKind
from dcrm.runtime.modules.governance.proposals import expire_due
from dcrm.runtime.state.kv import KVStore, MemoryKV
from dcrm.runtime.state.overlay import Overlay
from dcrm.runtime.state.prefixed import PrefixedReader
from dcrm.v1 import governance_pb2
from tests.support.governance_chain import (
    ADD,
    CANDIDATES,
    NEWCOMER,
    REMOVE,
    V0,
    V1,
    V2,
    V3,
    VALIDATORS,
    GovernanceChain,
    Kind,
    assert_noop,
    events_named,
    governance_genesis,
)

GENESIS_KEYS = [key.public_key for key in VALIDATORS]


def pass_proposal(chain: GovernanceChain, proposal_id: int) -> governance_pb2.ValidatorChangeScheduled:
    """Approve with V1 and V2 (with V0's proposal: 3 of 4) in one block; returns the Scheduled event."""
    result = chain.block([chain.sign(key, governance_pb2.Approve(proposal_id=proposal_id)) for key in (V1, V2)])
    assert all(receipt.success for receipt in result.receipts), result.receipts
    (scheduled,) = events_named(result, "ValidatorChangeScheduled", governance_pb2.ValidatorChangeScheduled)
    return scheduled


def schedule(chain: GovernanceChain, kind: Kind, public_key: bytes, **where: int) -> int:
    """V0 proposes, V1 and V2 approve: the change is scheduled. Returns its effective height."""
    proposal_id = chain.propose(V0, kind, public_key, **where)
    return pass_proposal(chain, proposal_id).effective_height


# --- the switch ------------------------------------------------------------------------------------------


def test_the_set_switches_exactly_at_the_effective_height(store: KVStore) -> None:
    chain = GovernanceChain(store)
    effective = schedule(chain, ADD, NEWCOMER.public_key, lead=6)
    new_keys = [*GENESIS_KEYS, NEWCOMER.public_key]
    assert chain.validators_at(effective - 1) == GENESIS_KEYS
    assert chain.validators_at(effective) == new_keys
    assert chain.validators_at(effective + 1_000) == new_keys
    chain.run_to_block(effective - 1)
    assert events_named(chain.last, "ValidatorSetChanged", governance_pb2.ValidatorSetChanged, block_events=True) == []
    assert not chain.schedule().entries[0].applied

    result = chain.block([])
    assert chain.height == effective
    (changed,) = events_named(result, "ValidatorSetChanged", governance_pb2.ValidatorSetChanged, block_events=True)
    assert changed.height == effective
    assert list(changed.public_keys) == new_keys
    assert list(changed.proposal_ids) == [1]
    assert (changed.quorum, changed.max_faulty) == (4, 1)  # n = 5
    listed = chain.schedule()
    assert listed.in_force_since == effective
    assert listed.entries[0].applied
    # History stays answerable after the switch.
    assert chain.validators_at(effective - 1) == GENESIS_KEYS
    assert chain.validators_at(0) == GENESIS_KEYS


def test_the_new_set_governs_from_its_first_block(store: KVStore) -> None:
    chain = GovernanceChain(store)
    effective = schedule(chain, REMOVE, V3.public_key, lead=5)
    chain.run_to_block(effective - 2)
    # Block effective - 1: V3 is still a validator.
    last_chance = chain.propose(V3, ADD, CANDIDATES[1].public_key, lead=30)
    # Block effective: it no longer is, and the quorum of the three is 2.
    refused = chain.call(V3, chain.propose_args(ADD, CANDIDATES[2].public_key))
    assert refused.error.name == "NotValidator"
    assert chain.height == effective
    assert chain.proposal(last_chance).quorum == 2
    assert chain.proposal(last_chance).approvals == 0  # V3's own approval no longer counts
    result = chain.block([chain.sign(key, governance_pb2.Approve(proposal_id=last_chance)) for key in (V0, V1)])
    assert len(events_named(result, "ValidatorChangeScheduled", governance_pb2.ValidatorChangeScheduled)) == 1


def test_an_added_validator_acts_from_the_effective_height(store: KVStore) -> None:
    chain = GovernanceChain(store)
    effective = schedule(chain, ADD, NEWCOMER.public_key, lead=4)
    chain.run_to_block(effective - 1)
    proposal_id = chain.propose(NEWCOMER, ADD, CANDIDATES[1].public_key)  # in block `effective`
    assert chain.proposal(proposal_id).quorum == 4


def test_changes_at_one_height_apply_in_proposal_id_order(store: KVStore) -> None:
    chain = GovernanceChain(store)
    effective = chain.height + 1 + 20
    first = chain.propose(V0, ADD, CANDIDATES[0].public_key, effective_height=effective)
    second = chain.propose(V0, ADD, CANDIDATES[1].public_key, effective_height=effective)
    pass_proposal(chain, second)  # scheduled first, applied second
    assert chain.validators_at(effective) == [*GENESIS_KEYS, CANDIDATES[1].public_key]
    scheduled = pass_proposal(chain, first)
    assert scheduled.validator_count == 6
    assert chain.validators_at(effective) == [*GENESIS_KEYS, CANDIDATES[0].public_key, CANDIDATES[1].public_key]
    chain.run_to_block(effective)
    (changed,) = events_named(chain.last, "ValidatorSetChanged", governance_pb2.ValidatorSetChanged, block_events=True)
    assert list(changed.proposal_ids) == [first, second]


def test_removing_and_re_adding_moves_a_validator_to_the_end_of_the_rotation(store: KVStore) -> None:
    chain = GovernanceChain(store)
    effective = chain.height + 1 + 20
    schedule(chain, REMOVE, V1.public_key, effective_height=effective)
    schedule(chain, ADD, V1.public_key, effective_height=effective)
    assert chain.validators_at(effective) == [V0.public_key, V2.public_key, V3.public_key, V1.public_key]


def test_an_earlier_change_rebases_the_later_sets(store: KVStore) -> None:
    chain = GovernanceChain(store)
    later = schedule(chain, ADD, CANDIDATES[0].public_key, lead=30)
    earlier = schedule(chain, ADD, CANDIDATES[1].public_key, lead=10)
    assert earlier < later
    assert chain.validators_at(earlier) == [*GENESIS_KEYS, CANDIDATES[1].public_key]
    assert chain.validators_at(later) == [*GENESIS_KEYS, CANDIDATES[1].public_key, CANDIDATES[0].public_key]
    heights = [entry.change.effective_height for entry in chain.schedule().entries]
    assert heights == [earlier, later]


def test_a_change_that_breaks_a_later_one_is_refused(store: KVStore) -> None:
    chain = GovernanceChain(store)
    later = schedule(chain, REMOVE, V3.public_key, lead=30)
    # Removing V3 earlier passes the proposal-time check (V3 is a member then) but breaks proposal 1.
    early = chain.propose(V0, REMOVE, V3.public_key, lead=10)
    assert chain.approve(V1, early).success
    receipt = assert_noop(chain, V2, governance_pb2.Approve(proposal_id=early), "ScheduleConflict")
    assert f"conflicts with proposal 1 scheduled at height {later}" in receipt.error.message
    assert "is not a validator" in receipt.error.message
    assert chain.proposal(early).approvals == 2  # still open: it may be withdrawn or expire


def test_a_change_that_no_longer_applies_when_it_passes_is_refused(store: KVStore) -> None:
    chain = GovernanceChain(store)
    effective = chain.height + 1 + 20
    first = chain.propose(V0, ADD, NEWCOMER.public_key, effective_height=effective)
    second = chain.propose(V1, ADD, NEWCOMER.public_key, effective_height=effective + 1)
    pass_proposal(chain, first)
    assert chain.approve(V0, second).success
    assert_noop(chain, V2, governance_pb2.Approve(proposal_id=second), "AlreadyMember")


def test_shrinking_below_four_is_allowed_down_to_one(store: KVStore) -> None:
    chain = GovernanceChain(store, governance_genesis([V0, V1]))
    proposal_id = chain.propose(V0, REMOVE, V1.public_key, lead=3)
    receipt = chain.approve(V1, proposal_id)  # n = 2: q = 2
    (scheduled,) = [event for event in receipt.events if event.name == "ValidatorChangeScheduled"]
    assert governance_pb2.ValidatorChangeScheduled.FromString(scheduled.data).validator_count == 1
    chain.run_to_block(chain.height + 3)
    assert chain.validators_at(chain.height) == [V0.public_key]
    assert_noop(chain, V0, chain.propose_args(REMOVE, V0.public_key), "LastValidator")


# --- Runtime.validators_at -----------------------------------------------------------------------------


def test_validators_at_follows_every_switch_and_keeps_history(store: KVStore) -> None:
    chain = GovernanceChain(store)
    assert chain.validators_at(0) == chain.harness.runtime.validators(store) == GENESIS_KEYS
    first = schedule(chain, ADD, NEWCOMER.public_key, lead=4)
    second = schedule(chain, REMOVE, V0.public_key, lead=8)
    chain.run_to_block(second + 2)
    expected = {
        first - 1: GENESIS_KEYS,
        first: [*GENESIS_KEYS, NEWCOMER.public_key],
        second - 1: [*GENESIS_KEYS, NEWCOMER.public_key],
        second: [V1.public_key, V2.public_key, V3.public_key, NEWCOMER.public_key],
        second + 50: [V1.public_key, V2.public_key, V3.public_key, NEWCOMER.public_key],
    }
    for height, keys in expected.items():
        assert chain.validators_at(height) == keys, height
    assert chain.harness.runtime.validators(store) == GENESIS_KEYS  # the genesis set is unchanged
    for height in range(chain.height + 3):
        answer = chain.query(
            "validators_at", governance_pb2.ValidatorsAtQuery(height=height), governance_pb2.ValidatorsAtResult
        )
        assert list(answer.public_keys) == chain.validators_at(height)
        assert answer.since_height == (second if height >= second else first if height >= first else 0)
        assert answer.quorum == (3 if len(answer.public_keys) == 4 else 4)


def test_the_answer_for_the_next_two_heights_is_final(store: KVStore) -> None:
    chain = GovernanceChain(store)
    # The earliest change a block can schedule takes effect 2 blocks later.
    assert_noop(chain, V0, chain.propose_args(ADD, NEWCOMER.public_key, lead=1), "BadEffectiveHeight")
    head = chain.height
    before = {height: chain.validators_at(height) for height in (head + 1, head + 2)}
    propose = chain.propose_args(ADD, NEWCOMER.public_key, lead=2)
    approve = governance_pb2.Approve(proposal_id=1)
    result = chain.block([chain.sign(V0, propose), chain.sign(V1, approve), chain.sign(V2, approve)])
    (scheduled,) = events_named(result, "ValidatorChangeScheduled", governance_pb2.ValidatorChangeScheduled)
    assert scheduled.effective_height == head + 3
    assert all(chain.validators_at(height) == keys for height, keys in before.items())
    assert chain.validators_at(head + 3) == [*GENESIS_KEYS, NEWCOMER.public_key]


# --- expiry --------------------------------------------------------------------------------------------


def test_a_proposal_expires_at_the_end_of_its_last_useful_block(store: KVStore) -> None:
    chain = GovernanceChain(store)
    proposal_id = chain.propose(V0, ADD, NEWCOMER.public_key, lead=6)
    effective = chain.proposal(proposal_id).proposal.effective_height
    chain.run_to_block(effective - 3)
    receipt = chain.approve(V1, proposal_id)  # block effective - 2: the last that may pass it
    assert receipt.success
    (expired,) = events_named(chain.last, "ProposalExpired", governance_pb2.ProposalExpired, block_events=True)
    assert (expired.proposal_id, expired.effective_height, expired.approvals) == (proposal_id, effective, 2)
    with pytest.raises(QueryError) as caught:
        chain.proposal(proposal_id)
    assert caught.value.kind is ErrorKind.NOT_FOUND
    assert [key for key, _ in store.iterate(STATE_PREFIX + b"governance/expiry/")] == []
    assert [key for key, _ in store.iterate(STATE_PREFIX + b"governance/open/")] == []
    assert chain.validators_at(effective) == GENESIS_KEYS


def test_a_proposal_passed_in_its_last_block_does_not_expire(store: KVStore) -> None:
    chain = GovernanceChain(store)
    proposal_id = chain.propose(V0, ADD, NEWCOMER.public_key, lead=3)  # effective at its block + 3
    scheduled = pass_proposal(chain, proposal_id)
    assert chain.height == scheduled.effective_height - 2
    assert events_named(chain.last, "ProposalExpired", governance_pb2.ProposalExpired, block_events=True) == []


class CountingKV(MemoryKV):
    """Counts the items range reads hand out."""

    read = 0

    def iterate(self, prefix: bytes, start: bytes = b"") -> Iterator[tuple[bytes, bytes]]:
        for item in super().iterate(prefix, start):
            self.read += 1
            yield item


def test_the_expiry_sweep_reads_only_what_is_due(store: KVStore) -> None:
    chain = GovernanceChain(store)
    keys = [key.public_key for key in CANDIDATES]
    txs = [chain.sign(signer, chain.propose_args(ADD, key, lead=90)) for signer in VALIDATORS for key in keys]
    result = chain.block(txs)
    assert all(receipt.success for receipt in result.receipts)
    last_chance = chain.height + 88
    counting = CountingKV(dict(store.iterate(b"")))
    state = Overlay(PrefixedReader(counting, STATE_PREFIX))
    assert expire_due(state, last_chance - 1) == []
    assert counting.read == 1  # the first index entry, which is not due yet
    counting.read = 0
    events = expire_due(state, last_chance)
    assert [event.proposal_id for event in events] == list(range(1, len(txs) + 1))
    assert counting.read == len(txs)


# --- the schedule query --------------------------------------------------------------------------------


def test_schedule_pages_by_height_then_proposal_id(store: KVStore) -> None:
    chain = GovernanceChain(store)
    effective = chain.height + 1 + 30
    for candidate in CANDIDATES:
        schedule(chain, ADD, candidate.public_key, effective_height=effective)
    later = schedule(chain, REMOVE, V3.public_key, effective_height=effective + 1)
    listed = chain.schedule()
    order = [(entry.change.effective_height, entry.change.proposal_id) for entry in listed.entries]
    assert order == [(effective, 1), (effective, 2), (effective, 3), (later, 4)]
    assert not listed.more
    page = chain.schedule(limit=2)
    assert ([entry.change.proposal_id for entry in page.entries], page.more) == ([1, 2], True)
    page = chain.schedule(from_height=effective, from_proposal_id=3, limit=2)
    assert ([entry.change.proposal_id for entry in page.entries], page.more) == ([3, 4], False)
    assert [entry.change.proposal_id for entry in chain.schedule(from_height=later).entries] == [4]
