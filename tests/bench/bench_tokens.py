"""Benchmark: the tokens module's mint and transfer applied through the runtime, on MemoryKV and LevelDB.

For each backend and each class kind (points without expiry, and expiring points whose balances are lots):
- mint: blocks of mints by the class minter to distinct accounts (every mint also rewrites the class supply);
- transfer: blocks of transfers between distinct accounts (no two touch the same holding);
- hot key: blocks of transfers from distinct accounts into one popular account (its holding, and in an
  expiring class its lot, is rewritten by every transaction: they serialize);
- hot key, new lots (expiring class only): the same into another popular account, but from "fans" whose
  points all expire at different instants (a new set of fans per block), so every transfer also adds a lot
  and an index entry to the hot account: the worst case of a popular loyalty balance.
The classes and the fans' lots are set up in genesis.
Transactions are signed and decoded before the clock starts; a block's time is apply_block plus the write of
its result into the store.

    python -m tests.bench.bench_tokens --blocks 3 --block-size 2000
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path
from typing import Any

from dcrm.client.keys import SigningKey
from dcrm.runtime.modules.tokens.errors import INDEX
from dcrm.v1 import tokens_pb2, types_pb2
from tests.bench.blocks import NonceSigner, apply_timed
from tests.support.runtime_harness import RuntimeHarness, kv_backend
from tests.support.tokens_chain import CALL_INDEX, ISSUER, MINTER, tokens_genesis

__all__ = ["run"]

YEAR_MS = 365 * 86_400_000
CLASSES = {"plain": 0, "expiring": YEAR_MS}  # class id -> expiry_ms
POPULAR = SigningKey((777_777).to_bytes(32, "big"))  # the hot account every hot-key transfer pays into
STAR = SigningKey((888_888).to_bytes(32, "big"))  # the hot account that receives a new lot with every transfer
FAN_BASE = 300_000
FAN_POINTS = 1_000
FIRST_FAN_EXPIRY_MS = 1_900_000_000_000  # far past the benchmark's block times


def _keys(count: int, base: int) -> list[SigningKey]:
    return [SigningKey((base + index).to_bytes(32, "big")) for index in range(count)]


class _Bench(NonceSigner):
    def __init__(self, harness: RuntimeHarness) -> None:
        super().__init__(harness, INDEX, CALL_INDEX)

    def apply(self, txs: list[types_pb2.Transaction]) -> float:
        """Transactions per second of one block (apply + write); every call must succeed."""
        seconds, _result = apply_timed(self.harness, [self.harness.decode(tx) for tx in txs])
        return len(txs) / seconds


def _rates(samples: list[float]) -> dict[str, int]:
    return {"tx_per_s_median": round(statistics.median(samples)), "tx_per_s_min": round(min(samples))}


def _class_figures(bench: _Bench, class_id: str, blocks: int, block_size: int) -> dict[str, Any]:
    senders = _keys(block_size, 100_000)
    recipients = _keys(block_size, 200_000)
    mints = [
        bench.apply(
            [bench.sign(MINTER, tokens_pb2.Mint(class_id=class_id, to=key.account_id, amount=1_000)) for key in senders]
        )
        for _ in range(blocks)
    ]
    transfers = [
        bench.apply(
            [
                bench.sign(sender, tokens_pb2.Transfer(class_id=class_id, to=recipient.account_id, amount=1))
                for sender, recipient in zip(senders, recipients, strict=True)
            ]
        )
        for _ in range(blocks)
    ]
    hot = [
        bench.apply(
            [
                bench.sign(sender, tokens_pb2.Transfer(class_id=class_id, to=POPULAR.account_id, amount=1))
                for sender in senders
            ]
        )
        for _ in range(blocks)
    ]
    query = tokens_pb2.BalanceQuery(class_id=class_id, account=POPULAR.account_id).SerializeToString()
    popular = tokens_pb2.BalanceResult.FromString(
        bench.harness.runtime.query(bench.harness.store, "tokens", "balance", query)
    )
    if popular.balance != blocks * block_size:
        raise RuntimeError(f"the popular account holds {popular.balance}, expected {blocks * block_size}")
    figures = {
        "mint": _rates(mints),
        "transfer": _rates(transfers),
        "hot_key_transfer": _rates(hot),
        "hot_key_vs_spread": round(statistics.median(hot) / statistics.median(transfers), 2),
        "popular_account_lots": len(popular.lots),
    }
    if CLASSES[class_id]:
        fans = _keys(blocks * block_size, FAN_BASE)
        new_lots = [
            bench.apply(
                [
                    bench.sign(fan, tokens_pb2.Transfer(class_id=class_id, to=STAR.account_id, amount=1))
                    for fan in fans[block * block_size : (block + 1) * block_size]
                ]
            )
            for block in range(blocks)
        ]
        figures["hot_key_new_lots_transfer"] = _rates(new_lots)
        request = tokens_pb2.LotsQuery(class_id=class_id, account=STAR.account_id, limit=1_000)
        page = tokens_pb2.LotsResult.FromString(
            bench.harness.runtime.query(bench.harness.store, "tokens", "lots", request.SerializeToString())
        )
        figures["star_account_lots_at_least"] = len(page.lots)
    return figures


def _genesis(fan_count: int) -> dict[str, Any]:
    """The two classes; in the expiring one, `fan_count` fans whose single lots all expire at different times."""
    classes = []
    for class_id, expiry_ms in sorted(CLASSES.items()):
        holdings = []
        if expiry_ms:
            fans = sorted(enumerate(_keys(fan_count, FAN_BASE)), key=lambda pair: pair[1].account_id)
            for index, fan in fans:
                lot = {"lot_id": 0, "expires_at_ms": FIRST_FAN_EXPIRY_MS + index, "amount": FAN_POINTS}
                holdings.append(
                    {
                        "account": fan.account_id.hex(),
                        "balance": FAN_POINTS,
                        "held": 0,
                        "frozen": False,
                        "next_lot": 1,
                        "lots": [lot],
                    }
                )
        classes.append(
            {
                "class_id": class_id,
                "name": class_id,
                "symbol": "PTS",
                "decimals": 0,
                "max_supply": None,
                "transferable": True,
                "expiry_ms": expiry_ms,
                "owner": ISSUER.account_id.hex(),
                "minter": MINTER.account_id.hex(),
                "freezer": ISSUER.account_id.hex(),
                "holdings": holdings,
                "allowances": [],
            }
        )
    return {"classes": classes}


def run(blocks: int = 3, block_size: int = 2_000) -> dict[str, Any]:
    """Time `blocks` blocks of `block_size` mints, spread transfers and hot-key transfers per backend and class."""
    if blocks < 1 or block_size < 1:
        raise ValueError("need at least one block of one transaction")
    figures: dict[str, Any] = {"blocks": blocks, "block_size": block_size}
    for backend in ("memory", "leveldb"):
        with kv_backend(backend) as store:
            genesis = tokens_genesis()
            genesis.modules["tokens"] = _genesis(blocks * block_size)
            bench = _Bench(RuntimeHarness(store, genesis.build()))
            figures[backend] = {class_id: _class_figures(bench, class_id, blocks, block_size) for class_id in CLASSES}
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--blocks", type=int, default=3)
    parser.add_argument("--block-size", type=int, default=2_000)
    parser.add_argument("--out", type=Path, default=Path("bench-results"))
    options = parser.parse_args()
    figures = run(options.blocks, options.block_size)
    options.out.mkdir(parents=True, exist_ok=True)
    (options.out / "tokens.json").write_text(json.dumps(figures, indent=2))
    for backend in ("memory", "leveldb"):
        for class_id in CLASSES:
            found = figures[backend][class_id]
            print(
                f"{backend:8} {class_id:9} mint {found['mint']['tx_per_s_median']:>7,} tx/s   "
                f"transfer {found['transfer']['tx_per_s_median']:>7,} tx/s   "
                f"hot-key transfer {found['hot_key_transfer']['tx_per_s_median']:>7,} tx/s"
                + (
                    f"   hot-key, new lots {found['hot_key_new_lots_transfer']['tx_per_s_median']:>7,} tx/s"
                    if "hot_key_new_lots_transfer" in found
                    else ""
                )
            )
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
