"""Bad input, tried for real, at a PBFT engine's peer handlers: consensus messages, catch-up requests and
transaction bundles, random or mutated from real traffic, straight into the handlers of running engines.

Every payload is dropped or handled: no exception escapes a handler, the driver thread never fails on what a
handler passed on, and the four engines keep committing afterwards. The engines run a lenient PeerPolicy so
that the garbage reaches the core instead of getting its sender disconnected (tests/consensus/
test_malicious_peer.py covers that).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator

import pytest
from google.protobuf.message import DecodeError, Message
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dcrm.node.consensus.pbft_engine import CONSENSUS_CHANNEL
from dcrm.node.consensus.peer_guard import PeerPolicy
from dcrm.node.network.memory import MemoryNetwork
from dcrm.node.network.transport import PeerId
from dcrm.v1 import consensus_pb2, node_pb2, types_pb2
from tests.consensus.test_pbft_engine import Validator, peer_id, remark, same_chain, start_validator, stop_validator
from tests.support.mutations import mutate_bytes, mutate_message
from tests.support.node_process import wait_until
from tests.support.runtime_harness import deterministic_key

LENIENT = PeerPolicy(
    messages_per_second=1e9,
    message_burst=1e9,
    copies_per_second=1e9,
    copy_burst=1e9,
    tolerated_offences=1e9,
)
FUZZ = settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
SENDER = deterministic_key(77)
RECORDED = 400


class Tap:
    """Stands in front of validator 0's consensus handler: records real traffic, then hands it on."""

    def __init__(self, validator: Validator) -> None:
        self._engine = validator.engine
        self._lock = threading.Lock()
        self.payloads: list[bytes] = []

    def __call__(self, peer: PeerId, payload: bytes) -> None:
        with self._lock:
            if len(self.payloads) < RECORDED:
                self.payloads.append(payload)
        self._engine._on_message(peer, payload)

    def kinds(self) -> set[str | None]:
        with self._lock:
            return {consensus_pb2.ConsensusMessage.FromString(p).WhichOneof("message") for p in self.payloads}


class Failures(logging.Handler):
    """ERROR records of the driver and the transport's dispatch ("consensus driver failed", "handler failed")."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


class Engines:
    def __init__(self, validators: list[Validator], tap: Tap, failures: Failures) -> None:
        self.validators = validators
        self.tap = tap
        self.failures = failures

    def keep_committing(self) -> None:
        height = max(validator.chain.head.height for validator in self.validators)
        wait_until(lambda: same_chain(self.validators, height + 3), 60, "three more blocks after the garbage")
        assert not self.failures.records, [record.getMessage() for record in self.failures.records]
        for validator in self.validators:
            assert validator.transport.stats().handler_errors == 0
            assert validator.transport.stats().peers_banned == 0


@pytest.fixture
def engines() -> Iterator[Engines]:
    failures = Failures()
    loggers = [logging.getLogger("dcrm.node.consensus"), logging.getLogger("dcrm.node.network")]
    for logger in loggers:
        logger.addHandler(failures)
    network = MemoryNetwork()
    validators = [start_validator(network, index, peer_policy=LENIENT) for index in range(4)]
    tap = Tap(validators[0])
    validators[0].transport.on_message(CONSENSUS_CHANNEL, tap)
    try:
        for nonce in range(12):  # blocks with transactions, so proposals carry some
            entry = validators[nonce % 4]
            entry.engine.notify_transactions([entry.admission.admit(remark(SENDER, nonce))])
        wait_until(lambda: same_chain(validators, 4), 60, "the first blocks")
        wait_until(lambda: {"proposal", "vote"} <= tap.kinds(), 30, "proposals and votes recorded")
        yield Engines(validators, tap, failures)
    finally:
        for validator in validators:
            stop_validator(validator)
        for logger in loggers:
            logger.removeHandler(failures)


def damaged(data: st.DataObject, seeds: list[bytes], message_type: type[Message]) -> bytes:
    seed = data.draw(st.sampled_from(seeds), label="seed")
    how = data.draw(st.sampled_from(["bytes", "fields", "random"]), label="how")
    if how == "random":
        return data.draw(st.binary(max_size=400), label="random")
    if how == "bytes":
        return mutate_bytes(data, seed)
    message = message_type.FromString(seed)
    mutate_message(data, message)
    return message.SerializeToString()


def test_garbage_consensus_messages_are_dropped(engines: Engines) -> None:
    validators = engines.validators
    catch_up = validators[1].engine._serve_catch_up(
        peer_id(0), consensus_pb2.CatchUpRequest(from_height=1).SerializeToString()
    )
    seeds = [*engines.tap.payloads, catch_up]

    @settings(FUZZ, max_examples=500)
    @given(data=st.data())
    def feed(data: st.DataObject) -> None:
        target = validators[data.draw(st.integers(0, 3), label="target")]
        sender = peer_id(data.draw(st.integers(0, 3), label="sender"))
        target.engine._on_message(sender, damaged(data, seeds, consensus_pb2.ConsensusMessage))

    feed()
    assert sum(sum(v.engine.guard.offences(peer_id(i)).values()) for v in validators for i in range(4)) > 0
    engines.keep_committing()


def test_garbage_catch_up_requests_get_a_well_formed_answer(engines: Engines) -> None:
    validators = engines.validators
    head = min(validator.chain.head.height for validator in validators)
    seeds = [consensus_pb2.CatchUpRequest(from_height=h).SerializeToString() for h in (0, 1, head, 2**64 - 1)]

    @settings(FUZZ, max_examples=200)
    @given(data=st.data())
    def ask(data: st.DataObject) -> None:
        server = validators[data.draw(st.integers(0, 3), label="server")]
        payload = damaged(data, seeds, consensus_pb2.CatchUpRequest)
        answer = consensus_pb2.ConsensusMessage.FromString(server.engine._serve_catch_up(peer_id(1), payload))
        assert answer.WhichOneof("message") == "certified_blocks"
        try:
            request = consensus_pb2.CatchUpRequest.FromString(payload)
        except DecodeError:
            assert not answer.certified_blocks.blocks
            return
        blocks = answer.certified_blocks.blocks
        if len(payload) <= LENIENT.max_request_bytes and 0 < max(1, request.from_height) <= head:
            assert blocks[0].certificate.height == max(1, request.from_height)
        heights = [block.certificate.height for block in blocks]
        assert heights == list(range(heights[0], heights[0] + len(heights)) if heights else []), "not consecutive"

    ask()
    engines.keep_committing()


def test_garbage_transaction_bundles_are_dropped(engines: Engines) -> None:
    validators = engines.validators
    fresh = [remark(deterministic_key(78), nonce) for nonce in range(3)]
    committed = [remark(SENDER, nonce) for nonce in range(3)]
    seeds = [
        node_pb2.SubmitBatchRequest(transactions=fresh).SerializeToString(),
        node_pb2.SubmitBatchRequest(transactions=committed).SerializeToString(),
        node_pb2.SubmitBatchRequest(transactions=[types_pb2.Transaction()]).SerializeToString(),
    ]

    @settings(FUZZ, max_examples=200)
    @given(data=st.data())
    def gossip(data: st.DataObject) -> None:
        target = validators[data.draw(st.integers(0, 3), label="target")]
        target.engine._on_transactions(peer_id(2), damaged(data, seeds, node_pb2.SubmitBatchRequest))

    gossip()
    engines.keep_committing()
