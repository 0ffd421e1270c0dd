"""One node process: storage, runtime, mempool, consensus engine and the gRPC API, wired together."""

from __future__ import annotations

import logging
import threading

from dcrm.client.keys import SigningKey, load_key
from dcrm.node.api.server import ApiServer, start_api_server
from dcrm.node.api.servicer import NodeServicer
from dcrm.node.chain import Chain
from dcrm.node.config import NodeConfig
from dcrm.node.consensus.solo import SoloEngine
from dcrm.node.mempool import Mempool
from dcrm.node.storage.leveldb_kv import LevelDBKV
from dcrm.runtime import Genesis, Runtime
from dcrm.runtime.modules import default_modules

__all__ = ["NodeService"]

log = logging.getLogger(__name__)
SHUTDOWN_GRACE_SECONDS = 2.0


class NodeService:
    def __init__(self, config: NodeConfig) -> None:
        self.config = config
        self._stopped = threading.Event()
        self._stop_lock = threading.Lock()
        self._api: ApiServer | None = None
        self._engine: SoloEngine | None = None
        self._kv: LevelDBKV | None = None
        self.port = 0

    def start(self) -> int:
        """Open storage, start consensus and the API; returns the bound gRPC port."""
        config = self.config
        genesis = Genesis.from_bytes(config.genesis_path.read_bytes())
        key: SigningKey = load_key(config.validator_key_path)
        runtime = Runtime(genesis.chain_id, default_modules())
        self._kv = LevelDBKV(config.data_dir / "db")
        chain = Chain(self._kv, runtime, genesis)
        mempool = Mempool(config.mempool.max_transactions, config.mempool.max_per_sender)
        self._engine = SoloEngine(chain, mempool, key, config.consensus)
        servicer = NodeServicer(chain, mempool, self._engine.notify_transactions, config.mempool, config.consensus)
        self._servicer = servicer
        self._engine.start()
        self._api = start_api_server(servicer, config.api)
        self.port = self._api.port
        (config.data_dir / "grpc.port").write_text(f"{self.port}\n")
        log.info(
            "node %s listening on %s:%d at height %d",
            key.account_id.hex(),
            config.api.host,
            self.port,
            chain.head.height,
        )
        return self.port

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
            if self._kv is not None:
                self._kv.close()
            self._stopped.set()
            log.info("node stopped")
