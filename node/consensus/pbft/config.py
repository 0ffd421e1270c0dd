"""Settings of the consensus core, and the timeouts they imply."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ConsensusConfig"]


@dataclass(frozen=True, slots=True)
class ConsensusConfig:
    chain_id: str
    # A view that has not committed within this time is abandoned; each further view of the same height
    # waits twice as long, up to max_backoff times the base, so a slow network still gets its chance
    # but a dead leader never costs minutes.
    base_timeout_ms: int = 1000
    max_backoff: int = 8
    # While a height is undecided, own messages are sent again at this interval: the transport may drop
    # them and gossip never replays what a peer missed.
    retransmit_ms: int = 500
    # Messages of the next height that arrive early are kept (up to this many) and handled after commit.
    future_message_limit: int = 1024
    # Catch-up blocks beyond the next height are kept (up to this many) until their turn.
    future_block_limit: int = 64

    def __post_init__(self) -> None:
        if self.base_timeout_ms <= 0 or self.retransmit_ms <= 0:
            raise ValueError("timeouts must be positive")
        if self.max_backoff < 1:
            raise ValueError("max_backoff must be at least 1")

    def view_timeout_ms(self, view: int) -> int:
        """base * 2**view, capped at base * max_backoff."""
        backoff = 1 << min(view, self.max_backoff.bit_length())
        return self.base_timeout_ms * min(backoff, self.max_backoff)
