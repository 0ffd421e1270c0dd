"""The simulation loop: a fake clock in integer milliseconds and one seeded queue of everything that happens."""

from __future__ import annotations

import hashlib
import heapq
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from google.protobuf.message import DecodeError

from dcrm.node.consensus.pbft import (
    Action,
    BlockCommitted,
    BlockValidated,
    Broadcast,
    BuildProposal,
    CancelTimer,
    CommitBlock,
    Event,
    MessageReceived,
    PersistVote,
    ProposalBuilt,
    PruneVoteLog,
    RequestBlocks,
    ScheduleTable,
    SendTo,
    SetTimer,
    TimerFired,
    TimerKey,
    ValidateBlock,
)
from dcrm.v1 import consensus_pb2, types_pb2
from tests.consensus.sim.byzantine import ByzantineNode, Conspiracy
from tests.consensus.sim.chain import SimBlocks, make_block, payload_of
from tests.consensus.sim.checker import SafetyChecker, Violation
from tests.consensus.sim.keys import Keyring
from tests.consensus.sim.network import SimNetwork
from tests.consensus.sim.nodes import SimNode
from tests.consensus.sim.scenario import Scenario, random_scenario

__all__ = ["SimResult", "Simulation", "run_seed"]

_CATCH_UP_TAG = b"\x22"  # ConsensusMessage field 4 (catch_up_request), length-delimited


@dataclass(frozen=True)
class SimResult:
    seed: int
    violations: tuple[Violation, ...]
    heights: tuple[int, ...]  # committed height of every node at the end
    target_height: int
    end_ms: int
    deliveries: int
    max_view: int
    recovery_ms: int  # from the end of faults until every honest node reached the target height
    counts: dict[str, int]  # what happened: view changes, crashes, catch-up requests, ...
    trace_digest: str

    @property
    def ok(self) -> bool:
        return not self.violations

    def summary(self) -> str:
        verdict = "ok" if self.ok else "FAILED: " + "; ".join(map(str, self.violations))
        return (
            f"seed {self.seed}: {verdict} | heights {list(self.heights)} target {self.target_height} "
            f"| {self.end_ms} ms simulated, recovered in {self.recovery_ms} ms, {self.deliveries} deliveries, "
            f"max view {self.max_view} | {self.counts} | trace {self.trace_digest[:16]}"
        )


