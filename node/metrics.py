"""The node's Prometheus metrics: one registry object, created by NodeService and passed to what updates it.

No module-level registry: every `NodeMetrics` owns a fresh `CollectorRegistry`, so two nodes in one process
(tests) never share counters. `serve_metrics` exposes it over HTTP (`[metrics] listen`).

| metric | type | labels | updated by |
|---|---|---|---|
| `dcrm_chain_height` | gauge | | every committed block (Chain import listener) |
| `dcrm_blocks_committed_total` | counter | | every committed block |
| `dcrm_committed_transactions_total` | counter | | every committed block; `rate()` is committed tx/s |
| `dcrm_block_import_seconds` | histogram | | the atomic write of each block |
| `dcrm_mempool_transactions` | gauge | | read at scrape time |
| `dcrm_admission_rejections_total` | counter | `reason` | admission, rate limits, stream caps, auth |
| `dcrm_grpc_requests_total` | counter | `method`, `code` | the API guard interceptor, per finished call |
| `dcrm_grpc_request_seconds` | histogram | `method` | the API guard interceptor |
| `dcrm_grpc_active_streams` | gauge | | open StreamBlocks/StreamEvents calls |
| `dcrm_consensus_view` | gauge | | the consensus engine (solo: always 0) |
| `dcrm_consensus_round_timeouts_total` | counter | | the consensus engine, when a round times out |
| `dcrm_consensus_view_changes_total` | counter | | the consensus engine, on each view change |
| `dcrm_peers` | gauge | | read at scrape time from the network layer (solo: 0) |
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

__all__ = ["ConsensusMetrics", "MetricsServer", "NodeMetrics", "serve_metrics"]

_BLOCK_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
_CALL_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


@dataclass(frozen=True)
class ConsensusMetrics:
    """What a consensus engine updates; handed to the engine's constructor."""

    view: Gauge
    round_timeouts: Counter
    view_changes: Counter


class NodeMetrics:
    """Every metric the node exports, in its own registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        registry = self.registry
        self.chain_height = Gauge("dcrm_chain_height", "Height of the committed head.", registry=registry)
        self.blocks_committed = Counter("dcrm_blocks_committed", "Blocks committed.", registry=registry)
        self.committed_transactions = Counter(
            "dcrm_committed_transactions", "Transactions in committed blocks.", registry=registry
        )
        self.block_import_seconds = Histogram(
            "dcrm_block_import_seconds",
            "Time of a block's atomic import (the synced write of block, receipts and state).",
            buckets=_BLOCK_BUCKETS,
            registry=registry,
        )
        self.mempool_transactions = Gauge(
            "dcrm_mempool_transactions", "Pending transactions in the mempool.", registry=registry
        )
        self.admission_rejections = Counter(
            "dcrm_admission_rejections",
            "Requests and transactions refused, by reason.",
            ["reason"],
            registry=registry,
        )
        self.grpc_requests = Counter(
            "dcrm_grpc_requests",
            "Finished gRPC calls by method and status code.",
            ["method", "code"],
            registry=registry,
        )
        self.grpc_request_seconds = Histogram(
            "dcrm_grpc_request_seconds",
            "gRPC call latency by method (streams: until they end).",
            ["method"],
            buckets=_CALL_BUCKETS,
            registry=registry,
        )
        self.grpc_active_streams = Gauge("dcrm_grpc_active_streams", "Open block and event streams.", registry=registry)
        self.consensus = ConsensusMetrics(
            view=Gauge("dcrm_consensus_view", "The consensus view of the current height.", registry=registry),
            round_timeouts=Counter(
                "dcrm_consensus_round_timeouts", "Consensus rounds that timed out.", registry=registry
            ),
            view_changes=Counter("dcrm_consensus_view_changes", "Consensus view changes.", registry=registry),
        )
        self.peers = Gauge("dcrm_peers", "Connected validator peers.", registry=registry)

    def watch_mempool(self, size: Callable[[], int]) -> None:
        """Read the mempool size at scrape time."""
        self.mempool_transactions.set_function(lambda: float(size()))

    def watch_peers(self, count: Callable[[], int]) -> None:
        """Read the number of connected peers at scrape time."""
        self.peers.set_function(lambda: float(count()))

    def block_committed(self, height: int, transactions: int, import_seconds: float) -> None:
        self.chain_height.set(height)
        self.blocks_committed.inc()
        self.committed_transactions.inc(transactions)
        self.block_import_seconds.observe(import_seconds)

    def rejected(self, reason: str) -> None:
        self.admission_rejections.labels(reason=reason).inc()

    def call_finished(self, method: str, code: str, seconds: float) -> None:
        self.grpc_requests.labels(method=method, code=code).inc()
        self.grpc_request_seconds.labels(method=method).observe(seconds)


class MetricsServer:
    """The HTTP server of `/metrics`; `port` is the bound port."""

    def __init__(self, server: WSGIServer, thread: threading.Thread) -> None:
        self._server = server
        self._thread = thread
        self.port: int = server.server_address[1]

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def serve_metrics(metrics: NodeMetrics, listen: str) -> MetricsServer:
    """Serve `metrics` at http://`listen`/metrics ("host:port"; port 0 picks a free one).

    Raises OSError when the address cannot be bound.
    """
    host, _, port = listen.rpartition(":")
    server, thread = start_http_server(int(port), addr=host.strip("[]"), registry=metrics.registry)
    return MetricsServer(server, thread)
