"""Validator sets, quorum sizes and the per-height schedule."""

from __future__ import annotations

import pytest

from dcrm.node.consensus.pbft import ScheduleTable, ValidatorSet, quorum_size


def test_quorum_is_two_f_plus_one_when_n_is_three_f_plus_one() -> None:
    assert {n: quorum_size(n) for n in (1, 4, 7, 10, 31)} == {1: 1, 4: 3, 7: 5, 10: 7, 31: 21}
    assert {n: quorum_size(n) for n in (2, 3, 5, 6)} == {2: 2, 3: 2, 5: 4, 6: 4}


@pytest.mark.parametrize("size", range(1, 60))
def test_two_quorums_share_an_honest_validator_and_the_honest_alone_are_one(size: int) -> None:
    faulty = (size - 1) // 3
    quorum = quorum_size(size)
    assert 2 * quorum - size >= faulty + 1
    assert quorum <= size - faulty


def test_leader_rotates_with_height_and_view() -> None:
    members = [bytes([i]) * 20 for i in range(4)]
    validators = ValidatorSet(members)
    assert [validators.leader(5, view) for view in range(4)] == [members[1], members[2], members[3], members[0]]
    assert validators.leader(6, 0) == validators.leader(5, 1)
    with pytest.raises(ValueError, match="once"):
        ValidatorSet([members[0], members[0]])


def test_schedule_switches_at_the_declared_height() -> None:
    four = ValidatorSet(bytes([i]) * 20 for i in range(4))
    seven = ValidatorSet(bytes([i]) * 20 for i in range(7))
    schedule = ScheduleTable([(0, four), (10, seven)])
    assert [schedule.validators_at(h).quorum for h in (1, 9, 10, 11, 1000)] == [3, 3, 5, 5, 5]
    with pytest.raises(ValueError, match="increase"):
        ScheduleTable([(0, four), (5, seven), (5, four)])
    with pytest.raises(ValueError, match="first block"):
        ScheduleTable([(3, four)])