class Simulation:
    def __init__(self, scenario: Scenario, log: Callable[[str], None] | None = None) -> None:
        self.scenario = scenario
        self._log = log  # narrates commits, view changes, crashes and catch-up when given
        self.rng = random.Random(scenario.seed)
        keyring = Keyring(scenario.node_count, real_crypto=scenario.real_crypto)
        self.keyring = keyring
        self.accounts = keyring.accounts
        self.schedule = ScheduleTable(
            [
                (height, scenario.validator_set_factory(self.accounts[i] for i in members))
                for height, members in scenario.validator_sets
            ]
        )
        self.blocks = SimBlocks()
        self.network = SimNetwork(scenario, self.rng)
        self.checker = SafetyChecker(scenario.config.chain_id, keyring.recoverer)
        self.honest = scenario.honest
        conspiracy = Conspiracy(keyring.recoverer)
        self.nodes: list[SimNode] = [
            ByzantineNode(i, keyring.signers[i], self.accounts, scenario, self.rng, scenario.byzantine[i], conspiracy)
            if i in scenario.byzantine
            else SimNode(i, keyring.signers[i], self.accounts, scenario, self.rng)
            for i in range(scenario.node_count)
        ]
        self.now = 0
        self.deliveries = 0
        self.target_height = 0
        self._queue: list[tuple[int, int, Callable[[], None]]] = []
        self._sequence = 0
        self._trace = hashlib.sha256()
        self._reached_target = False
        self._max_view = 0
        self._counts: Counter[str] = Counter()

    # --- the loop ---------------------------------------------------------------------------------------

    def run(self) -> SimResult:
        scenario = self.scenario
        for node in self.nodes:
            self._at(0, partial(self._boot, node))
        for crash in scenario.crashes:
            self._at(crash.at_ms, partial(self._crash, self.nodes[crash.node]))
            self._at(crash.restart_ms, partial(self._restart, self.nodes[crash.node]))
        self._at(scenario.faults_end_ms, self._faults_end)
        deadline = scenario.faults_end_ms + scenario.liveness_budget_ms
        while self._queue and not self._reached_target:
            time, _, step = heapq.heappop(self._queue)
            if time > deadline:
                break
            self.now = time
            step()
        violations = list(self.checker.violations)
        if not violations and not self._reached_target:
            behind = {
                i: len(self.nodes[i].chain)
                for i in sorted(self.honest)
                if len(self.nodes[i].chain) < self.target_height
            }
            violations.append(
                Violation(
                    "liveness",
                    f"honest nodes {behind} did not reach height {self.target_height} "
                    f"within {scenario.liveness_budget_ms} ms after faults ended",
                )
            )
        return SimResult(
            seed=scenario.seed,
            violations=tuple(violations),
            heights=tuple(len(node.chain) for node in self.nodes),
            target_height=self.target_height,
            end_ms=self.now,
            deliveries=self.deliveries,
            max_view=self._max_view,
            recovery_ms=max(self.now - scenario.faults_end_ms, 0),
            counts=dict(sorted(self._counts.items())),
            trace_digest=self._trace.hexdigest(),
        )

    def _at(self, time: int, step: Callable[[], None]) -> None:
        self._sequence += 1
        heapq.heappush(self._queue, (time, self._sequence, step))

    def _note(self, line: bytes) -> None:
        self._trace.update(b"%d " % self.now + line + b"\n")

    def _say(self, text: str) -> None:
        if self._log is not None:
            self._log(f"{self.now:>7} ms  {text}")

    # --- node life ----------------------------------------------------------------------------------------

    def _boot(self, node: SimNode) -> None:
        self._note(b"boot %d" % node.index)
        core = node.boot(self.scenario.config, self.keyring.recoverer, self.schedule, self.blocks)
        self._apply(node, core.start())

    def _crash(self, node: SimNode) -> None:
        if not node.alive:
            return
        self._note(b"crash %d" % node.index)
        self._say(f"node {node.index} crashes")
        self._counts["crash"] += 1
        if self.rng.random() < 0.5:
            node.crash()
        else:
            node.crash_pending = True  # dies part-way through carrying out its next batch of actions

    def _restart(self, node: SimNode) -> None:
        if node.alive:
            if not node.crash_pending:
                return
            node.crash()
        self._counts["restart"] += 1
        self._say(f"node {node.index} restarts at height {len(node.chain)} with {len(node.vote_log)} log entries")
        self._boot(node)

    def _faults_end(self) -> None:
        self._note(b"faults end")
        self._say("faults end")
        for node in self.nodes:
            if not node.alive or node.crash_pending:
                self._restart(node)
        highest = max(len(self.nodes[i].chain) for i in self.honest)
        self.target_height = max(highest + self.scenario.resume_heights, self.scenario.min_target_height)
        self._check_target()

    def _check_target(self) -> None:
        if self.target_height:
            self._reached_target = all(len(self.nodes[i].chain) >= self.target_height for i in self.honest)

    # --- events into a node ---------------------------------------------------------------------------------

    def _feed(self, node: SimNode, incarnation: int, event: Event) -> None:
        if node.core is None or node.incarnation != incarnation:
            return  # the answer was for a life that ended in a crash
        self._note(b"event %d %s" % (node.index, type(event).__name__.encode()))
        self._apply(node, node.core.handle(event))

    def _fire(self, node: SimNode, incarnation: int, timer: TimerKey, token: int) -> None:
        if node.incarnation != incarnation or node.timers.get(timer) != token:
            return
        del node.timers[timer]
        self._feed(node, incarnation, TimerFired(timer))

    def _deliver(self, source: int, target: int, data: bytes) -> None:
        node = self.nodes[target]
        if node.core is None or self.network.separated(self.now, source, target):
            return
        self.deliveries += 1
        self._note(b"deliver %d>%d " % (source, target) + data)
        if data.startswith(_CATCH_UP_TAG):
            try:
                request = consensus_pb2.ConsensusMessage.FromString(data)
            except DecodeError:
                request = None
            if request is not None and request.HasField("catch_up_request"):
                answer = node.serve_catch_up(request.catch_up_request.from_height)
                if answer is not None:
                    self._counts["catch-up answer"] += 1
                    self._send(target, source, answer)
                return
        node.overhear(data)
        self._apply(node, node.core.handle(MessageReceived(self.accounts[source], data)))

    def _send(self, source: int, target: int, data: bytes) -> None:
        for arrival in self.network.arrival_times(self.now, source, target, data):
            self._at(arrival, partial(self._deliver, source, target, data))

    def _later(self, node: SimNode, delay: tuple[int, int], event: Event) -> None:
        self._at(self.now + self.rng.randint(*delay), partial(self._feed, node, node.incarnation, event))

    # --- actions out of a node ------------------------------------------------------------------------------

    def _apply(self, node: SimNode, actions: list[Action]) -> None:
        crashing = node.crash_pending
        if crashing:
            actions = actions[: self.rng.randint(0, len(actions))]
        node.before_actions(actions)
        for action in actions:
            self._carry_out(node, action)
        if crashing:
            node.crash()
        elif node.core is not None:
            self._max_view = max(self._max_view, node.core.view)

    def _carry_out(self, node: SimNode, action: Action) -> None:
        honest = node.index in self.honest
        match action:
            case PersistVote(_, entry):
                node.vote_log.append(entry)
                if honest:
                    node.durable_signatures.add(self.checker.on_persist(node.index, entry))
                    self._counts["persisted"] += 1
                    self._say_signed(node, entry)
            case PruneVoteLog(through_height):
                node.prune_vote_log(through_height)
            case Broadcast(data) | SendTo(_, data):
                if honest:
                    self.checker.on_send(node.index, data, node.durable_signatures)
                for target, payload in node.outgoing(action):
                    self._send(node.index, target, payload)
            case SetTimer(timer, delay_ms):
                self._sequence += 1
                node.timers[timer] = self._sequence
                self._at(self.now + delay_ms, partial(self._fire, node, node.incarnation, timer, self._sequence))
            case CancelTimer(timer):
                node.timers.pop(timer, None)
            case BuildProposal(height, view, parent_hash):
                block = make_block(height, parent_hash, node.payload(height, view))
                self._later(node, self.scenario.build_delay_ms, ProposalBuilt(height, view, block))
            case ValidateBlock(height, block_hash, block):
                valid = self.blocks.execute(block)
                self._later(node, self.scenario.execute_delay_ms, BlockValidated(height, block_hash, valid))
            case CommitBlock(height, block_hash, block, certificate):
                self._import(node, honest, height, block, certificate)
                self._later(node, (1, 5), BlockCommitted(height, block_hash))
            case RequestBlocks(peer, from_height):
                self._counts["catch-up request"] += 1
                self._say(f"node {node.index} asks node {self.accounts.index(peer)} for blocks from {from_height}")
                request = consensus_pb2.ConsensusMessage()
                request.catch_up_request.from_height = from_height
                self._send(node.index, self.accounts.index(peer), request.SerializeToString())

    def _say_signed(self, node: SimNode, entry: bytes) -> None:
        if self._log is None:
            return
        record = consensus_pb2.VoteLogEntry.FromString(entry)
        if record.HasField("vote"):
            vote = types_pb2.VoteBody.FromString(record.vote.body)
            kind = types_pb2.VoteBody.Kind.Name(vote.kind)
            self._say(f"node {node.index} signs {kind} h{vote.height} v{vote.view} {vote.block_hash.hex()[:8]}")
        else:
            change = consensus_pb2.ViewChangeBody.FromString(record.view_change.body)
            prepared = (
                f"prepared v{change.prepared_view} {change.prepared_hash.hex()[:8]}" if change.prepared_hash else ""
            )
            self._say(f"node {node.index} signs VIEW-CHANGE h{change.height} -> v{change.new_view} {prepared}")

    def _import(
        self,
        node: SimNode,
        honest: bool,
        height: int,
        block: bytes,
        certificate: types_pb2.CommitCertificate,
    ) -> None:
        if height != len(node.chain) + 1:
            self.checker.violations.append(
                Violation("chain", f"node {node.index} asked to commit height {height} on top of {len(node.chain)}")
            )
            return
        parent_hash = node.head.block_hash
        node.chain.append(consensus_pb2.CertifiedBlock(block=block, certificate=certificate))
        self._counts["commit"] += 1
        view = types_pb2.VoteBody.FromString(certificate.votes[0].body).view
        self._counts["commit view>0"] += view > 0
        self._say(f"node {node.index} commits height {height} (view {view}) {payload_of(block)[:16]!r}")
        if honest:
            validators = list(self.schedule.validators_at(height).members)
            self.checker.on_commit(node.index, height, block, certificate, parent_hash, validators)
        self._check_target()


def run_seed(seed: int) -> SimResult:
    return Simulation(random_scenario(seed)).run()
