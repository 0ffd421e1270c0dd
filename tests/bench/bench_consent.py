"""Benchmark: the consent module's grant and withdraw applied through the runtime, its expiry hook, and the
check query through `Runtime.query`, on MemoryKV and LevelDB.

- grant: blocks of direct grants, one per subject (each record covers 2 purposes x 3 data categories, so it
  writes 6 check-index and 6 history-index entries besides the record, its listings and its expiry entry);
- withdraw: blocks withdrawing those records (each deletes its 6 check-index entries);
- expire: one block whose end hook expires records that fall due together (at most the module's default cap per block);
- check: queries through `runtime.query` (decode, handler, encode) against committed state: allowed answers
  (one index seek and one record read), denied answers (one seek), and answers for a past moment.
Every subject is a DID of the identity genesis, so each grant and withdrawal also resolves its subject and
controller through the identity module. Transactions are signed and decoded before the clock starts; a block's
time is apply_block plus the write of its result into the store.

    python -m tests.bench.bench_consent --blocks 3 --block-size 2000 --checks 20000
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any

from dcrm.client.keys import SigningKey
from dcrm.runtime.modules.consent.errors import INDEX
from dcrm.runtime.modules.consent.records import DEFAULT_MAX_EXPIRIES_PER_BLOCK, record_id_for
from dcrm.runtime.modules.identity.did import derive_did
from dcrm.v1 import consent_pb2, types_pb2
from tests.bench.blocks import NonceSigner, apply_timed
from tests.support.consent_chain import ACME, CALL_INDEX, DAY_MS, consent_genesis, make_terms
from tests.support.identity import genesis_did, identity_genesis
from tests.support.runtime_harness import BLOCK_TIME_MS, GENESIS_TIME_MS, GenesisBuilder, RuntimeHarness, kv_backend

__all__ = ["run"]

PURPOSES = ("newsletter", "offers")
CATEGORIES = ("email", "name", "purchases")


SUBJECT_SALT = b"bench"


def _subjects(count: int) -> list[tuple[SigningKey, str]]:
    keys = [SigningKey((500_000 + index).to_bytes(32, "big")) for index in range(count)]
    return [(key, derive_did(key.account_id, SUBJECT_SALT)) for key in keys]


def _genesis(subjects: list[tuple[SigningKey, str]]) -> GenesisBuilder:
    """The consent test genesis, with a DID per subject in the identity genesis."""
    builder = consent_genesis()
    dids = builder.modules["identity"]["dids"] + [
        genesis_did(key, SUBJECT_SALT, GENESIS_TIME_MS) for key, _ in subjects
    ]
    builder.modules["identity"] = identity_genesis(dids)
    return builder


class _Bench(NonceSigner):
    def __init__(self, harness: RuntimeHarness) -> None:
        super().__init__(harness, INDEX, CALL_INDEX)

    def apply(self, txs: list[types_pb2.Transaction], *, timestamp_ms: int | None = None) -> tuple[float, int]:
        """Seconds to apply and write one block (every call must succeed), and the block events it emitted."""
        decoded = [self.harness.decode(tx) for tx in txs]
        seconds, result = apply_timed(self.harness, decoded, timestamp_ms=timestamp_ms)
        return seconds, len(result.block_events)


def _rates(count: int, seconds: list[float]) -> dict[str, int]:
    return {
        "per_s_median": round(count / statistics.median(seconds)),
        "per_s_min": round(count / max(seconds)),
    }


def _grant(bench: _Bench, subject: tuple[SigningKey, str], ref: bytes, valid_until_ms: int) -> types_pb2.Transaction:
    key, did = subject
    args = consent_pb2.GrantConsent(
        client_ref=ref,
        subject=did,
        controller=ACME,
        terms=make_terms(PURPOSES, CATEGORIES),
        valid_until_ms=valid_until_ms,
    )
    return bench.sign(key, args)


def _backend_figures(bench: _Bench, blocks: int, block_size: int, checks: int) -> dict[str, Any]:
    subjects = _subjects(block_size)  # the DIDs of the genesis
    far = bench.harness.timestamp_ms + 365 * DAY_MS
    grants = [
        bench.apply([_grant(bench, subject, b"round-%d" % block, far) for subject in subjects])[0]
        for block in range(blocks)
    ]
    live_check_from = bench.harness.timestamp_ms
    withdraws = [
        bench.apply(
            [
                bench.sign(
                    key, consent_pb2.WithdrawConsent(record_id=record_id_for(key.account_id, b"round-%d" % block))
                )
                for key, _ in subjects
            ]
        )[0]
        for block in range(blocks - 1)  # the last round stays given, for the checks
    ]
    figures: dict[str, Any] = {
        "grant": _rates(block_size, grants),
        "withdraw": _rates(block_size, withdraws) if withdraws else None,
        "check": _check_figures(bench, subjects, checks, live_check_from),
    }
    soon = bench.harness.timestamp_ms + 2 * BLOCK_TIME_MS
    bench.apply([_grant(bench, subject, b"expiring", soon) for subject in subjects])
    bench.apply([])
    seconds, expired = bench.apply([], timestamp_ms=soon)
    expected = min(block_size, DEFAULT_MAX_EXPIRIES_PER_BLOCK)  # the rest would expire in the following blocks
    if expired != expected:
        raise RuntimeError(f"the expiry block expired {expired} records, expected {expected}")
    figures["expire"] = {"records": expired, "block_ms": round(seconds * 1000, 1), "per_s": round(expired / seconds)}
    return figures


def _check_figures(
    bench: _Bench, subjects: list[tuple[SigningKey, str]], checks: int, given_at_ms: int
) -> dict[str, Any]:
    runtime, store = bench.harness.runtime, bench.harness.store
    queries = {
        "allowed": [
            consent_pb2.CheckQuery(
                subject=did, controller=ACME, purpose=PURPOSES[n % 2], data_category=CATEGORIES[n % 3]
            )
            for n, (_, did) in enumerate(subjects)
        ],
        "denied": [
            consent_pb2.CheckQuery(subject=did, controller=ACME, purpose="profiling", data_category="email")
            for _, did in subjects
        ],
        "at_past_moment": [
            consent_pb2.CheckQuery(
                subject=did, controller=ACME, purpose="newsletter", data_category="email", at_ms=given_at_ms
            )
            for _, did in subjects
        ],
    }
    figures: dict[str, Any] = {"queries_per_kind": checks}
    for kind, requests in queries.items():
        raw = [request.SerializeToString() for request in requests]
        expected = kind != "denied"
        sample = consent_pb2.CheckResult.FromString(runtime.query(store, "consent", "check", raw[0]))
        if sample.allowed != expected:
            raise RuntimeError(f"check {kind}: allowed is {sample.allowed}, expected {expected}: {sample.reason}")
        started = time.perf_counter()
        for index in range(checks):
            runtime.query(store, "consent", "check", raw[index % len(raw)])
        elapsed = time.perf_counter() - started
        figures[kind] = {"per_s": round(checks / elapsed), "us_each": round(elapsed / checks * 1e6, 1)}
    return figures


def run(blocks: int = 3, block_size: int = 2_000, checks: int = 20_000) -> dict[str, Any]:
    """Time grant and withdraw blocks, an expiry block and `checks` check queries of each kind, per backend."""
    if blocks < 2 or block_size < 1 or checks < 1:
        raise ValueError("need at least two blocks of one transaction, and one check")
    figures: dict[str, Any] = {"blocks": blocks, "block_size": block_size}
    for backend in ("memory", "leveldb"):
        with kv_backend(backend) as store:
            bench = _Bench(RuntimeHarness(store, _genesis(_subjects(block_size)).build()))
            figures[backend] = _backend_figures(bench, blocks, block_size, checks)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--blocks", type=int, default=3)
    parser.add_argument("--block-size", type=int, default=2_000)
    parser.add_argument("--checks", type=int, default=20_000)
    parser.add_argument("--out", type=Path, default=Path("bench-results"))
    options = parser.parse_args()
    figures = run(options.blocks, options.block_size, options.checks)
    options.out.mkdir(parents=True, exist_ok=True)
    (options.out / "consent.json").write_text(json.dumps(figures, indent=2))
    for backend in ("memory", "leveldb"):
        found = figures[backend]
        check = found["check"]
        print(
            f"{backend:8} grant {found['grant']['per_s_median']:>7,} tx/s   "
            f"withdraw {found['withdraw']['per_s_median']:>7,} tx/s   "
            f"expire {found['expire']['per_s']:>7,} records/s   "
            f"check allowed {check['allowed']['per_s']:>7,}/s  denied {check['denied']['per_s']:>7,}/s  "
            f"at-moment {check['at_past_moment']['per_s']:>7,}/s"
        )
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
