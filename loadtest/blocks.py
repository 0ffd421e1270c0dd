"""A StreamBlocks follower: the one place load tools learn what was committed, and when.

Throughput and latency are measured from the blocks a node streams, never from submissions: a transaction
a node admitted but never committed does not count.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import grpc

from dcrm.client import Client, DcrmError
from dcrm.client.transactions import transaction_hash

__all__ = ["BlockArrival", "BlockFollower"]

POLL_SECONDS = 0.02


@dataclass(frozen=True)
class BlockArrival:
    """One committed block as the follower saw it: when (follower clock), its height and transaction count."""

    time: float
    height: int
    transactions: int


class BlockFollower:
    """Follows committed blocks from `from_height` on, in a background thread.

    `arrivals` maps each committed transaction's hash to the time its block arrived, on `clock` (the system
    -wide `time.monotonic` by default, so other processes on this machine can compare their own timestamps).
    `blocks` lists every block seen. `target` is an endpoint or several (failover order).
    """

    def __init__(
        self,
        target: str | Sequence[str],
        from_height: int,
        *,
        credentials: grpc.ChannelCredentials | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.arrivals: dict[bytes, float] = {}
        self.blocks: list[BlockArrival] = []
        self._clock = clock
        self._client = Client(target, credentials=credentials, timeout=30)
        self._stop = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._follow, args=(from_height,), name="block-follower", daemon=True)
        self._thread.start()

    def _follow(self, from_height: int) -> None:
        try:
            for response in self._client.blocks(from_height):
                now = self._clock()
                hashes = [transaction_hash(tx) for tx in response.block.transactions]
                for tx_hash in hashes:
                    self.arrivals[tx_hash] = now
                self.blocks.append(BlockArrival(now, response.height, len(hashes)))
                if self._stop.is_set():
                    return
        except (DcrmError, ValueError) as error:  # ValueError: the client was closed under the stream
            if not self._stop.is_set():
                self._error = error

    def _raise_if_failed(self) -> None:
        if self._error is not None:
            raise RuntimeError(f"the block stream failed: {self._error}") from self._error

    @property
    def height(self) -> int:
        """The height of the last block seen (0 before the first)."""
        return self.blocks[-1].height if self.blocks else 0

    def missing(self, hashes: Iterable[bytes]) -> int:
        """How many of `hashes` have not been seen in a block yet."""
        return sum(tx_hash not in self.arrivals for tx_hash in hashes)

    def wait_until_committed(self, hashes: Sequence[bytes], deadline_seconds: float) -> int:
        """Wait until every one of `hashes` was seen in a block, at most `deadline_seconds`; returns how many
        were still missing then. Raises RuntimeError when the stream failed."""
        deadline = time.monotonic() + deadline_seconds
        pending = [tx_hash for tx_hash in hashes if tx_hash not in self.arrivals]
        while pending:
            self._raise_if_failed()
            if time.monotonic() >= deadline:
                break
            time.sleep(POLL_SECONDS)
            pending = [tx_hash for tx_hash in pending if tx_hash not in self.arrivals]
        return len(pending)

    def wait_for(self, hashes: Sequence[bytes], deadline_seconds: float) -> None:
        """Wait until every one of `hashes` was seen in a block. Raises TimeoutError after the deadline."""
        missing = self.wait_until_committed(hashes, deadline_seconds)
        if missing:
            raise TimeoutError(f"{missing} transactions not committed within {deadline_seconds:.0f} s")

    def wait_for_height(self, height: int, deadline_seconds: float) -> bool:
        """Wait until a block at `height` or above was seen; False when the deadline passed first."""
        deadline = time.monotonic() + deadline_seconds
        while self.height < height:
            self._raise_if_failed()
            if time.monotonic() >= deadline:
                return False
            time.sleep(POLL_SECONDS)
        return True

    def close(self) -> None:
        """Stop following and close the stream."""
        self._stop.set()
        self._client.close()
        self._thread.join(timeout=5)
