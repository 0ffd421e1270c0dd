"""The executive: transaction decoding, validation, block application and genesis, on both backends."""

from __future__ import annotations

import pytest

from dcrm.runtime import BlockContext, BlockInvalid, Genesis, GenesisError, Runtime
from dcrm.runtime.errors import Rejection, TxRejected
from dcrm.runtime.modules import default_modules
from dcrm.runtime.state.kv import KVStore, MemoryKV
from dcrm.v1 import system_pb2, types_pb2
from tests.support.runtime_harness import CHAIN_ID, GenesisBuilder, RuntimeHarness, deterministic_key

ADMIN = deterministic_key(0)
ALICE = deterministic_key(1)
REMARK = (0, 2)


def remark(note: bytes = b"hello") -> system_pb2.Remark:
    return system_pb2.Remark(note=note)


def rejection_of(harness: RuntimeHarness, tx: types_pb2.Transaction) -> Rejection:
    with pytest.raises(TxRejected) as caught:
        signed = harness.decode(tx)
        harness.runtime.validate_transaction(harness.store, signed, harness.height + 1)
    return caught.value.reason


def test_block_applies_and_uses_nonces(store: KVStore) -> None:
    harness = RuntimeHarness(store)
    txs = [harness.sign(ALICE, *REMARK, remark(bytes([i]))) for i in range(3)]
    result = harness.apply(txs)
    assert [r.success for r in result.receipts] == [True, True, True]
    assert harness.runtime.next_nonce(store, ALICE.account_id) == 3
    assert result.receipts[2].events[0].name == "Remarked"
    assert harness.root() == result.state_root


def test_same_block_gives_same_root_on_both_backends() -> None:
    roots = []
    for kv in (MemoryKV(), MemoryKV()):
        harness = RuntimeHarness(kv)
        harness.apply([harness.sign(ALICE, *REMARK, remark()), harness.sign(ADMIN, *REMARK, remark(b"x"))])
        roots.append(harness.root())
    assert roots[0] == roots[1]


def test_failed_call_writes_nothing_but_uses_nonce(store: KVStore) -> None:
    harness = RuntimeHarness(store)
    before = dict(store.iterate(b"S"))
    # ALICE is not an admin: the call fails at dispatch (MissingRole) but is included.
    tx = harness.sign(ALICE, 0, 0, system_pb2.GrantRole(account=ALICE.account_id, role="issuer"), nonce=0)
    signed = harness.decode(tx)
    ctx = BlockContext(CHAIN_ID, 1, 1, b"\x00" * 20)
    result = harness.runtime.apply_block(store, ctx, [signed])
    receipt = result.receipts[0]
    assert not receipt.success
    assert (receipt.error.module, receipt.error.code, receipt.error.name) == (
        0,
        system_pb2.MISSING_ROLE,
        "MissingRole",
    )
    changed = {key for key, value in result.writes.items() if key.startswith(b"S") and before.get(key) != value}
    assert changed == {b"Ssystem/nonce/" + ALICE.account_id}


def test_validation_rejections(store: KVStore) -> None:
    harness = RuntimeHarness(store)
    harness.apply([harness.sign(ALICE, *REMARK, remark())])
    cases = {
        Rejection.STALE_NONCE: harness.sign(ALICE, *REMARK, remark(), nonce=0),
        Rejection.FUTURE_NONCE: harness.sign(ALICE, *REMARK, remark(), nonce=1 + 64),
        Rejection.EXPIRED: harness.sign(ALICE, *REMARK, remark(), nonce=1, valid_for=0),
        Rejection.PERMISSION_DENIED: harness.sign(
            ALICE, 0, 0, system_pb2.GrantRole(account=ALICE.account_id, role="issuer"), nonce=1
        ),
        Rejection.UNKNOWN_CALL: harness.sign(ALICE, 0, 99, remark(), nonce=1),
        Rejection.BAD_ARGUMENTS: harness.sign(ALICE, *REMARK, remark(b"x" * 300), nonce=1),
    }
    for expected, tx in cases.items():
        assert rejection_of(harness, tx) is expected, expected


def test_decode_rejects_malformed_and_forged(store: KVStore) -> None:
    harness = RuntimeHarness(store)
    good = harness.sign(ALICE, *REMARK, remark())
    forged = types_pb2.Transaction(body=good.body, signature=ADMIN.sign_recoverable(good.body))
    garbage = types_pb2.Transaction(body=b"\xff\xff\xff", signature=good.signature)
    short_signature = types_pb2.Transaction(body=good.body, signature=good.signature[:64])
    body = types_pb2.TxBody.FromString(good.body)
    body.chain_id = "other-chain"
    wrong_chain = types_pb2.Transaction(body=body.SerializeToString(), signature=good.signature)
    expected = {
        Rejection.BAD_SIGNATURE: [forged, short_signature],
        Rejection.MALFORMED: [garbage, types_pb2.Transaction()],
        Rejection.WRONG_CHAIN: [wrong_chain],
    }
    for reason, txs in expected.items():
        for tx in txs:
            with pytest.raises(TxRejected) as caught:
                harness.decode(tx)
            assert caught.value.reason is reason


def test_block_with_bad_nonce_is_invalid_and_writes_nothing(store: KVStore) -> None:
    harness = RuntimeHarness(store)
    root = harness.root()
    tx = harness.sign(ALICE, *REMARK, remark(), nonce=5)
    with pytest.raises(BlockInvalid, match="nonce"):
        harness.apply([tx])
    assert harness.root() == root


def test_genesis_export_round_trip(store: KVStore) -> None:
    genesis = GenesisBuilder().with_role("issuer", ALICE).build()
    harness = RuntimeHarness(store, genesis)
    assert harness.runtime.export_genesis(store) == genesis
    assert harness.runtime.export_genesis(store).canonical_bytes() == genesis.canonical_bytes()


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda g: g["modules"]["system"].pop("validators"), "modules.system.validators"),
        (lambda g: g["modules"]["system"]["roles"].update(admin=[]), "modules.system.roles.admin"),
        (lambda g: g["modules"]["system"]["roles"].update(admin=["zz"]), "modules.system.roles.admin[0]"),
        (lambda g: g["modules"]["system"]["roles"].update(wizard=[]), "modules.system.roles.wizard"),
        (
            lambda g: g["modules"]["system"]["params"].update(max_call_bytes=-1),
            "modules.system.params.max_call_bytes",
        ),
        (lambda g: g["modules"].update(nosuch={}), "modules.nosuch"),
        (lambda g: g.update(chain_id=""), "chain_id"),
    ],
)
def test_bad_genesis_names_the_field(mutate: object, field: str) -> None:
    data = GenesisBuilder().build().to_json()
    data = {**data, "modules": {"system": {**data["modules"]["system"]}}}
    data["modules"]["system"]["roles"] = dict(data["modules"]["system"]["roles"])
    data["modules"]["system"]["params"] = dict(data["modules"]["system"]["params"])
    mutate(data)  # type: ignore[operator]
    with pytest.raises(GenesisError) as caught:
        genesis = Genesis.from_json(data)
        Runtime(genesis.chain_id or CHAIN_ID, default_modules()).build_genesis(genesis)
    assert caught.value.field == field
