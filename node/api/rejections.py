"""Where every refusal goes: a counter by reason, and an INFO line that a flood cannot multiply.

The log is sampled by a token bucket (`[log] rejection_lines_per_second`, burst of the same size): past
the budget, lines are only counted, and the next line written carries `suppressed=N`, how many were left
out since the previous one. So a client hammering the node writes at most that many lines per second,
and the counter `dcrm_admission_rejections_total{reason}` still sees every refusal.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from dcrm.node.limits import TokenBucket
from dcrm.node.metrics import NodeMetrics

__all__ = ["Rejections", "SampledLog"]

log = logging.getLogger("dcrm.node.rejections")


class SampledLog:
    """INFO lines at most `per_second` per second; the others are counted and reported with the next line."""

    def __init__(self, logger: logging.Logger, per_second: int, clock: Callable[[], float] = time.monotonic) -> None:
        self._logger = logger
        self._clock = clock
        self._bucket = TokenBucket(per_second, max(1, per_second), max(1, per_second), clock())
        self._enabled = per_second > 0
        self._lock = threading.Lock()
        self.suppressed = 0

    def info(self, message: str, *args: object, extra: dict[str, object]) -> bool:
        """Write the line if the budget allows; True when it was written."""
        if not self._logger.isEnabledFor(logging.INFO):
            return False
        with self._lock:
            if not self._enabled or not self._bucket.take(self._clock()):
                self.suppressed += 1
                return False
            suppressed, self.suppressed = self.suppressed, 0
        if suppressed:
            extra = {**extra, "suppressed": suppressed}
        self._logger.info(message, *args, extra=extra)
        return True


class Rejections:
    """Counts a refusal by reason and logs it (sampled). Shared by admission and the API guard."""

    def __init__(self, metrics: NodeMetrics | None, lines: SampledLog) -> None:
        self._metrics = metrics
        self._lines = lines

    def record(self, reason: str, message: str, **fields: object) -> None:
        if self._metrics is not None:
            self._metrics.rejected(reason)
        self._lines.info("refused (%s): %s", reason, message, extra={"reason": reason, **fields})
