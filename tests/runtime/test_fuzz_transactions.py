"""Bad input, tried for real, at the runtime's entry: transaction decoding and every call's arguments.

Starting from a valid signed transaction of every call (`tests/support/call_world.py`), hypothesis flips,
truncates and extends its bytes, changes its body's fields and re-signs it, and damages the call's arguments
field by field or byte by byte. The runtime must answer every variant with a SignedTransaction or a TxRejected
naming the rule (never another exception), and every variant that passes admission must be includable and
yield a receipt: never CallPanicked, and a failed call writes nothing but its sender's nonce.
"""

from __future__ import annotations

import pytest
from google.protobuf.message import DecodeError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dcrm.runtime import STATE_PREFIX, SignedTransaction
from dcrm.runtime.errors import Rejection, TxRejected
from dcrm.runtime.modules import default_modules
from dcrm.runtime.modules.system import errors as system_errors
from dcrm.runtime.storage import U64
from dcrm.v1 import types_pb2
from tests.support.call_world import KEYS, KNOWN_BYTES, KNOWN_STRINGS, CallWorld, Seed
from tests.support.mutations import mutate_bytes, mutate_message

FUZZ = settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
NONCE_PREFIX = STATE_PREFIX + b"system/nonce/"
WORLD = CallWorld()
SEEDS = WORLD.seeds()
CALL_NAMES = {
    (module.index, call.index): f"{module.name}.{call.name}" for module in default_modules() for call in module.calls
}
# The errors a receipt may name: the system module's (MissingRole) and those of the call's own module.
ERRORS = {(error.module_index, error.code): error.name for module in default_modules() for error in module.errors}


@pytest.fixture
def world() -> CallWorld:
    return WORLD


def decode(world: CallWorld, tx: types_pb2.Transaction) -> SignedTransaction | TxRejected:
    """The runtime's verdict on `tx`: only a SignedTransaction or a TxRejected with a reason and a message."""
    try:
        signed = world.runtime.decode_transaction(tx)
        world.runtime.validate_transaction(world.store, signed, world.next_height)
    except TxRejected as error:
        rejected = error
    else:
        return signed
    assert isinstance(rejected.reason, Rejection)
    assert rejected.message, f"{rejected.reason} without a message"
    return rejected


def test_every_call_has_a_seed_that_succeeds(world: CallWorld) -> None:
    assert {(seed.module, seed.method) for seed in SEEDS} == set(CALL_NAMES)
    for seed in SEEDS:
        verdict = decode(world, world.sign(seed.sender, seed.module, seed.method, seed.args))
        assert isinstance(verdict, SignedTransaction), f"{CALL_NAMES[seed.module, seed.method]}: {verdict}"
        receipt = world.apply(verdict).receipts[0]
        assert receipt.success, f"{CALL_NAMES[seed.module, seed.method]}: {receipt.error}"


# --- (a) decoding: damaged bytes ---------------------------------------------------------------------------


@settings(FUZZ, max_examples=300)
@given(data=st.data())
def test_damaged_transaction_bytes_are_rejected_precisely(world: CallWorld, data: st.DataObject) -> None:
    seed: Seed = data.draw(st.sampled_from(SEEDS), label="seed")
    valid = world.sign(seed.sender, seed.module, seed.method, seed.args)
    part = data.draw(st.sampled_from(["body", "signature", "transaction", "random"]), label="damaged")
    if part == "random":
        damaged = types_pb2.Transaction(
            body=data.draw(st.binary(max_size=300)), signature=data.draw(st.binary(max_size=80))
        )
    elif part == "transaction":
        raw = mutate_bytes(data, valid.SerializeToString())
        try:
            damaged = types_pb2.Transaction.FromString(raw)
        except DecodeError:
            return  # the API answers INVALID_ARGUMENT before the runtime sees it (tests/node/test_api_garbage.py)
    else:
        damaged = types_pb2.Transaction()
        damaged.CopyFrom(valid)
        setattr(damaged, part, mutate_bytes(data, getattr(valid, part)))
    verdict = decode(world, damaged)
    body_changed, signature_changed = damaged.body != valid.body, damaged.signature != valid.signature
    if body_changed or signature_changed:
        # The signature binds the body: no damaged variant is ever accepted.
        assert isinstance(verdict, TxRejected), f"accepted a damaged transaction: {damaged}"
    else:
        assert isinstance(verdict, SignedTransaction)
        assert verdict.hash == world.runtime.decode_transaction(valid).hash
    if signature_changed and not body_changed:
        assert isinstance(verdict, TxRejected)
        assert verdict.reason is Rejection.BAD_SIGNATURE, verdict


CHAIN_IDS = ("dcrm-test", "dcrm-other", "", "dcrm-test\x00")


