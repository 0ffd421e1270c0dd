"""The PBFT driver: connects the I/O-free core (dcrm.node.consensus.pbft) to the transport, timers, the
mempool, block execution and storage.

Threads: one driver thread owns the core and carries out its actions in order; the transport delivers
messages and gossip on its own threads, which only enqueue events; a timer thread enqueues fired timers;
catch-up requests run on a small pool so a slow peer never stalls the driver. Votes are appended to the
synced vote log before the action that sends them is carried out (the core orders them so).

What peers send passes a `PeerGuard` on the transport's threads first: undecodable, oversized, flooded or
replayed payloads are dropped before they reach the driver's queue, and a peer that keeps sending them is
disconnected for a cooling-off period (`Transport.disconnect`).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from dcrm.client.keys import SigningKey
from dcrm.node.chain import Chain
from dcrm.node.config import ConsensusConfig
from dcrm.node.consensus.block_assembly import assemble_block
from dcrm.node.consensus.block_execution import ExecutedBlock, InvalidBlock, execute_block
from dcrm.node.consensus.chain_schedule import ChainSchedule
from dcrm.node.consensus.pbft import actions as act
from dcrm.node.consensus.pbft import events as ev
from dcrm.node.consensus.pbft.blocks import HeaderBlockInspector
from dcrm.node.consensus.pbft.config import ConsensusConfig as CoreConfig
from dcrm.node.consensus.pbft.core import ChainHead, PbftCore
from dcrm.node.consensus.pbft.signing import Secp256k1Recoverer, Secp256k1Signer
from dcrm.node.consensus.pbft.timers import TimerKey, TimerKind
from dcrm.node.consensus.peer_guard import PeerGuard, PeerPolicy
from dcrm.node.consensus.timer_thread import TimerThread
from dcrm.node.mempool import Mempool
from dcrm.node.metrics import ConsensusMetrics
from dcrm.node.network.transport import PeerId, Transport, TransportError
from dcrm.node.storage.vote_log_store import VoteLogStore
from dcrm.runtime import SignedTransaction
from dcrm.v1 import consensus_pb2, node_pb2, types_pb2

__all__ = ["CATCH_UP_PROTOCOL", "CONSENSUS_CHANNEL", "TRANSACTIONS_TOPIC", "PbftEngine"]

log = logging.getLogger(__name__)

CONSENSUS_CHANNEL = "dcrm/consensus/1"
CATCH_UP_PROTOCOL = "dcrm/catch-up/1"
TRANSACTIONS_TOPIC = "dcrm/transactions/1"
CATCH_UP_BATCH_BLOCKS = 64
CATCH_UP_BATCH_BYTES = 8 << 20
CATCH_UP_TIMEOUT_SECONDS = 10.0
GOSSIP_FLUSH_SECONDS = 0.02
MAX_BUNDLE_BYTES = 900 * 1024  # under the gossip payload limit (py-libp2p drops > 1 MiB silently)


def wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass(frozen=True, slots=True)
class _Stop:
    pass


@dataclass(frozen=True, slots=True)
class _BuildDue:
    """Time to look again whether the proposal this node owes should be built now."""

    request: act.BuildProposal


BUILD_POLL_SECONDS = 0.02


class PbftEngine:
    """A validator (or follower) taking part in PBFT over a `Transport`."""

    def __init__(
        self,
        chain: Chain,
        mempool: Mempool,
        key: SigningKey,
        config: ConsensusConfig,
        transport: Transport,
        peer_accounts: Mapping[PeerId, bytes],
        admit: Callable[[types_pb2.Transaction], object],
        *,
        metrics: ConsensusMetrics | None = None,
        clock_ms: Callable[[], int] = wall_clock_ms,
        peer_policy: PeerPolicy | None = None,
    ) -> None:
        self.chain = chain
        self.mempool = mempool
        self.key = key
        self.config = config
        self.transport = transport
        self._account_of = dict(peer_accounts)
        self._peer_of = {account: peer for peer, account in peer_accounts.items()}
        self._admit = admit
        self._metrics = metrics
        self._clock_ms = clock_ms
        self.guard = PeerGuard(peer_policy or PeerPolicy(), self._disconnect)
        self._events: queue.Queue[ev.Event | _BuildDue | _Stop] = queue.Queue()
        self._last_commit = time.monotonic()
        # A leader proposes once transactions waited a gathering window, or an empty block when idle; an
        # empty block must come well inside the view timeout, or followers would change views on an idle chain.
        self._idle_seconds = min(config.idle_block_ms, config.view_timeout_ms // 2) / 1000
        self._timers: TimerThread[TimerKey] = TimerThread(lambda key: self._events.put(ev.TimerFired(key)))
        self._votes = VoteLogStore(chain.kv)
        self._schedule = ChainSchedule(chain)
        self._executed: dict[bytes, ExecutedBlock] = {}
        self._requests = ThreadPoolExecutor(max_workers=2, thread_name_prefix="catch-up")
        self._outbox: list[types_pb2.Transaction] = []
        self._outbox_lock = threading.Lock()
        self._stopping = threading.Event()
        self._driver = threading.Thread(target=self._run, name="pbft-driver", daemon=True)
        self._gossip = threading.Thread(target=self._flush_gossip, name="tx-gossip", daemon=True)
        head = chain.head
        self.core = PbftCore(
            CoreConfig(chain_id=chain.genesis.chain_id, base_timeout_ms=config.view_timeout_ms),
            signer=Secp256k1Signer(key.secret),
            recoverer=Secp256k1Recoverer(),
            schedule=self._schedule,
            inspector=HeaderBlockInspector(chain.genesis.chain_id),
            head=ChainHead(head.height, head.block_hash),
            vote_log=self._votes.entries_above(head.height),
        )

    # --- ConsensusEngine ---------------------------------------------------------------------------

    def start(self) -> None:
        transport = self.transport
        transport.on_message(CONSENSUS_CHANNEL, self._on_message)
        transport.on_request(CATCH_UP_PROTOCOL, self._serve_catch_up)
        transport.subscribe(TRANSACTIONS_TOPIC, self._on_transactions)
        self._timers.start()
        self._driver.start()
        self._gossip.start()

    def notify_transactions(self, admitted: Sequence[SignedTransaction] = ()) -> None:
        """Transactions admitted here: gossiped in bundles so the leader of any view has them."""
        if admitted:
            with self._outbox_lock:
                self._outbox.extend(tx.raw for tx in admitted)

    def stop(self) -> None:
        if self._stopping.is_set():
            return
        self._stopping.set()
        self._events.put(_Stop())
        if self._driver.is_alive():
            self._driver.join()
        if self._gossip.is_alive():
            self._gossip.join()
        self._timers.stop()
        self._requests.shutdown(wait=True, cancel_futures=True)

    def peers(self) -> list[str]:
        return sorted(self.transport.peers())

    # --- inbound (transport threads) ---------------------------------------------------------------

    def _on_message(self, peer: PeerId, payload: bytes) -> None:
        account = self._account_of.get(peer)
        if account is None:
            self.guard.offence(peer, "from no validator account")
            return
        if self.guard.consensus_message(peer, payload):
            self._events.put(ev.MessageReceived(account, payload))

    def _on_transactions(self, peer: PeerId, payload: bytes) -> None:
        try:
            bundle = node_pb2.SubmitBatchRequest.FromString(payload)
        except Exception:  # a garbage bundle from a peer: drop it, never crash the delivery thread
            log.debug("undecodable transaction bundle from %s dropped", peer)
            self.guard.offence(peer, "undecodable transaction bundle")
            return
        for tx in bundle.transactions:
            self._admit(tx)

    def _disconnect(self, peer: PeerId, seconds: float, reason: str) -> None:
        try:
            self.transport.disconnect(peer, seconds, reason)  # logs the reason at WARNING
        except TransportError as error:
            log.warning("could not disconnect %s (%s): %s", peer, reason, error)

    def _serve_catch_up(self, peer: PeerId, payload: bytes) -> bytes:
        request = self.guard.catch_up_request(peer, payload)
        answer = consensus_pb2.CertifiedBlocks()
        if request is None:  # garbage, a flood, or a peer cooling off: an empty answer, never an exception
            return consensus_pb2.ConsensusMessage(certified_blocks=answer).SerializeToString()
        size = 0
        store = self.chain.store
        height = max(1, request.from_height)
        while len(answer.blocks) < CATCH_UP_BATCH_BLOCKS and size < CATCH_UP_BATCH_BYTES:
            stored = store.block(height)
            if stored is None:
                break
            entry = answer.blocks.add(block=stored.block.SerializeToString(), certificate=stored.certificate)
            size += entry.ByteSize()
            height += 1
        return consensus_pb2.ConsensusMessage(certified_blocks=answer).SerializeToString()

    # --- the driver thread -------------------------------------------------------------------------

    def _run(self) -> None:
        self._execute(self.core.start())
        while True:
            event = self._events.get()
            if isinstance(event, _Stop):
                return
            try:
                if isinstance(event, _BuildDue):
                    self._build(event.request)
                else:
                    self._execute(self._handle(event))
            except Exception:
                log.exception("consensus driver failed handling %s", type(event).__name__)
            if self._metrics is not None:
                self._metrics.view.set(self.core.view)

    def _handle(self, event: ev.Event) -> list[act.Action]:
        """`core.handle`, counting the view changes it makes and the view timeouts that caused one."""
        core = self.core
        height, view = core.height, core.view
        actions = core.handle(event)
        if self._metrics is not None:
            # A new height starts in view 0; a view above it, at the same height or the next, was changed into.
            changed = core.view > view if core.height == height else core.view > 0
            if changed:
                self._metrics.view_changes.inc()
                if isinstance(event, ev.TimerFired) and event.timer.kind is TimerKind.VIEW_TIMEOUT:
                    self._metrics.round_timeouts.inc()
        return actions

    def _execute(self, actions: Sequence[act.Action]) -> None:
        for action in actions:
            match action:
                case act.PersistVote(height=height, entry=entry):
                    self._votes.append(height, entry)
                case act.PruneVoteLog(through_height=height):
                    self._votes.prune_through(height)
                case act.Broadcast(data=data):
                    self._broadcast(data)
                case act.SendTo(peer=account, data=data):
                    self._send(account, data)
                case act.SetTimer(timer=timer, delay_ms=delay):
                    self._timers.set(timer, delay)
                case act.CancelTimer(timer=timer):
                    self._timers.cancel(timer)
                case act.BuildProposal():
                    self._build(action)
                case act.ValidateBlock(height=height, block_hash=block_hash, block=block):
                    self._validate(height, block_hash, block)
                case act.CommitBlock(height=height, block_hash=block_hash, block=block, certificate=certificate):
                    self._commit(height, block_hash, block, certificate)
                case act.RequestBlocks(peer=account, from_height=from_height):
                    self._request_blocks(account, from_height)

    def _broadcast(self, data: bytes) -> None:
        try:
            self.transport.broadcast(CONSENSUS_CHANNEL, data, timeout=1.0)
        except TransportError as error:
            log.debug("broadcast failed: %s", error)  # the core retransmits

    def _send(self, account: bytes, data: bytes) -> None:
        peer = self._peer_of.get(account)
        if peer is None:
            return
        try:
            self.transport.send(peer, CONSENSUS_CHANNEL, data, timeout=1.0)
        except TransportError as error:
            log.debug("send to %s failed: %s", peer, error)

    def _build(self, request: act.BuildProposal) -> None:
        height, view = request.height, request.view
        head = self.chain.head
        if head.height + 1 != height or head.block_hash != request.parent_hash:
            return  # the core has moved on; it ignores stale answers anyway
        waited = time.monotonic() - self._last_commit
        gathered = waited >= self.config.block_interval_ms / 1000
        if not (gathered and (len(self.mempool) > 0 or waited >= self._idle_seconds)):
            threading.Timer(BUILD_POLL_SECONDS, self._events.put, (_BuildDue(request),)).start()
            return
        self.mempool.prune_expired(height)
        assembled = assemble_block(
            self.chain.runtime,
            self.chain.kv,
            self.mempool,
            parent=head.header,
            parent_hash=head.block_hash,
            proposer=self.key.account_id,
            timestamp_ms=self._clock_ms(),
            view=view,
            max_transactions=self.config.max_block_transactions,
        )
        self.mempool.remove(assembled.dropped)
        self._executed[assembled.block_hash] = ExecutedBlock(
            assembled.header, assembled.block, assembled.block_hash, assembled.result
        )
        self._execute(self._handle(ev.ProposalBuilt(height, view, assembled.block.SerializeToString())))

    def _run_block(self, block: bytes) -> ExecutedBlock | None:
        header_height = self.chain.head.height + 1
        proposers = frozenset(self._schedule.validators_at(header_height).members)
        try:
            executed = execute_block(
                self.chain, block, proposers=proposers, now_ms=self._clock_ms(), known=self.mempool.get
            )
        except InvalidBlock as error:
            log.warning("refused block at height %d: %s", header_height, error)
            return None
        self._executed[executed.block_hash] = executed
        return executed

    def _validate(self, height: int, block_hash: bytes, block: bytes) -> None:
        executed = self._executed.get(block_hash) or self._run_block(block)
        valid = executed is not None and executed.block_hash == block_hash
        self._execute(self._handle(ev.BlockValidated(height, block_hash, valid)))

    def _commit(self, height: int, block_hash: bytes, block: bytes, certificate: types_pb2.CommitCertificate) -> None:
        executed = self._executed.get(block_hash) or self._run_block(block)
        if executed is None or executed.block_hash != block_hash:
            # A certified block that does not execute here means this node's state diverged: stop, loudly.
            log.critical("certified block %d (%s) does not execute on this node", height, block_hash.hex())
            return
        self.chain.import_block(executed.header, executed.block, certificate, executed.result)
        self._last_commit = time.monotonic()
        self._executed.clear()
        self.mempool.remove(tx.hash for tx in executed.result.transactions)
        self.mempool.prune_expired(height + 1)
        self._execute(self._handle(ev.BlockCommitted(height, block_hash)))

    def _request_blocks(self, account: bytes, from_height: int) -> None:
        peer = self._peer_of.get(account)
        if peer is None:
            return
        request = consensus_pb2.CatchUpRequest(from_height=from_height).SerializeToString()

        def fetch() -> None:
            try:
                answer = self.transport.request(peer, CATCH_UP_PROTOCOL, request, CATCH_UP_TIMEOUT_SECONDS)
            except TransportError as error:
                log.debug("catch-up from %s failed: %s", peer, error)
                return
            if self.guard.catch_up_answer(peer, answer):
                self._events.put(ev.MessageReceived(account, answer))

        if not self._stopping.is_set():
            self._requests.submit(fetch)

    # --- transaction gossip ------------------------------------------------------------------------

    def _flush_gossip(self) -> None:
        while not self._stopping.wait(GOSSIP_FLUSH_SECONDS):
            with self._outbox_lock:
                pending, self._outbox = self._outbox, []
            bundle = node_pb2.SubmitBatchRequest()
            for tx in pending:
                if bundle.ByteSize() + tx.ByteSize() + 8 > MAX_BUNDLE_BYTES:
                    self._publish(bundle)
                    bundle = node_pb2.SubmitBatchRequest()
                bundle.transactions.append(tx)
            if bundle.transactions:
                self._publish(bundle)

    def _publish(self, bundle: node_pb2.SubmitBatchRequest) -> None:
        try:
            self.transport.publish(TRANSACTIONS_TOPIC, bundle.SerializeToString())
        except TransportError as error:
            log.warning("transaction bundle of %d not gossiped: %s", len(bundle.transactions), error)
