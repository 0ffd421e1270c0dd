"""SIGKILL a node under load: every transaction acknowledged as committed survives, and replay agrees."""

from __future__ import annotations

import threading
from pathlib import Path

from dcrm.client import Client, DcrmError
from dcrm.client.keys import SigningKey
from dcrm.client.transactions import build_transaction
from dcrm.v1 import system_pb2, types_pb2
from tests.support.node_process import local_node, wait_until
from tests.support.replay import replay_chain
from tests.support.runtime_harness import deterministic_key

SENDERS = 6
MAX_TRANSACTIONS_PER_SENDER = 400
ACKNOWLEDGED_BEFORE_KILL = 150


def test_sigkill_under_load_loses_nothing_acknowledged(tmp_path: Path) -> None:
    node = local_node(tmp_path / "chain")
    node.start()
    acknowledged: dict[bytes, types_pb2.Receipt] = {}
    lock = threading.Lock()
    stop = threading.Event()
    killed = threading.Event()
    failures: list[DcrmError] = []

    def load(key: SigningKey) -> None:
        with Client(node.endpoint, timeout=5) as client:
            chain_id = client.chain_id()
            for nonce in range(MAX_TRANSACTIONS_PER_SENDER):
                if stop.is_set():
                    return
                tx = build_transaction(
                    key,
                    chain_id=chain_id,
                    nonce=nonce,
                    valid_until=50_000,
                    module=0,
                    method=2,
                    args=system_pb2.Remark(note=nonce.to_bytes(4, "big")),
                )
                try:
                    receipt = client.submit_and_wait(tx, timeout=10)
                except DcrmError as error:
                    if not killed.is_set():
                        failures.append(error)  # not the kill: report it instead of timing out
                    return
                with lock:
                    acknowledged[receipt.tx_hash] = receipt

    threads = [threading.Thread(target=load, args=(deterministic_key(300 + i),)) for i in range(SENDERS)]
    try:
        for thread in threads:
            thread.start()
        wait_until(lambda: bool(failures) or len(acknowledged) >= ACKNOWLEDGED_BEFORE_KILL, 120, "acknowledged commits")
        assert not failures, failures[0]
        killed.set()
        node.kill()
    finally:
        stop.set()
        killed.set()
        node.kill()  # also when the load failed: no node outlives the test
        for thread in threads:
            thread.join(60)
    with lock:
        survivors = dict(acknowledged)
    assert len(survivors) >= ACKNOWLEDGED_BEFORE_KILL

    node.start()
    try:
        with Client(node.endpoint) as client:
            for tx_hash, receipt in survivors.items():
                assert client.transaction(tx_hash).receipt == receipt
            head = client.status().height
            head_header = types_pb2.BlockHeader.FromString(client.block(height=head).block.header)
            assert replay_chain(client, node.genesis, head) == head_header.state_root
    finally:
        node.kill()
