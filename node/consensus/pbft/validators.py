"""Validator sets and the schedule that names the set in force at each height.

The core asks the schedule for the set of every height it works on, so a governance change effective at a
declared height switches membership, leader rotation and quorum size at that height and no other.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Iterable, Sequence
from typing import Protocol

__all__ = ["ScheduleTable", "ValidatorSchedule", "ValidatorSet", "quorum_size"]


def quorum_size(size: int) -> int:
    """Votes a quorum needs among `size` validators tolerating f = (size - 1) // 3 faults.

    The smallest q with 2q - size >= f + 1: any two quorums share an honest validator. It is 2f + 1 when
    size = 3f + 1, and never more than size - f, so the honest validators alone always form a quorum.
    """
    if size < 1:
        raise ValueError(f"a validator set has at least one member, got {size}")
    faulty = (size - 1) // 3
    return (size + faulty) // 2 + 1


class ValidatorSet:
    """The ordered validators of one height: leader rotation follows this order."""

    __slots__ = ("_members", "_positions", "max_faulty", "quorum")

    def __init__(self, members: Iterable[bytes]) -> None:
        """Raises ValueError when `members` is empty or names an account twice."""
        self._members = tuple(members)
        self._positions = {account: index for index, account in enumerate(self._members)}
        if len(self._positions) != len(self._members):
            raise ValueError("a validator set names each account once")
        self.quorum = quorum_size(len(self._members))
        self.max_faulty = (len(self._members) - 1) // 3

    @property
    def members(self) -> tuple[bytes, ...]:
        return self._members

    def __len__(self) -> int:
        return len(self._members)

    def __contains__(self, account: object) -> bool:
        return account in self._positions

    def leader(self, height: int, view: int) -> bytes:
        """The proposer of (height, view): rotation by height spreads load, by view skips a faulty leader."""
        return self._members[(height + view) % len(self._members)]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ValidatorSet) and self._members == other._members

    def __hash__(self) -> int:
        return hash(self._members)

    def __repr__(self) -> str:
        return f"ValidatorSet({[account.hex()[:8] for account in self._members]})"


class ValidatorSchedule(Protocol):
    """Which validator set decides each height. Must answer for the next height once its parent committed."""

    def validators_at(self, height: int) -> ValidatorSet: ...


class ScheduleTable:
    """A fixed schedule: each set is in force from its first height until the next set's first height."""

    def __init__(self, changes: Sequence[tuple[int, ValidatorSet]]) -> None:
        """Raises ValueError unless the first change starts at height 0 or 1 and heights strictly increase."""
        if not changes or changes[0][0] > 1:
            raise ValueError("the schedule must name the validators from the first block on")
        heights = [height for height, _ in changes]
        if any(later <= earlier for earlier, later in itertools.pairwise(heights)):
            raise ValueError("change heights must strictly increase")
        self._heights = heights
        self._sets = [validators for _, validators in changes]

    @classmethod
    def constant(cls, validators: ValidatorSet) -> ScheduleTable:
        return cls([(0, validators)])

    def validators_at(self, height: int) -> ValidatorSet:
        index = bisect.bisect_right(self._heights, height) - 1
        return self._sets[max(index, 0)]
