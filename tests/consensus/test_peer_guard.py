"""The PBFT driver's PeerGuard on a hand-driven clock: what honest validators send passes, offences are dropped,
and a peer that keeps offending is banned for the cooling-off period, once."""

from __future__ import annotations

import pytest

from dcrm.node.consensus.pbft.messages import encode
from dcrm.node.consensus.peer_guard import PeerGuard, PeerPolicy
from dcrm.node.network.transport import PeerId
from dcrm.v1 import consensus_pb2, types_pb2

PEER = PeerId("12D3KooWTestPeer0000000000000000000000000000000001")
OTHER = PeerId("12D3KooWTestPeer0000000000000000000000000000000002")
POLICY = PeerPolicy(cooling_off_seconds=30.0)


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


class Bans:
    def __init__(self) -> None:
        self.calls: list[tuple[PeerId, float, str]] = []

    def __call__(self, peer: PeerId, seconds: float, reason: str) -> None:
        self.calls.append((peer, seconds, reason))


def make_guard(policy: PeerPolicy = POLICY) -> tuple[PeerGuard, Clock, Bans]:
    clock, bans = Clock(), Bans()
    return PeerGuard(policy, bans, clock=clock), clock, bans


def vote(view: int, padding: int = 0) -> bytes:
    signed = types_pb2.SignedVote(body=view.to_bytes(8, "big") + bytes(padding), signature=bytes(65))
    return encode(signed)


def test_an_honest_pattern_never_offends() -> None:
    guard, clock, bans = make_guard()
    # Four new messages per height at 100 heights a second, and each one retransmitted every 500 ms for a while.
    for step in range(2_000):
        clock.now += 0.01
        for kind in range(4):
            assert guard.consensus_message(PEER, vote(step * 4 + kind))
    for _ in range(240):  # a stalled height: the same signed messages every retransmit interval for 2 minutes
        clock.now += 0.5
        for kind in range(4):
            assert guard.consensus_message(PEER, vote(kind))
    assert not guard.offences(PEER)
    assert bans.calls == []


@pytest.mark.parametrize(
    ("kind", "payload"),
    [
        ("undecodable", b"\xff\xff\xff\xff"),  # not protobuf
        ("undecodable", consensus_pb2.ConsensusMessage().SerializeToString()),  # decodes, carries nothing
        ("undecodable", b"\x9a\x05\x03abc"),  # only an unknown field
        ("oversized", vote(0, padding=POLICY.max_vote_bytes)),
    ],
)
def test_offences_are_dropped_and_a_repeat_offender_is_banned_once(kind: str, payload: bytes) -> None:
    guard, clock, bans = make_guard()
    tolerated = int(POLICY.tolerated_offences)
    for _ in range(tolerated):
        assert not guard.consensus_message(PEER, payload)
    assert guard.offences(PEER)[kind] == tolerated
    assert bans.calls == []
    assert not guard.consensus_message(PEER, payload)  # the one too many
    assert len(bans.calls) == 1
    peer, seconds, reason = bans.calls[0]
    assert (peer, seconds) == (PEER, POLICY.cooling_off_seconds)
    assert f"{tolerated + 1} {kind}" in reason
    # Cooling off: everything from it is dropped, nothing counts, no second ban; other peers are unaffected.
    for view in range(100):
        assert not guard.consensus_message(PEER, vote(view))
    assert len(bans.calls) == 1
    assert guard.consensus_message(OTHER, vote(1))
    clock.now += POLICY.cooling_off_seconds
    assert guard.consensus_message(PEER, vote(1))  # back, with a clean record
    assert not guard.offences(PEER)


def test_an_oversized_message_of_any_kind_offends() -> None:
    guard, _, _ = make_guard(PeerPolicy(max_message_bytes=1_000))
    big = encode(consensus_pb2.Proposal(body=b"b", signature=bytes(65), block=bytes(1_000)))
    assert not guard.consensus_message(PEER, big)
    assert guard.offences(PEER)["oversized"] == 1
    assert guard.consensus_message(PEER, encode(consensus_pb2.Proposal(body=b"b", signature=bytes(65), block=b"x")))


def test_a_flood_beyond_the_rate_is_dropped_then_banned() -> None:
    guard, clock, bans = make_guard()
    passed = sum(guard.consensus_message(PEER, vote(view)) for view in range(int(POLICY.message_burst)))
    assert passed == POLICY.message_burst
    assert not guard.consensus_message(PEER, vote(10**6))
    assert guard.offences(PEER)["flood"] == 1
    for view in range(int(POLICY.tolerated_offences)):
        guard.consensus_message(PEER, vote(2 * 10**6 + view))
    assert len(bans.calls) == 1
    assert "flood" in bans.calls[0][2]
    clock.now += POLICY.cooling_off_seconds + 1
    assert guard.consensus_message(PEER, vote(3 * 10**6))


def test_the_same_bytes_replayed_fast_are_dropped_then_banned() -> None:
    guard, clock, bans = make_guard()
    replay = vote(7)
    assert all(guard.consensus_message(PEER, replay) for _ in range(int(POLICY.copy_burst)))
    assert not guard.consensus_message(PEER, replay)
    assert guard.offences(PEER)["replayed"] == 1
    assert guard.consensus_message(PEER, vote(8))  # other messages still pass
    clock.now += 1.0  # four more copies allowed after a second
    assert sum(guard.consensus_message(PEER, replay) for _ in range(10)) == int(POLICY.copies_per_second)
    for _ in range(int(POLICY.tolerated_offences)):
        guard.consensus_message(PEER, replay)
    assert len(bans.calls) == 1
    assert "replayed" in bans.calls[0][2]


def test_rare_offences_are_forgiven() -> None:
    guard, clock, bans = make_guard()
    for _ in range(500):  # one garbage message every 3 s, forever: never banned
        clock.now += 3.0
        assert not guard.consensus_message(PEER, b"\xff")
    assert bans.calls == []


def test_catch_up_requests_and_answers() -> None:
    guard, _, bans = make_guard()
    request = consensus_pb2.CatchUpRequest(from_height=5).SerializeToString()
    decoded = guard.catch_up_request(PEER, request)
    assert decoded is not None
    assert decoded.from_height == 5
    assert guard.catch_up_request(PEER, b"\xff\xff") is None
    assert guard.catch_up_request(PEER, bytes(POLICY.max_request_bytes + 1)) is None
    assert guard.offences(PEER) == {"undecodable": 1, "oversized": 1}
    blocks = encode(consensus_pb2.CertifiedBlocks())
    assert guard.catch_up_answer(PEER, blocks)
    assert not guard.catch_up_answer(PEER, vote(1))
    assert not guard.catch_up_answer(PEER, b"\xff")
    assert guard.offences(PEER)["undecodable catch-up answer"] == 2
    assert bans.calls == []


def test_policy_values_are_checked() -> None:
    with pytest.raises(ValueError, match="cooling_off_seconds"):
        PeerPolicy(cooling_off_seconds=0)
    with pytest.raises(ValueError, match="at least 1"):
        PeerPolicy(tolerated_offences=0)