def expected_rejection(world: CallWorld, body: types_pb2.TxBody, signer: bytes) -> Rejection | None:
    """What decode + validate must say about a re-signed body whose arguments are the seed's (valid) ones,
    following the documented order of the checks."""
    if body.chain_id != world.harness.genesis.chain_id:
        return Rejection.WRONG_CHAIN
    if len(body.sender) != 20 or not body.HasField("call"):
        return Rejection.MALFORMED
    if (body.call.module, body.call.method) not in CALL_NAMES:
        return Rejection.UNKNOWN_CALL
    if body.sender != signer:
        return Rejection.BAD_SIGNATURE
    height = world.next_height
    if not height <= body.valid_until <= height + 100_000:  # the harness genesis: max_validity_blocks
        return Rejection.EXPIRED
    expected = world.runtime.next_nonce(world.store, body.sender)
    if body.nonce < expected:
        return Rejection.STALE_NONCE
    if body.nonce >= expected + 64:  # max_future_nonces
        return Rejection.FUTURE_NONCE
    return None


@settings(FUZZ, max_examples=200)
@given(data=st.data())
def test_resigned_body_fields_get_the_documented_reason(world: CallWorld, data: st.DataObject) -> None:
    seed: Seed = data.draw(st.sampled_from(SEEDS), label="seed")
    body = types_pb2.TxBody.FromString(world.sign(seed.sender, seed.module, seed.method, seed.args).body)
    nonce = body.nonce
    height = world.next_height
    changes = data.draw(st.sets(st.sampled_from(["chain", "sender", "nonce", "until", "call", "module", "method"])))
    if "chain" in changes:
        body.chain_id = data.draw(st.sampled_from(CHAIN_IDS))
    if "sender" in changes:
        body.sender = data.draw(st.sampled_from([*KNOWN_BYTES, bytes(19), bytes(21)]))
    if "nonce" in changes:
        body.nonce = data.draw(st.sampled_from([max(nonce - 1, 0), nonce + 1, nonce + 63, nonce + 64, 2**64 - 1]))
    if "until" in changes:
        body.valid_until = data.draw(st.sampled_from([0, height - 1, height, height + 100_000, height + 100_001]))
    if "module" in changes:
        body.call.module = data.draw(st.sampled_from([5, 9, 2**32 - 1]))
    if "method" in changes:
        body.call.method = data.draw(st.sampled_from([12, 99]))
    if "call" in changes:
        body.ClearField("call")
    signer = seed.sender
    raw = body.SerializeToString()
    verdict = decode(world, types_pb2.Transaction(body=raw, signature=signer.sign_recoverable(raw)))
    expected = expected_rejection(world, body, signer.account_id)
    if expected is None:
        assert isinstance(verdict, SignedTransaction), verdict
    else:
        assert isinstance(verdict, TxRejected), f"expected {expected}, accepted"
        assert verdict.reason is expected, (expected, verdict)


# --- (b) every call's arguments, applied in a block ----------------------------------------------------------


def damaged_arguments(data: st.DataObject, seed: Seed) -> bytes:
    how = data.draw(st.sampled_from(["fields", "fields", "fields", "bytes", "random"]), label="how")
    if how == "random":
        return data.draw(st.binary(max_size=200), label="random arguments")
    if how == "bytes":
        return mutate_bytes(data, seed.args.SerializeToString())
    args = type(seed.args)()
    args.CopyFrom(seed.args)
    mutate_message(data, args, strings=KNOWN_STRINGS, blobs=KNOWN_BYTES, max_steps=2)
    return args.SerializeToString()


@settings(FUZZ, max_examples=25)
@pytest.mark.parametrize("seed", SEEDS, ids=[CALL_NAMES[seed.module, seed.method] for seed in SEEDS])
@given(data=st.data())
def test_damaged_arguments_are_refused_or_fail_cleanly(world: CallWorld, seed: Seed, data: st.DataObject) -> None:
    check_damaged_arguments(world, seed, data)


def check_damaged_arguments(world: CallWorld, seed: Seed, data: st.DataObject) -> None:
    name = CALL_NAMES[seed.module, seed.method]
    args = damaged_arguments(data, seed)
    sender = seed.sender if data.draw(st.integers(0, 4)) else data.draw(st.sampled_from(KEYS), label="sender")
    verdict = decode(world, world.sign(sender, seed.module, seed.method, args))
    if isinstance(verdict, TxRejected):
        # A correctly signed, fresh transaction is refused only for its arguments or its sender's role.
        assert verdict.reason in (Rejection.BAD_ARGUMENTS, Rejection.PERMISSION_DENIED), verdict
        assert name in verdict.message or "call.args" in verdict.message, verdict.message
        return
    result = world.apply(verdict)  # admitted, so includable: BlockInvalid here would be a bug
    receipt = result.receipts[0]
    assert (receipt.error.module, receipt.error.code) != (0, system_errors.CALL_PANICKED.code), (
        f"{name} panicked: {receipt.error.message}"
    )
    again = world.apply(verdict)
    assert (again.state_root, again.receipts_root) == (result.state_root, result.receipts_root), "not deterministic"
    if receipt.success:
        return
    assert ERRORS.get((receipt.error.module, receipt.error.code)) == receipt.error.name, receipt.error
    assert receipt.error.module in (0, seed.module), receipt.error
    assert not receipt.events
    # Nothing but the nonce: the block equals the empty block plus the sender's next nonce.
    expected = world.state_changes(world.empty_block)
    expected[NONCE_PREFIX + sender.account_id] = U64.encode(verdict.nonce + 1)
    assert world.state_changes(result) == expected
