"""The validator schedule the PBFT core asks for, read from committed chain state."""

from __future__ import annotations

from dcrm.node.chain import Chain
from dcrm.node.consensus.pbft.signing import account_id
from dcrm.node.consensus.pbft.validators import ValidatorSet

__all__ = ["ChainSchedule"]


class ChainSchedule:
    """validators_at(h): the set the runtime says governs height h (genesis set, or a governance change).

    The core asks for height h once h - 1 is committed, so the committed state already holds every change
    effective at h (governance schedules them at least two heights ahead).
    """

    def __init__(self, chain: Chain) -> None:
        self._chain = chain
        self._cache: dict[int, ValidatorSet] = {}

    def validators_at(self, height: int) -> ValidatorSet:
        cached = self._cache.get(height)
        if cached is not None:
            return cached
        validators = ValidatorSet(account_id(key) for key in self.public_keys_at(height))
        if height <= self._chain.head.height + 2:  # final: later governance changes cannot reach it
            if len(self._cache) > 256:
                self._cache.clear()
            self._cache[height] = validators
        return validators

    def public_keys_at(self, height: int) -> list[bytes]:
        runtime = self._chain.runtime
        return runtime.validators_at(self._chain.kv, height)
