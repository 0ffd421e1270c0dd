"""Admission limits (token buckets, stream caps), sampled rejection logs, JSON block lines and the metrics endpoint."""

from __future__ import annotations

import json
import logging
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from dcrm.client import Client, ResourceExhausted
from dcrm.node.api.rejections import SampledLog
from dcrm.node.limits import KeyedBuckets, StreamSlots
from dcrm.v1 import node_pb2, node_pb2_grpc
from tests.support.node_process import READY_DEADLINE_SECONDS, NodeProcess, local_node, wait_until
from tests.support.runtime_harness import deterministic_key

ALICE = deterministic_key(1)
BOB = deterministic_key(2)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# --- units ---------------------------------------------------------------------------------------------


def test_token_bucket_burst_then_refill() -> None:
    clock = FakeClock()
    buckets: KeyedBuckets[str] = KeyedBuckets(rate=2, burst=3, clock=clock)
    assert [buckets.take("a") for _ in range(4)] == [True, True, True, False]
    assert buckets.take("b")  # another key has its own bucket
    clock.now += 0.5  # one token back at 2/s
    assert buckets.take("a")
    assert not buckets.take("a")


def test_rate_zero_turns_the_limit_off() -> None:
    buckets: KeyedBuckets[str] = KeyedBuckets(rate=0, burst=1)
    assert all(buckets.take("a") for _ in range(1000))
    assert len(buckets) == 0


def test_bucket_table_stays_bounded() -> None:
    clock = FakeClock()
    buckets: KeyedBuckets[int] = KeyedBuckets(rate=1, burst=1, clock=clock, max_keys=100)
    for key in range(10_000):
        buckets.take(key)
    assert len(buckets) <= 100
    clock.now += 10  # every bucket refilled: equal to absent ones, dropped first
    buckets.take(-1)
    assert len(buckets) == 1


def test_stream_slots_per_key_and_total() -> None:
    slots: StreamSlots[str] = StreamSlots(per_key=2, total=3)
    assert [slots.acquire("a"), slots.acquire("a"), slots.acquire("a")] == [None, None, "per_key"]
    assert slots.acquire("b") is None
    assert slots.acquire("c") == "total"
    slots.release("a")
    assert slots.acquire("c") is None
    assert slots.count == 3


def test_sampled_log_writes_at_most_its_budget_and_counts_the_rest(caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock()
    logger = logging.getLogger("test.sampled")
    sampled = SampledLog(logger, per_second=2, clock=clock)
    with caplog.at_level(logging.INFO, logger="test.sampled"):
        written = [sampled.info("refused %d", index, extra={"reason": "x"}) for index in range(1000)]
        assert written.count(True) == 2
        clock.now += 1.0
        assert sampled.info("refused again", extra={"reason": "x"})
    records = [record for record in caplog.records if record.name == "test.sampled"]
    assert len(records) == 3
    assert records[-1].__dict__["suppressed"] == 998


# --- a node with tight limits and JSON logs ----------------------------------------------------------------


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeProcess]:
    node = local_node(tmp_path_factory.mktemp("limits") / "chain")
    node.env = {
        "DCRM_LIMITS_ACCOUNT_TX_PER_SECOND": "1",
        "DCRM_LIMITS_ACCOUNT_BURST": "2",
        "DCRM_LIMITS_PEER_REQUESTS_PER_SECOND": "1",
        "DCRM_LIMITS_PEER_BURST": "60",
        "DCRM_LIMITS_MAX_STREAMS": "1",
        "DCRM_LOG_FORMAT": "json",
        "DCRM_METRICS_LISTEN": "127.0.0.1:0",
    }
    node.start()
    try:
        yield node
    finally:
        node.kill()


def log_lines(node: NodeProcess) -> list[dict[str, object]]:
    lines = []
    for line in node.log_path.read_text().splitlines():
        if line.startswith("{"):
            lines.append(json.loads(line))
    return lines


def scrape(node: NodeProcess) -> dict[str, float]:
    """name{labels} -> value from the node's /metrics (comments skipped)."""
    url = f"http://127.0.0.1:{node.port_file('metrics.port')}/metrics"
    with urllib.request.urlopen(url, timeout=10) as response:  # loopback only
        text = response.read().decode()
    samples = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            samples[name] = float(value)
    return samples


