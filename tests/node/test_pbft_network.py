"""Four validator processes agreeing by PBFT over libp2p: faults tried for real.

SIGKILL the next leader under load; SIGKILL two of four (the chain halts without forking, then resumes);
wipe a validator's data (it catches up and votes again). Every transaction acknowledged as committed is
checked afterwards, and every node must hold the same block at every height.
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from dcrm.client import Client, DcrmError
from dcrm.client.keys import SigningKey
from dcrm.client.transactions import build_transaction
from dcrm.v1 import system_pb2, types_pb2
from tests.support.network_processes import LocalNetwork, local_network
from tests.support.node_process import NodeProcess, wait_until
from tests.support.runtime_harness import deterministic_key

DEADLINE = 90.0


@pytest.fixture
def network(tmp_path: Path) -> Iterator[LocalNetwork]:
    net = local_network(tmp_path / "chain", validators=4)
    try:
        net.start()
        yield net
    finally:
        net.kill_all()


def height(node: NodeProcess) -> int:
    with Client(node.endpoint, timeout=5) as client:
        return client.status().height


def block_hash(node: NodeProcess, at: int) -> bytes:
    with Client(node.endpoint, timeout=5) as client:
        return client.block(height=at).block_hash


def agree(nodes: list[NodeProcess], up_to: int) -> None:
    """Every node holds the same block at every height up to `up_to`."""
    for at in range(1, up_to + 1):
        assert len({block_hash(node, at) for node in nodes}) == 1, f"nodes differ at height {at}"


def reached(nodes: list[NodeProcess], target: int) -> bool:
    try:
        return all(height(node) >= target for node in nodes)
    except DcrmError:
        return False


class Load:
    """Remarks from a few senders through the given nodes, each acknowledged by SubmitAndWait. Bounded."""

    def __init__(self, nodes: list[NodeProcess], senders: int = 3, per_sender: int = 300) -> None:
        self.acknowledged: dict[bytes, types_pb2.Receipt] = {}
        self.failures: list[DcrmError] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [
            threading.Thread(target=self._run, args=(deterministic_key(500 + i), nodes, per_sender))
            for i in range(senders)
        ]

    def _run(self, key: SigningKey, nodes: list[NodeProcess], per_sender: int) -> None:
        with Client([node.endpoint for node in nodes], timeout=10) as client:
            chain_id = client.chain_id()
            nonce = 0
            while nonce < per_sender and not self._stop.is_set():
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
                    receipt = client.submit_and_wait(tx, timeout=30)
                except DcrmError as error:
                    if not self._stop.is_set():
                        self.failures.append(error)
                    return
                with self._lock:
                    self.acknowledged[receipt.tx_hash] = receipt
                nonce += 1

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(60)

    def count(self) -> int:
        with self._lock:
            return len(self.acknowledged)


def next_leader(net: LocalNetwork, head: int) -> int:
    """Index of the validator leading view 0 of the next height: validators[(h + view) % n]."""
    with Client(net.nodes[0].endpoint) as client:
        accounts = [validator.account for validator in client.status().validators]
    leader = accounts[(head + 1) % len(accounts)]
    return next(i for i, node in enumerate(net.nodes) if node.validator.account_id == leader)


def test_leader_killed_under_load_loses_nothing(network: LocalNetwork) -> None:
    nodes = network.nodes
    wait_until(lambda: reached(nodes, 2), DEADLINE, "the first blocks")
    victim = next_leader(network, height(nodes[0]))
    survivors = [node for i, node in enumerate(nodes) if i != victim]
    with Load(survivors) as load:
        wait_until(lambda: load.count() >= 20 or bool(load.failures), DEADLINE, "acknowledged commits")
        nodes[victim].kill()
        killed_at = load.count()
        wait_until(lambda: load.count() >= killed_at + 30 or bool(load.failures), DEADLINE, "commits after the kill")
    assert not load.failures, load.failures[0]
    nodes[victim].start()
    target = max(height(node) for node in survivors)
    wait_until(lambda: reached(nodes, target), DEADLINE, "the killed leader caught up")
    agree(nodes, target)
    with Client(nodes[victim].endpoint) as client:
        for tx_hash, receipt in load.acknowledged.items():
            assert client.transaction(tx_hash).receipt == receipt


def test_two_of_four_down_halts_without_fork_then_resumes(network: LocalNetwork) -> None:
    nodes = network.nodes
    wait_until(lambda: reached(nodes, 3), DEADLINE, "the first blocks")
    nodes[2].kill()
    nodes[3].kill()
    halted = height(nodes[0])
    # Two of four cannot form a quorum of three: at most the block already in flight may still commit.
    deadline = time.monotonic() + 4
    while time.monotonic() < deadline:
        assert max(height(nodes[0]), height(nodes[1])) <= halted + 1
        time.sleep(0.2)
    nodes[2].start()
    nodes[3].start()
    target = halted + 5
    wait_until(lambda: reached(nodes, target), DEADLINE, "commits after two validators returned")
    agree(nodes, target)
    log = nodes[0].log_path.read_text()
    assert " disconnected" in log  # the operator sees the peers go away
    assert log.count(" connected") >= 5  # three at start, two again on return


def test_wiped_validator_catches_up_and_votes_again(network: LocalNetwork) -> None:
    nodes = network.nodes
    wait_until(lambda: reached(nodes, 5), DEADLINE, "the first blocks")
    nodes[1].kill()
    shutil.rmtree(nodes[1].data_dir)
    nodes[1].start()
    target = max(height(node) for node in nodes) + 3
    wait_until(lambda: reached(nodes, target), DEADLINE, "the wiped validator caught up")
    agree(nodes, target)
    signer = nodes[1].validator

    def signed_recently() -> bool:
        with Client(nodes[0].endpoint) as client:
            head = client.status().height
            for at in range(max(1, head - 5), head + 1):
                certificate = client.block(height=at).certificate
                if any(_signer_of(vote) == signer.account_id for vote in certificate.votes):
                    return True
        return False

    wait_until(signed_recently, DEADLINE, "a certificate signed by the wiped validator")


def _signer_of(vote: types_pb2.SignedVote) -> bytes:
    from dcrm.client.keys import account_id_from_public_key, recover_public_key

    return account_id_from_public_key(recover_public_key(vote.body, vote.signature))
