"""A deterministic, seeded simulator that runs the real PBFT core among honest and Byzantine nodes.

`run_seed(seed)` draws a scenario from the seed and runs it; the same seed gives the same trace.
"""

from __future__ import annotations

from tests.consensus.sim.runner import SimResult, Simulation, run_seed
from tests.consensus.sim.scenario import Scenario, random_scenario

__all__ = ["PYTEST_SEEDS", "Scenario", "SimResult", "Simulation", "random_scenario", "run_seed"]

PYTEST_SEEDS = 300  # seeds 0..299 run in the normal test suite; the command line runs further ones
