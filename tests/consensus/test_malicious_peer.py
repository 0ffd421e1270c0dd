"""A malicious peer among PBFT engines over the in-memory transport: it is disconnected, the others commit on.

Either validator 3 is replaced by a raw transport that sends garbage (undecodable bytes, oversized votes, a
flood of distinct messages, or one real message replayed), so three honest validators must go on with
exactly a quorum; or a fifth allowlisted peer that is no validator sends real consensus messages.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import pytest

from dcrm.node.consensus.pbft.messages import encode
from dcrm.node.consensus.pbft_engine import CONSENSUS_CHANNEL
from dcrm.node.network.memory import MemoryNetwork, MemoryTransport
from dcrm.node.network.transport import PeerId, PeerNotConnected, TransportTimeout
from dcrm.v1 import types_pb2
from tests.consensus.test_pbft_engine import peer_id, same_chain, start_validator, stop_validator
from tests.network.support import Recorder
from tests.support.node_process import wait_until

STRANGER = PeerId("12D3KooWTestPeer9999999999999999999999999999999999")
MAX_SENDS = 10_000  # per honest peer: the culprit stops once every honest peer has sent it away


def garbage(kind: str, heard: Recorder) -> Callable[[int], bytes]:
    """The culprit's n-th payload for this kind of misbehaviour."""
    if kind == "undecodable":
        return lambda n: b"\xff\xff" + n.to_bytes(8, "big")
    if kind == "oversized":
        return lambda n: encode(types_pb2.SignedVote(body=n.to_bytes(8, "big") + bytes(8_000), signature=bytes(65)))
    if kind == "flood":  # well-formed votes (with bad signatures), each different: only their number offends
        return lambda n: encode(types_pb2.SignedVote(body=n.to_bytes(8, "big"), signature=bytes(65)))
    wait_until(lambda: heard.count() > 0, 30, "a consensus message to replay")
    replayed = heard.payloads()[0]  # a real, validly signed message of an honest validator
    return lambda n: replayed


@pytest.fixture
def network() -> MemoryNetwork:
    return MemoryNetwork()


def run_culprit(culprit: MemoryTransport, payload: Callable[[int], bytes]) -> int:
    """Send to every honest peer until all have disconnected it (bounded); returns how many were sent."""
    sent = 0
    for n in itertools.count():
        targets = culprit.peers()
        if not targets or n >= MAX_SENDS:
            break
        for peer in targets:
            try:
                culprit.send(peer, CONSENSUS_CHANNEL, payload(n), timeout=1.0)
                sent += 1
            except (PeerNotConnected, TransportTimeout):
                continue
    return sent


@pytest.mark.parametrize("kind", ["undecodable", "oversized", "flood", "replayed", "stranger"])
def test_a_misbehaving_peer_is_disconnected_and_the_validators_commit_on(network: MemoryNetwork, kind: str) -> None:
    stranger = kind == "stranger"
    honest_indexes = range(4) if stranger else range(3)
    honest = [start_validator(network, index, extra_peers=[STRANGER]) for index in honest_indexes]
    culprit_id = STRANGER if stranger else peer_id(3)
    culprit = MemoryTransport(network, culprit_id, [validator.transport.peer_id for validator in honest])
    heard = Recorder()
    culprit.on_message(CONSENSUS_CHANNEL, heard)
    culprit.start()
    try:
        wait_until(lambda: same_chain(honest, 2), 60, "the first blocks")
        wait_until(lambda: len(culprit.peers()) == len(honest), 30, "the culprit connected to every honest peer")
        payload = (lambda n: heard.payloads()[n % 8]) if stranger else garbage(kind, heard)
        if stranger:
            wait_until(lambda: heard.count() >= 8, 30, "consensus messages to pass on")
        start = min(validator.chain.head.height for validator in honest)

        sent = run_culprit(culprit, payload)

        assert not culprit.peers(), f"still connected after {sent} messages"
        for validator in honest:
            stats = validator.transport.stats()
            assert stats.peers_banned == 1, stats
            assert validator.engine.guard.bans == {culprit_id: 1}
            assert culprit_id not in validator.transport.peers()
            assert stats.handler_errors == 0
        # Without it, the honest validators go on: a quorum of three, or all four with the stranger gone.
        wait_until(lambda: same_chain(honest, start + 5), 60, "five more blocks after the attack")
        assert all(culprit_id not in validator.transport.peers() for validator in honest), "back before its time"
    finally:
        culprit.stop()
        for validator in honest:
            stop_validator(validator)
