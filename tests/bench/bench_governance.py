"""Benchmark: the governance module's calls applied through the runtime, and validators_at, on MemoryKV and LevelDB.

A genesis of `validators` validators (16 by default: quorum 11). Each validator proposes up to the cap of
16 open proposals, so one round is validators * 16 proposals, applied in one block:
- propose: a round of proposals, each adding a distinct new key at its own height;
- approve: rounds in which one more validator approves every proposal, below the quorum;
- approve + schedule: the round whose approvals reach the quorum, so every one schedules its change (and
  rebuilds the schedule from its height on; heights increase with proposal ids, so nothing later exists);
- withdraw: a second round of proposals, all withdrawn by their proposers.
validators_at is timed on the state with every change still ahead (the cost is the entries it walks from the
set in force), and again once all have taken effect.
Transactions are signed and decoded before the clock starts; a block's time is apply_block plus the write of
its result into the store.

    python -m tests.bench.bench_governance --validators 16
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any

from google.protobuf.message import Message

from dcrm.client.keys import SigningKey, sha256
from dcrm.runtime.modules.governance import quorum_size
from dcrm.runtime.modules.governance.calls import MAX_OPEN_PROPOSALS
from dcrm.runtime.modules.governance.errors import INDEX
from dcrm.v1 import governance_pb2, types_pb2
from tests.bench.blocks import apply_timed
from tests.support.governance_chain import ADD, CALL_INDEX
from tests.support.runtime_harness import GenesisBuilder, RuntimeHarness, kv_backend

__all__ = ["run"]

REASON = sha256(b"benchmark")
LEAD = 64  # the first change of a round takes effect this many blocks after its proposal block: after the
# quorum rounds (one block each), so no proposal expires first
LOOKUPS = 2_000


def _keys(count: int, base: int) -> list[SigningKey]:
    return [SigningKey((base + index).to_bytes(32, "big")) for index in range(count)]


class _Bench:
    def __init__(self, harness: RuntimeHarness) -> None:
        self.harness = harness

    def sign(self, key: SigningKey, args: Message) -> types_pb2.Transaction:
        return self.harness.sign(key, INDEX, CALL_INDEX[type(args)], args, valid_for=10_000)

    def apply(self, txs: list[types_pb2.Transaction]) -> tuple[float, list[types_pb2.Receipt]]:
        """Transactions per second of one block (apply + write) and its receipts; every call must succeed."""
        seconds, result = apply_timed(self.harness, [self.harness.decode(tx) for tx in txs])
        return len(txs) / seconds, result.receipts

    def lookup_us(self, height: int) -> float:
        """Microseconds per Runtime.validators_at(height) on the committed state."""
        runtime, store = self.harness.runtime, self.harness.store
        started = time.perf_counter()
        for _ in range(LOOKUPS):
            runtime.validators_at(store, height)
        return (time.perf_counter() - started) / LOOKUPS * 1e6

    def propose_round(self, validators: list[SigningKey], candidates: list[SigningKey]) -> tuple[float, list[int]]:
        """One proposal per candidate, validators taking turns; the i-th takes effect at block + LEAD + i."""
        block = self.harness.height + 1
        txs = [
            self.sign(
                validators[index % len(validators)],
                governance_pb2.Propose(
                    kind=ADD, public_key=key.public_key, effective_height=block + LEAD + index, reason_hash=REASON
                ),
            )
            for index, key in enumerate(candidates)
        ]
        rate, receipts = self.apply(txs)
        ids = [
            governance_pb2.ValidatorChangeProposed.FromString(receipt.events[0].data).proposal_id
            for receipt in receipts
        ]
        return rate, ids


def _rates(samples: list[float]) -> dict[str, int]:
    return {"tx_per_s_median": round(statistics.median(samples)), "tx_per_s_min": round(min(samples))}


def _figures(bench: _Bench, validators: list[SigningKey]) -> dict[str, Any]:
    count = len(validators) * MAX_OPEN_PROPOSALS
    quorum = quorum_size(len(validators))
    propose_rate, ids = bench.propose_round(validators, _keys(count, 500_000))
    proposers = {proposal_id: validators[index % len(validators)] for index, proposal_id in enumerate(ids)}

    def approvals(round_index: int) -> list[types_pb2.Transaction]:
        """Round r: the validator r places after each proposal's proposer approves it."""
        txs = []
        for proposal_id in ids:
            position = validators.index(proposers[proposal_id])
            approver = validators[(position + round_index) % len(validators)]
            txs.append(bench.sign(approver, governance_pb2.Approve(proposal_id=proposal_id)))
        return txs

    approve_rates = [bench.apply(approvals(round_index))[0] for round_index in range(1, quorum - 1)]
    head = bench.harness.height
    schedule_rate, receipts = bench.apply(approvals(quorum - 1))
    if not all(receipt.events[-1].name == "ValidatorChangeScheduled" for receipt in receipts):
        raise RuntimeError("the last round of approvals did not schedule every change")
    next_height_us = bench.lookup_us(head + 2)
    furthest = head + LEAD + count + 1
    furthest_us = bench.lookup_us(furthest)  # walks every entry ahead

    withdraw_rate_samples = []
    _rate, second = bench.propose_round(validators, _keys(count, 600_000))
    withdrawals = [
        bench.sign(proposers[first_id], governance_pb2.Withdraw(proposal_id=proposal_id))
        for first_id, proposal_id in zip(ids, second, strict=True)
    ]
    withdraw_rate_samples.append(bench.apply(withdrawals)[0])

    bench.harness.run_to_block(furthest)
    set_size = len(bench.harness.runtime.validators_at(bench.harness.store, furthest))
    if set_size != len(validators) + count:
        raise RuntimeError(f"{set_size} validators at height {furthest}, expected {len(validators) + count}")
    return {
        "proposals_per_round": count,
        "quorum": quorum,
        "propose": _rates([propose_rate]),
        "approve": _rates(approve_rates),
        "approve_and_schedule": _rates([schedule_rate]),
        "withdraw": _rates(withdraw_rate_samples),
        "changes_ahead": count,
        "validators_at_us_next_height": round(next_height_us, 1),
        "validators_at_us_past_all_changes_ahead": round(furthest_us, 1),
        "validators_at_us_after_all_applied": round(bench.lookup_us(furthest + 1), 1),
        "validators_at_us_history_midway": round(bench.lookup_us(head + LEAD + count // 2), 1),
    }


def run(validators: int = 16) -> dict[str, Any]:
    """Time the governance calls and validators_at with `validators` genesis validators, per backend."""
    if validators < 3:
        raise ValueError("need at least 3 validators, so that rounds of approvals stay below the quorum")
    keys = _keys(validators, 400_000)
    figures: dict[str, Any] = {"validators": validators}
    for backend in ("memory", "leveldb"):
        with kv_backend(backend) as store:
            bench = _Bench(RuntimeHarness(store, GenesisBuilder(validators=keys).build()))
            figures[backend] = _figures(bench, keys)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--validators", type=int, default=16)
    parser.add_argument("--out", type=Path, default=Path("bench-results"))
    options = parser.parse_args()
    figures = run(options.validators)
    options.out.mkdir(parents=True, exist_ok=True)
    (options.out / "governance.json").write_text(json.dumps(figures, indent=2))
    for backend in ("memory", "leveldb"):
        found = figures[backend]
        print(
            f"{backend:8} propose {found['propose']['tx_per_s_median']:>7,} tx/s   "
            f"approve {found['approve']['tx_per_s_median']:>7,} tx/s   "
            f"approve+schedule {found['approve_and_schedule']['tx_per_s_median']:>7,} tx/s   "
            f"withdraw {found['withdraw']['tx_per_s_median']:>7,} tx/s   "
            f"validators_at {found['validators_at_us_next_height']} us next height, "
            f"{found['validators_at_us_past_all_changes_ahead']} us past {found['changes_ahead']} changes ahead, "
            f"{found['validators_at_us_after_all_applied']} us once applied"
        )
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
