"""One node process: storage, runtime, mempool, consensus engine, the gRPC API and metrics, wired together."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Mapping
from pathlib import Path

from dcrm.client.keys import SigningKey
from dcrm.node.api.admin import AdminServicer
from dcrm.node.api.admission import Admission
from dcrm.node.api.guard import ApiGuard
from dcrm.node.api.rejections import Rejections, SampledLog
from dcrm.node.api.server import ApiServer, start_api_server
from dcrm.node.api.servicer import NodeServicer
from dcrm.node.chain import Chain, ImportedBlock
from dcrm.node.config import NodeConfig
from dcrm.node.consensus.pbft_engine import PbftEngine
from dcrm.node.consensus.solo import SoloEngine
from dcrm.node.keyfiles import load_validator_key
from dcrm.node.limits import KeyedBuckets
from dcrm.node.mempool import Mempool
from dcrm.node.metrics import MetricsServer, NodeMetrics, serve_metrics
from dcrm.node.network.config import NetworkConfig, PeerEntry
from dcrm.node.network.libp2p_transport import Libp2pTransport
from dcrm.node.network.peer_key import load_peer_key
from dcrm.node.network.transport import PeerId
from dcrm.node.storage.leveldb_kv import LevelDBKV
from dcrm.runtime import Genesis, Runtime
from dcrm.runtime.modules import default_modules

__all__ = ["NodeService"]

log = logging.getLogger(__name__)
SHUTDOWN_GRACE_SECONDS = 2.0


class NodeService:
    """`key` is the unlocked validator key (else it is loaded from the config, with `env`'s passphrase)."""

    def __init__(
        self, config: NodeConfig, *, key: SigningKey | None = None, env: Mapping[str, str] = os.environ
    ) -> None:
        self.config = config
        self._key = key
        self._env = env
        self._stopped = threading.Event()
        self._stop_lock = threading.Lock()
        self._api: ApiServer | None = None
        self._engine: SoloEngine | PbftEngine | None = None
        self._transport: Libp2pTransport | None = None
        self._kv: LevelDBKV | None = None
        self._metrics_server: MetricsServer | None = None
        self.metrics = NodeMetrics()
        self.port = 0
        self.mtls_port: int | None = None
        self.metrics_port: int | None = None

    def start(self) -> int:
        """Open storage, start consensus, the API and the metrics endpoint; returns the bound gRPC port."""
        config = self.config
        metrics = self.metrics
        genesis = Genesis.from_bytes(config.genesis_path.read_bytes())
        key = self._key if self._key is not None else load_validator_key(config, self._env)
        runtime = Runtime(genesis.chain_id, default_modules())
        self._kv = LevelDBKV(config.data_dir / "db")
        chain = Chain(self._kv, runtime, genesis, on_import=self._block_imported)
        metrics.chain_height.set(chain.head.height)
        mempool = Mempool(config.mempool.max_transactions, config.mempool.max_per_sender)
        metrics.watch_mempool(mempool.__len__)
        limits = config.limits
        rejections = Rejections(
            metrics, SampledLog(logging.getLogger("dcrm.node.rejections"), config.log.rejection_lines_per_second)
        )
        accounts: KeyedBuckets[bytes] = KeyedBuckets(limits.account_tx_per_second, limits.account_burst)
        admission = Admission(chain, mempool, accounts, rejections)
        self._engine = self._consensus_engine(chain, mempool, key, admission)
        servicer = NodeServicer(
            chain,
            mempool,
            self._engine.notify_transactions,
            config.mempool,
            config.consensus,
            admission=admission,
            peers=self._engine.peers,
        )
        metrics.watch_peers(lambda: len(servicer.peers()))
        self._servicer = servicer
        self._engine.start()
        self._api = start_api_server(
            servicer,
            config.api,
            admin=AdminServicer(chain, config.api.max_message_bytes),
            interceptors=[ApiGuard(config.api, limits, rejections, metrics)],
            max_concurrent_calls=limits.max_concurrent_calls,
        )
        self.port = self._api.port
        self.mtls_port = self._api.mtls_port
        if config.metrics.listen:
            self._metrics_server = serve_metrics(metrics, config.metrics.listen)
            self.metrics_port = self._metrics_server.port
            _write_port(config.data_dir / "metrics.port", self.metrics_port)
        if self.mtls_port is not None:
            _write_port(config.data_dir / "grpc-mtls.port", self.mtls_port)
        _write_port(config.data_dir / "grpc.port", self.port)  # last: tests and tools wait for this file
        log.info(
            "node %s listening on %s:%d at height %d",
            key.account_id.hex(),
            config.api.host,
            self.port,
            chain.head.height,
            extra={
                "tls": config.api.tls_cert is not None,
                "mtls_port": self.mtls_port,
                "metrics_port": self.metrics_port,
            },
        )
        return self.port

    def _consensus_engine(
        self, chain: Chain, mempool: Mempool, key: SigningKey, admission: Admission
    ) -> SoloEngine | PbftEngine:
        """PBFT over libp2p when [network] is configured, else the single-validator engine."""
        network = self.config.network
        if network is None:
            return SoloEngine(chain, mempool, key, self.config.consensus)
        peer_key = load_peer_key(network.peer_key_path)
        transport = Libp2pTransport(
            NetworkConfig(
                peer_key_path=network.peer_key_path,
                peers=tuple(PeerEntry(PeerId(peer.peer_id), peer.address) for peer in network.peers),
                listen_host=network.listen_host,
                listen_port=network.listen_port,
            ),
            peer_key,
        )
        self._transport = transport
        transport.on_peer_event(_log_peer_event)
        bound = transport.start()
        log.info("p2p listening on %s", bound.multiaddr)
        accounts = {PeerId(peer.peer_id): peer.account for peer in network.peers}
        return PbftEngine(
            chain,
            mempool,
            key,
            self.config.consensus,
            transport,
            accounts,
            admission.admit_quietly,
            metrics=self.metrics.consensus,
        )

    def _block_imported(self, block: ImportedBlock) -> None:
        self.metrics.block_committed(block.height, block.transactions, block.import_seconds)

    def wait(self) -> None:
        self._stopped.wait()

    def stop(self) -> None:
        """Stop accepting calls, let the current block finish writing, close storage. Idempotent."""
        with self._stop_lock:
            if self._stopped.is_set():
                return
            if self._api is not None:
                self._servicer.stopping.set()
                self._api.stop(SHUTDOWN_GRACE_SECONDS)
            if self._engine is not None:
                self._engine.stop()
            if self._transport is not None:
                self._transport.stop()
            if self._kv is not None:
                self._kv.close()
            if self._metrics_server is not None:
                self._metrics_server.stop()
            self._stopped.set()
            log.info("node stopped")


def _log_peer_event(peer: PeerId, connected: bool) -> None:
    log.info("peer %s %s", peer, "connected" if connected else "disconnected", extra={"peer": peer})


def _write_port(path: Path, port: int) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(f"{port}\n")
    temporary.replace(path)
