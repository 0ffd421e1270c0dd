"""What one simulation run faces: validators, faults and their timing, all drawn from one seed."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from dcrm.node.consensus.pbft import ConsensusConfig, PbftCore, ValidatorSet

__all__ = [
    "Crash",
    "DropRule",
    "Envelope",
    "LinkConditions",
    "Misbehaviour",
    "Partition",
    "Scenario",
    "random_scenario",
]

CHAIN_ID = "dcrm-sim"


@dataclass(frozen=True, slots=True)
class LinkConditions:
    loss: float
    duplicate: float
    min_delay_ms: int
    max_delay_ms: int
    # Extra loss of COMMIT votes: some validators commit while the others must decide again in a later
    # view, the case the carrying of prepared certificates exists for.
    commit_loss: float = 0.0


@dataclass(frozen=True, slots=True)
class Partition:
    """During [start_ms, end_ms) messages only flow inside each group."""

    start_ms: int
    end_ms: int
    groups: tuple[frozenset[int], ...]

    def separates(self, now: int, source: int, target: int) -> bool:
        if not self.start_ms <= now < self.end_ms:
            return False
        return not any(source in group and target in group for group in self.groups)


@dataclass(frozen=True, slots=True)
class Crash:
    """The node loses its volatile state at `at_ms` and restarts from its durable state at `restart_ms`."""

    node: int
    at_ms: int
    restart_ms: int


@dataclass(frozen=True, slots=True)
class Misbehaviour:
    """What a Byzantine node does on top of following the protocol."""

    equivocate: bool = False  # as leader, different proposals to different validators
    conflicting_votes: bool = False  # votes for other blocks than the one it prepared, to some peers
    garbage: bool = False  # undecodable bytes, bad signatures, forged certificates, fake future heights
    forged_catch_up: bool = False  # answers catch-up with certificates that do not hold
    silence: float = 0.0  # share of its own protocol messages it drops


@dataclass(frozen=True, slots=True)
class Envelope:
    """A message in flight, as a drop rule sees it."""

    now: int
    source: int
    target: int
    data: bytes


DropRule = Callable[[Envelope], bool]


def _no_drop(envelope: Envelope) -> bool:
    del envelope
    return False


@dataclass(frozen=True)
class Scenario:
    seed: int
    node_count: int
    # (first height, node indices): the validator set in force from that height on
    validator_sets: tuple[tuple[int, tuple[int, ...]], ...]
    faults_end_ms: int
    faulty_link: LinkConditions
    calm_link: LinkConditions
    byzantine: dict[int, Misbehaviour] = field(default_factory=dict)
    partitions: tuple[Partition, ...] = ()
    crashes: tuple[Crash, ...] = ()
    # Liveness: once faults end, every honest node reaches the highest honest height then plus
    # resume_heights (and at least min_target_height) within liveness_budget_ms.
    resume_heights: int = 3
    min_target_height: int = 1
    liveness_budget_ms: int = 60_000
    config: ConsensusConfig = field(default_factory=lambda: ConsensusConfig(CHAIN_ID))
    build_delay_ms: tuple[int, int] = (50, 250)  # a leader's block time, from BuildProposal to ProposalBuilt
    execute_delay_ms: tuple[int, int] = (1, 20)
    real_crypto: bool = False
    drop_rule: DropRule = _no_drop
    # Seams for the tests that prove the checker bites: a broken core or broken quorums.
    core_factory: Callable[..., PbftCore] = PbftCore
    validator_set_factory: Callable[[Iterable[bytes]], ValidatorSet] = ValidatorSet

    @property
    def honest(self) -> frozenset[int]:
        return frozenset(range(self.node_count)) - frozenset(self.byzantine)


def _split(rng: random.Random, nodes: list[int]) -> tuple[frozenset[int], ...]:
    shuffled = nodes[:]
    rng.shuffle(shuffled)
    cut = rng.randint(1, len(shuffled) - 1)
    return frozenset(shuffled[:cut]), frozenset(shuffled[cut:])


def random_scenario(seed: int) -> Scenario:
    """Draws validators, Byzantine nodes, link faults, partitions and crashes from `seed`."""
    rng = random.Random(f"scenario-{seed}")
    size = rng.choice((4, 4, 4, 5, 7, 7, 10))
    first = tuple(range(size))
    sets: tuple[tuple[int, tuple[int, ...]], ...] = ((0, first),)
    node_count = size
    if rng.random() < 0.25:
        switch_at = rng.randint(3, 6)
        match rng.choice(("grow", "shrink", "rotate")):
            case "grow":
                second = tuple(range(size + 3))
            case "shrink" if size > 4:
                second = first[:4]
            case _:
                second = (*first[1:], size)  # one validator leaves, a follower joins
        node_count = max(node_count, max(second) + 1)
        sets = ((0, first), (switch_at, second))
    members_everywhere = sorted(set.intersection(*(set(members) for _, members in sets)))
    max_faulty = min((len(members) - 1) // 3 for _, members in sets)
    byzantine_nodes = rng.sample(members_everywhere, rng.randint(0, max_faulty))
    byzantine = {
        node: Misbehaviour(
            equivocate=rng.random() < 0.7,
            conflicting_votes=rng.random() < 0.7,
            garbage=rng.random() < 0.5,
            forged_catch_up=rng.random() < 0.5,
            silence=rng.choice((0.0, 0.0, 0.3)),
        )
        for node in byzantine_nodes
    }
    faults_end = rng.randint(2_000, 12_000)
    faulty_link = LinkConditions(
        loss=rng.choice((0.0, 0.02, 0.1, 0.25, 0.4)),
        duplicate=rng.choice((0.0, 0.05, 0.2, 0.4)),
        min_delay_ms=1,
        max_delay_ms=rng.choice((10, 50, 200, 400)),
        commit_loss=rng.choice((0.0, 0.0, 0.3, 0.6)),
    )
    calm_link = LinkConditions(loss=0.0, duplicate=faulty_link.duplicate, min_delay_ms=1, max_delay_ms=20)
    everyone = list(range(node_count))
    partitions = []
    for _ in range(rng.choice((0, 1, 2, 3))):
        start = rng.randrange(0, faults_end)
        partitions.append(Partition(start, rng.randint(start + 1, faults_end), _split(rng, everyone)))
    honest = [node for node in everyone if node not in byzantine]
    crashes = []
    for node in rng.sample(honest, min(len(honest), rng.choice((0, 1, 2, 3)))):
        at = rng.randrange(0, faults_end - 100)
        crashes.append(Crash(node, at, rng.randint(at + 50, faults_end)))
    return Scenario(
        seed=seed,
        node_count=node_count,
        validator_sets=sets,
        faults_end_ms=faults_end,
        faulty_link=faulty_link,
        calm_link=calm_link,
        byzantine=byzantine,
        partitions=tuple(partitions),
        crashes=tuple(crashes),
        min_target_height=sets[-1][0] + 2,
    )
