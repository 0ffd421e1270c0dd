"""Consent genesis: empty by default, records and access log carried as exact bytes, export(build(g)) == g;
records name DIDs of the identity genesis."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from dcrm.runtime import STATE_PREFIX, Genesis, GenesisError, Runtime
from dcrm.runtime.modules import default_modules
from dcrm.runtime.modules.consent.invariants import check_invariants
from dcrm.runtime.modules.identity.did import derive_did
from dcrm.runtime.state.kv import KVStore, MemoryKV
from dcrm.v1 import consent_pb2
from tests.support.consent_chain import (
    ACCESSOR,
    ALICE,
    BOB,
    BOB_DID,
    CONTROLLER,
    DAY_MS,
    GLOBEX,
    ConsentChain,
    consent_genesis,
    make_terms,
    state_of,
)
from tests.support.runtime_harness import CHAIN_ID, RuntimeHarness


def busy_chain(store: KVStore) -> ConsentChain:
    """Records in most states, a multi-revision history, and an access log."""
    chain = ConsentChain(store)
    given = chain.grant(terms=make_terms(["newsletter", "offers"], ["email"]))
    chain.grant(BOB, subject=BOB_DID, ref=b"bob", controller=GLOBEX, valid_for_ms=1_000)  # expires
    chain.request(ref=b"open")  # stays requested
    answered = chain.request(ref=b"answered", subject=BOB_DID, subject_account=BOB.account_id)
    chain.ok(BOB, consent_pb2.GrantRequest(record_id=answered))
    chain.ok(BOB, consent_pb2.WithdrawConsent(record_id=answered))
    chain.ok(ALICE, consent_pb2.RenewConsent(record_id=given, valid_until_ms=chain.next_block_ms + 90 * DAY_MS))
    for purpose in ("newsletter", "offers"):
        chain.ok(
            CONTROLLER,
            consent_pb2.LogAccess(record_id=given, purpose=purpose, data_categories=["email"], accessor=ACCESSOR),
        )
    return chain


def test_empty_genesis_round_trip(store: KVStore) -> None:
    chain = ConsentChain(store)
    exported = chain.harness.runtime.export_genesis(store)
    assert exported.modules["consent"] == chain.harness.genesis.modules["consent"]
    assert chain.harness.runtime.export_genesis(store) == chain.harness.genesis


def test_export_then_build_reproduces_the_consent_state(store: KVStore) -> None:
    chain = busy_chain(store)
    exported = chain.harness.runtime.export_genesis(store)
    config = exported.modules["consent"]
    assert len(config["records"]) == 4
    assert len(config["access_log"]) == 2
    assert set(config) == {"records", "access_log"}  # DIDs live in the identity genesis
    rebuilt = MemoryKV()
    harness = RuntimeHarness(rebuilt, exported)
    assert harness.runtime.export_genesis(rebuilt).modules["consent"] == config  # export(build(g)) == g
    check_invariants(state_of(rebuilt))
    original = dict(store.iterate(STATE_PREFIX + b"consent/"))
    assert dict(rebuilt.iterate(STATE_PREFIX + b"consent/")) == original


def good_config() -> dict[str, Any]:
    with_records = busy_chain(MemoryKV())
    return copy.deepcopy(dict(with_records.harness.runtime.export_genesis(with_records.store).modules["consent"]))


def build(config: dict[str, Any]) -> None:
    genesis = consent_genesis().build()
    modules = dict(genesis.modules)
    modules["consent"] = config
    Runtime(CHAIN_ID, default_modules()).build_genesis(Genesis(CHAIN_ID, genesis.timestamp_ms, modules))


def _flip_revision(config: dict[str, Any], mutate: Callable[[consent_pb2.ConsentRecord], None]) -> None:
    """Re-encode the last revision of the first multi-revision record after `mutate`."""
    item = next(item for item in config["records"] if len(item["revisions"]) > 1)
    record = consent_pb2.ConsentRecord.FromString(bytes.fromhex(item["revisions"][-1]))
    mutate(record)
    item["revisions"][-1] = record.SerializeToString(deterministic=True).hex()


def _single_revision(config: dict[str, Any], mutate: Callable[[consent_pb2.ConsentRecord], None]) -> None:
    """Replace the first record by its first revision alone, after `mutate`."""
    item = config["records"][0]
    record = consent_pb2.ConsentRecord.FromString(bytes.fromhex(item["revisions"][0]))
    mutate(record)
    item["revisions"] = [record.SerializeToString(deterministic=True).hex()]


GHOST = derive_did(ALICE.account_id, b"not-in-the-identity-genesis")


def _set(name: str, value: object) -> Callable[[consent_pb2.ConsentRecord], None]:
    return lambda record: setattr(record, name, value)


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda c: c.update(extra=1), "modules.consent.extra"),
        (lambda c: c.update(dids={}), "modules.consent.dids"),  # the retired section of DID bindings
        (lambda c: c["records"].reverse(), "modules.consent.records[1]"),
        (lambda c: c["records"][0].update(revisions=[]), "modules.consent.records[0].revisions"),
        (lambda c: c["records"][0]["revisions"].__setitem__(0, "0g"), "modules.consent.records[0].revisions[0]"),
        (lambda c: _single_revision(c, _set("subject", GHOST)), "modules.consent.records[0].subject"),
        (lambda c: _single_revision(c, _set("controller", GHOST)), "modules.consent.records[0].controller"),
        (lambda c: _single_revision(c, _set("subject", "did:web:alice.example")), "revisions[0].subject"),
        (lambda c: _flip_revision(c, _set("predecessor_hash", bytes(32))), "predecessor_hash"),
        (lambda c: _flip_revision(c, _set("revision", 7)), "revision"),
        (lambda c: _flip_revision(c, _set("subject", "did:dcrm:someone-else")), "subject"),
        (lambda c: _flip_revision(c, _set("state", consent_pb2.STATE_REQUESTED)), "state"),
        (lambda c: c["access_log"].reverse(), "modules.consent.access_log[0].seq"),
        (lambda c: c["access_log"].append(c["access_log"][0]), "modules.consent.access_log[2].seq"),
    ],
)
def test_bad_genesis_names_the_field(mutate: Callable[[dict[str, Any]], None], field: str) -> None:
    config = good_config()
    build(config)  # the unmodified document is accepted
    mutate(config)
    with pytest.raises(GenesisError) as caught:
        build(config)
    assert caught.value.field == field or caught.value.field.endswith(f".{field}")


def test_genesis_records_are_checked_like_calls() -> None:
    config = good_config()
    item = config["records"][0]
    record = consent_pb2.ConsentRecord.FromString(bytes.fromhex(item["revisions"][0]))
    record.terms.notice.url = "mailto:dpo@acme.example"
    item["revisions"] = [record.SerializeToString(deterministic=True).hex()]
    with pytest.raises(GenesisError) as caught:
        build(config)
    assert caught.value.field == "modules.consent.records[0].revisions[0].terms"
    assert "looks like an e-mail address" in str(caught.value)
