"""Run simulator seeds from the command line.

    python -m tests.consensus.sim --seeds 1000            # seeds 300..1299 (the test suite runs 0..299)
    python -m tests.consensus.sim --seeds 50 --start 0    # seeds 0..49
    python -m tests.consensus.sim --seed 1234 --verbose   # one seed again, narrated

Exits 1 when any seed fails, after naming each failing seed.
"""

from __future__ import annotations

import argparse
import sys
import time

from tests.consensus.sim import PYTEST_SEEDS, Simulation, random_scenario


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.consensus.sim", description=__doc__.splitlines()[0])
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--seed", type=int, help="run this one seed")
    which.add_argument("--seeds", type=int, default=1000, help="how many seeds to run (default 1000)")
    parser.add_argument("--start", type=int, default=PYTEST_SEEDS, help=f"first seed (default {PYTEST_SEEDS})")
    parser.add_argument("--verbose", action="store_true", help="narrate commits, votes, view changes, crashes")
    args = parser.parse_args(argv)
    seeds = [args.seed] if args.seed is not None else list(range(args.start, args.start + args.seeds))
    log = print if args.verbose else None
    failed: list[int] = []
    began = time.perf_counter()
    for seed in seeds:
        result = Simulation(random_scenario(seed), log=log).run()
        if not result.ok or len(seeds) == 1:
            print(result.summary(), flush=True)
        if not result.ok:
            failed.append(seed)
    elapsed = time.perf_counter() - began
    print(f"{len(seeds) - len(failed)} of {len(seeds)} seeds passed in {elapsed:.1f} s", flush=True)
    if failed:
        print("failing seeds: " + " ".join(map(str, failed)) + " (rerun one with --seed N --verbose)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