def test_account_rate_limit_and_its_log_line(limited: NodeProcess) -> None:
    with Client(limited.endpoint) as client:
        account = client.account(ALICE)
        account.submit(0, 2, b"")  # two transactions fill the burst of 2
        account.submit(0, 2, b"")
        with pytest.raises(ResourceExhausted) as caught:
            account.submit(0, 2, b"")
    message = str(caught.value)
    assert (
        f"sender {ALICE.account_id.hex()} exceeds limits.account_tx_per_second (1 transactions/s, burst 2)" in message
    )

    def refused_line() -> bool:
        return any(line.get("reason") == "account_rate" for line in log_lines(limited))

    wait_until(refused_line, READY_DEADLINE_SECONDS, "the rejection's log line")
    line = next(line for line in log_lines(limited) if line.get("reason") == "account_rate")
    assert line["level"] == "info"
    assert line["logger"] == "dcrm.node.rejections"
    assert "exceeds limits.account_tx_per_second" in str(line["message"])


def test_committed_block_json_line(limited: NodeProcess) -> None:
    with Client(limited.endpoint) as client:
        receipt = client.system.remark(client.account(BOB), b"logged")
    wait_until(
        lambda: any(line.get("height") == receipt.height and "block_hash" in line for line in log_lines(limited)),
        READY_DEADLINE_SECONDS,
        "the committed block's line",
    )
    line = next(line for line in log_lines(limited) if line.get("height") == receipt.height and "block_hash" in line)
    assert line["level"] == "info"
    assert line["logger"] == "dcrm.node.chain"
    transactions = line["transactions"]
    assert isinstance(transactions, int)
    assert transactions >= 1
    assert str(line["message"]).startswith(f"committed block {receipt.height} with {transactions} transactions")
    assert isinstance(line["block_hash"], str)
    assert len(str(line["block_hash"])) == 64
    assert len(str(line["state_root"])) == 64
    assert isinstance(line["import_ms"], float)
    assert str(line["ts"]).endswith("Z")


def test_stream_cap_per_client(limited: NodeProcess) -> None:
    with grpc.insecure_channel(limited.endpoint) as channel:
        stub = node_pb2_grpc.NodeStub(channel)
        first = stub.StreamBlocks(node_pb2.StreamBlocksRequest(from_height=0), timeout=30)
        next(first)
        second = stub.StreamBlocks(node_pb2.StreamBlocksRequest(from_height=0), timeout=30)
        with pytest.raises(grpc.RpcError) as caught:
            next(second)
        first.cancel()
    assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "open streams, at most limits.max_streams = 1" in (caught.value.details() or "")


def test_peer_rate_limit_then_metrics_count_the_refusals(limited: NodeProcess) -> None:
    codes = []
    with grpc.insecure_channel(limited.endpoint) as channel:
        stub = node_pb2_grpc.NodeStub(channel)
        for _ in range(80):  # more than the burst of 60
            try:
                stub.GetStatus(node_pb2.GetStatusRequest(), timeout=10)
                codes.append(grpc.StatusCode.OK)
            except grpc.RpcError as error:
                codes.append(error.code())
                details = error.details() or ""
    assert grpc.StatusCode.RESOURCE_EXHAUSTED in codes
    assert "exceeds limits.peer_requests_per_second (1 calls/s, burst 60)" in details
    samples = scrape(limited)
    assert samples['dcrm_admission_rejections_total{reason="peer_rate"}'] >= 1
    assert samples['dcrm_grpc_requests_total{code="RESOURCE_EXHAUSTED",method="dcrm.v1.Node/GetStatus"}'] >= 1


# --- metrics of a node with default limits ----------------------------------------------------------------


def test_metrics_move_after_a_transaction(tmp_path: Path) -> None:
    node = local_node(tmp_path / "chain")
    node.env = {"DCRM_METRICS_LISTEN": "127.0.0.1:0"}
    node.start()
    try:
        before = scrape(node)
        with Client(node.endpoint) as client:
            receipt = client.system.remark(client.account(ALICE), b"counted")
        wait_until(lambda: scrape(node)["dcrm_chain_height"] >= receipt.height, READY_DEADLINE_SECONDS, "the height")
        after = scrape(node)
    finally:
        node.kill()
    assert after["dcrm_committed_transactions_total"] >= before.get("dcrm_committed_transactions_total", 0) + 1
    assert after["dcrm_blocks_committed_total"] > before.get("dcrm_blocks_committed_total", 0)
    assert after["dcrm_block_import_seconds_count"] > before.get("dcrm_block_import_seconds_count", 0)
    assert after['dcrm_grpc_requests_total{code="OK",method="dcrm.v1.Node/SubmitAndWait"}'] == 1
    assert after['dcrm_grpc_request_seconds_count{method="dcrm.v1.Node/SubmitAndWait"}'] == 1
    assert after["dcrm_mempool_transactions"] == 0
    assert after["dcrm_consensus_view"] == 0
    assert after["dcrm_peers"] == 0
    assert "dcrm_consensus_round_timeouts_total" in after
