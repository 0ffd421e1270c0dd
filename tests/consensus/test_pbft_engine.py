"""Four PBFT engines in one process over the in-memory transport: real runtime, mempools and storage."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import pytest

from dcrm.client.keys import SigningKey
from dcrm.client.transactions import build_transaction
from dcrm.node.api.admission import Admission
from dcrm.node.chain import Chain
from dcrm.node.config import ConsensusConfig
from dcrm.node.consensus.pbft_engine import PbftEngine
from dcrm.node.mempool import Mempool
from dcrm.node.network.memory import MemoryNetwork, MemoryTransport
from dcrm.node.network.transport import PeerId
from dcrm.runtime import Runtime
from dcrm.runtime.modules import default_modules
from dcrm.runtime.state.kv import MemoryKV
from dcrm.v1 import system_pb2, types_pb2
from tests.support.node_process import wait_until
from tests.support.runtime_harness import GenesisBuilder, deterministic_key

VALIDATORS = [deterministic_key(1000 + index) for index in range(4)]
CONFIG = ConsensusConfig(block_interval_ms=10, idle_block_ms=200, view_timeout_ms=600)


@dataclass
class Validator:
    key: SigningKey
    chain: Chain
    mempool: Mempool
    admission: Admission
    transport: MemoryTransport
    engine: PbftEngine


def peer_id(index: int) -> PeerId:
    return PeerId(f"12D3KooWTestPeer{index:034d}")


def start_validator(
    network: MemoryNetwork,
    index: int,
    store: MemoryKV | None = None,
    *,
    extra_peers: Sequence[PeerId] = (),
    **options: Any,
) -> Validator:
    """Validator `index` of four, on its own storage. `extra_peers` join the allowlist (peers that are no
    validators); `options` go to the PbftEngine (metrics, peer_policy)."""
    genesis = GenesisBuilder(validators=VALIDATORS).build()
    chain = Chain(store or MemoryKV(), Runtime(genesis.chain_id, default_modules()), genesis)
    mempool = Mempool(10_000, 64)
    admission = Admission(chain, mempool)
    peers = {peer_id(i): VALIDATORS[i].account_id for i in range(4)}
    transport = MemoryTransport(network, peer_id(index), [*peers, *extra_peers])

    engine = PbftEngine(chain, mempool, VALIDATORS[index], CONFIG, transport, peers, admission.admit_quietly, **options)
    transport.start()
    engine.start()
    return Validator(VALIDATORS[index], chain, mempool, admission, transport, engine)


def stop_validator(validator: Validator) -> None:
    validator.engine.stop()
    validator.transport.stop()


@pytest.fixture
def network() -> Iterator[tuple[MemoryNetwork, list[Validator]]]:
    net = MemoryNetwork()
    validators = [start_validator(net, index) for index in range(4)]
    try:
        yield net, validators
    finally:
        for validator in validators:
            stop_validator(validator)


def remark(key: SigningKey, nonce: int) -> types_pb2.Transaction:
    return build_transaction(
        key,
        chain_id="dcrm-test",
        nonce=nonce,
        valid_until=10_000,
        module=0,
        method=2,
        args=system_pb2.Remark(note=nonce.to_bytes(2, "big")),
    )


def same_chain(validators: list[Validator], height: int) -> bool:
    if any(v.chain.head.height < height for v in validators):
        return False
    hashes = {v.chain.store.block_hash(height) for v in validators}
    return len(hashes) == 1


def test_four_validators_commit_the_same_blocks(network: tuple[MemoryNetwork, list[Validator]]) -> None:
    _, validators = network
    sender = deterministic_key(7)
    for nonce in range(20):
        entry = validators[nonce % 4]
        entry.engine.notify_transactions([entry.admission.admit(remark(sender, nonce))])
    wait_until(
        lambda: all(v.chain.runtime.next_nonce(v.chain.kv, sender.account_id) == 20 for v in validators),
        60,
        "all 20 transactions committed on every validator",
    )
    height = min(v.chain.head.height for v in validators)
    for h in range(1, height + 1):
        assert len({v.chain.store.block_hash(h) for v in validators}) == 1, f"validators differ at height {h}"
    certificate = validators[0].chain.store.block(height)
    assert certificate is not None
    assert len(certificate.certificate.votes) >= 3


def test_commits_continue_with_one_validator_down(network: tuple[MemoryNetwork, list[Validator]]) -> None:
    net, validators = network
    wait_until(lambda: same_chain(validators, 2), 60, "the first blocks")
    stop_validator(validators[1])  # whoever leads next, one of four may fail
    live = [validators[i] for i in (0, 2, 3)]
    target = max(v.chain.head.height for v in live) + 5
    wait_until(lambda: same_chain(live, target), 60, "commits with three of four validators")
    # The stopped validator comes back on its own storage and catches up.
    validators[1] = start_validator(net, 1, store=validators[1].chain.kv)  # type: ignore[arg-type]
    wait_until(lambda: same_chain(validators, target + 3), 60, "the restarted validator caught up")
