"""What the node needs from a consensus engine, whichever one runs (solo or PBFT)."""

from __future__ import annotations

from typing import Protocol

__all__ = ["ConsensusEngine"]


class ConsensusEngine(Protocol):
    """Orders pending transactions into committed blocks and imports them into the chain."""

    def start(self) -> None:
        """Begin producing or following blocks in the background."""
        ...

    def notify_transactions(self) -> None:
        """New transactions were admitted to the mempool."""
        ...

    def stop(self) -> None:
        """Finish the block being written, then stop. Idempotent."""
        ...
