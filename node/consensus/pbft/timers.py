"""Timer names. A timer belongs to one (height, view): when it fires late, the core sees that it is stale."""

from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = ["TimerKey", "TimerKind"]


class TimerKind(enum.Enum):
    VIEW_TIMEOUT = "view-timeout"  # the view made no decision in time: move to the next view
    RETRANSMIT = "retransmit"  # resend own messages, ask for catch-up if others are ahead


@dataclass(frozen=True, slots=True)
class TimerKey:
    kind: TimerKind
    height: int
    view: int
