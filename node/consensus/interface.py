"""What the node needs from a consensus engine, whichever one runs (solo or PBFT)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from dcrm.runtime import SignedTransaction

__all__ = ["ConsensusEngine"]


class ConsensusEngine(Protocol):
    """Orders pending transactions into committed blocks and imports them into the chain."""

    def start(self) -> None:
        """Begin producing or following blocks in the background."""
        ...

    def notify_transactions(self, admitted: Sequence[SignedTransaction] = ()) -> None:
        """These transactions were just admitted to this node's mempool."""
        ...

    def peers(self) -> list[str]:
        """The peers this engine is connected to now."""
        ...

    def stop(self) -> None:
        """Finish the block being written, then stop. Idempotent."""
        ...
