"""A runtime harness for the consent module that checks its invariants after every committed block.

Subjects and controllers are identity DIDs: `consent_genesis` creates ACME and GLOBEX (controlled by the
controller-role accounts CONTROLLER and RIVAL) and ALICE_DID, BOB_DID and MALLORY_DID (controlled by ALICE, BOB
and MALLORY) in the identity genesis, so every test starts with them. `ConsentChain` signs calls by their argument
type, applies each in its own block (or several in one), checks
`check_invariants` on the committed state, and offers the queries as typed helpers. `assert_noop` is the
consent version of FRAME's `assert_noop!`: a failed call changes nothing but the caller's nonce.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TypeVar

from google.protobuf.message import Message

from dcrm.client.keys import SigningKey
from dcrm.runtime import STATE_PREFIX, BlockResult
from dcrm.runtime.module import Module
from dcrm.runtime.modules import default_modules
from dcrm.runtime.modules.consent import ConsentModule
from dcrm.runtime.modules.consent.errors import INDEX
from dcrm.runtime.modules.consent.invariants import check_invariants
from dcrm.runtime.modules.consent.records import record_id_for
from dcrm.runtime.modules.identity.did import derive_did
from dcrm.runtime.state.kv import KVReader, KVStore
from dcrm.runtime.state.prefixed import PrefixedReader
from dcrm.v1 import consent_pb2, types_pb2
from tests.support.identity import genesis_did, identity_genesis
from tests.support.runtime_harness import (
    BLOCK_TIME_MS,
    GENESIS_TIME_MS,
    GenesisBuilder,
    RuntimeHarness,
    deterministic_key,
)

R = TypeVar("R", bound=Message)

ADMIN = deterministic_key(0)
CONTROLLER = deterministic_key(20)
RIVAL = deterministic_key(21)  # a second controller
ALICE = deterministic_key(30)
BOB = deterministic_key(31)
MALLORY = deterministic_key(32)

# Identity DIDs of the genesis, each controlled by the account of the key named, by salt.
GENESIS_DIDS = ((CONTROLLER, b"acme"), (RIVAL, b"globex"), (ALICE, b"alice"), (BOB, b"bob"), (MALLORY, b"mallory"))
ACME, GLOBEX, ALICE_DID, BOB_DID, MALLORY_DID = (derive_did(key.account_id, salt) for key, salt in GENESIS_DIDS)

DAY_MS = 86_400_000
NOTICE_HASH = bytes(range(32))
ACCESSOR = bytes(range(200, 232))  # an opaque 32-byte hash: not printable text

CALL_INDEX: dict[type[Message], int] = {call.args_type: call.index for call in ConsentModule.calls}
NONCE_PREFIX = STATE_PREFIX + b"system/nonce/"


def consent_genesis(config: dict[str, object] | None = None) -> GenesisBuilder:
    """CONTROLLER and RIVAL hold the controller role; the identity genesis holds the GENESIS_DIDS; the consent
    genesis is `config` (default empty)."""
    builder = GenesisBuilder().with_role("controller", CONTROLLER, RIVAL)
    builder.modules["identity"] = identity_genesis(
        [genesis_did(key, salt, GENESIS_TIME_MS) for key, salt in GENESIS_DIDS]
    )
    builder.modules["consent"] = config or {}
    return builder


def make_terms(
    purposes: Iterable[str] = ("newsletter",),
    categories: Iterable[str] = ("email",),
    *,
    sensitive: Iterable[str] = (),
    consent_type: int = consent_pb2.CONSENT_TYPE_EXPRESS,
) -> consent_pb2.Terms:
    """Valid terms covering every (purpose, category) given; `sensitive` names special categories."""
    special = set(sensitive)
    return consent_pb2.Terms(
        purposes=[consent_pb2.Purpose(id=purpose, category="dpv:ServiceProvision") for purpose in purposes],
        data_categories=[consent_pb2.DataCategory(id=name, sensitive=name in special) for name in categories],
        parties=[consent_pb2.Party(role=consent_pb2.PARTY_ROLE_PROCESSOR, did="did:dcrm:mailer")],
        lawful_basis="dpv-gdpr:A6-1-a",
        notice=consent_pb2.Notice(
            url="https://acme.example/privacy", content_hash=NOTICE_HASH, version="v3", language="en"
        ),
        collection_method="web-form",
        collection_channel="website",
        consent_type=consent_type,  # type: ignore[arg-type]
        retention_ms=365 * DAY_MS,
        storage_locations=["EU"],
        jurisdiction="EU",
        withdrawal_method="https://acme.example/consent",
    )


def state_of(store: KVReader) -> KVReader:
    return PrefixedReader(store, STATE_PREFIX)


class ConsentChain:
    """RuntimeHarness + consent helpers; every committed block is checked against the consent invariants."""

    def __init__(
        self,
        store: KVStore,
        genesis: GenesisBuilder | None = None,
        *,
        check: bool = True,
        max_expiries_per_block: int | None = None,
    ) -> None:
        def modules() -> Sequence[Module]:
            found = default_modules()
            if max_expiries_per_block is None:
                return found
            capped = ConsentModule(max_expiries_per_block=max_expiries_per_block)
            return [capped if module.index == INDEX else module for module in found]

        self.harness = RuntimeHarness(store, (genesis or consent_genesis()).build(), modules)
        self.store = store
        self.check_invariants = check
        # A capped sweep may leave due records for later blocks; only an uncapped one must clear them all.
        self.expect_swept = max_expiries_per_block is None
        self._after_block()

    @property
    def now_ms(self) -> int:
        """The time of the last committed block."""
        return self.harness.timestamp_ms

    @property
    def next_block_ms(self) -> int:
        return self.harness.timestamp_ms + BLOCK_TIME_MS

    def sign(self, key: SigningKey, args: Message) -> types_pb2.Transaction:
        return self.harness.sign(key, INDEX, CALL_INDEX[type(args)], args)

    def apply(self, txs: Sequence[types_pb2.Transaction]) -> BlockResult:
        result = self.harness.apply(txs)
        self._after_block()
        return result

    def call(self, key: SigningKey, args: Message) -> types_pb2.Receipt:
        """One call in its own block; returns its receipt."""
        return self.apply([self.sign(key, args)]).receipts[0]

    def ok(self, key: SigningKey, args: Message) -> types_pb2.Receipt:
        receipt = self.call(key, args)
        assert receipt.success, receipt.error
        return receipt

    def advance(self, blocks: int) -> list[types_pb2.Event]:
        """Empty blocks; returns the block events they emitted (expiries)."""
        events: list[types_pb2.Event] = []
        for _ in range(blocks):
            events.extend(self.apply([]).block_events)
        return events

    def _after_block(self) -> None:
        if self.check_invariants:
            check_invariants(state_of(self.store), self.now_ms if self.expect_swept else None)

    # --- typed calls that must succeed ----------------------------------------------------------

    def grant(
        self,
        key: SigningKey = ALICE,
        *,
        ref: bytes = b"ref-1",
        subject: str = ALICE_DID,
        controller: str = ACME,
        terms: consent_pb2.Terms | None = None,
        valid_for_ms: int = 30 * DAY_MS,
    ) -> bytes:
        """A direct grant in its own block; returns the new record id."""
        args = consent_pb2.GrantConsent(
            client_ref=ref,
            subject=subject,
            controller=controller,
            terms=terms or make_terms(),
            valid_until_ms=self.next_block_ms + valid_for_ms,
        )
        self.ok(key, args)
        return record_id_for(key.account_id, ref)

    def request(
        self,
        key: SigningKey = CONTROLLER,
        *,
        ref: bytes = b"req-1",
        subject: str = ALICE_DID,
        subject_account: bytes | None = None,
        controller: str = ACME,
        terms: consent_pb2.Terms | None = None,
        valid_for_ms: int = 30 * DAY_MS,
    ) -> bytes:
        args = consent_pb2.RequestConsent(
            client_ref=ref,
            subject=subject,
            subject_account=ALICE.account_id if subject_account is None else subject_account,
            controller=controller,
            terms=terms or make_terms(),
            valid_until_ms=self.next_block_ms + valid_for_ms,
        )
        self.ok(key, args)
        return record_id_for(key.account_id, ref)

    # --- queries --------------------------------------------------------------------------------

    def query(self, method: str, request: Message, result_type: type[R]) -> R:
        raw = self.harness.runtime.query(self.store, "consent", method, request.SerializeToString())
        return result_type.FromString(raw)

    def record(self, record_id: bytes) -> consent_pb2.ConsentRecord:
        result = self.query("record", consent_pb2.RecordQuery(record_id=record_id), consent_pb2.RecordResult)
        return consent_pb2.ConsentRecord.FromString(result.revision_bytes)

    def check(
        self,
        purpose: str = "newsletter",
        category: str = "email",
        *,
        subject: str = ALICE_DID,
        controller: str = ACME,
        at_ms: int = 0,
    ) -> consent_pb2.CheckResult:
        request = consent_pb2.CheckQuery(
            subject=subject, controller=controller, purpose=purpose, data_category=category, at_ms=at_ms
        )
        return self.query("check", request, consent_pb2.CheckResult)

    # --- assert_noop ----------------------------------------------------------------------------

    def flat_state(self, *, except_nonce_of: bytes | None = None) -> dict[bytes, bytes]:
        skip = None if except_nonce_of is None else NONCE_PREFIX + except_nonce_of
        return {key: value for key, value in self.store.iterate(STATE_PREFIX) if key != skip}

    def nonce(self, key: SigningKey) -> int:
        return self.harness.runtime.next_nonce(self.store, key.account_id)

    def assert_noop(self, key: SigningKey, args: Message, error: str) -> types_pb2.Receipt:
        """The call fails with `error` and changes nothing but the caller's nonce (which it uses)."""
        before = self.flat_state(except_nonce_of=key.account_id)
        nonce = self.nonce(key)
        receipt = self.call(key, args)
        assert not receipt.success, f"expected {error}, the call succeeded"
        assert receipt.error.name == error, f"expected {error}, got {receipt.error.name}: {receipt.error.message}"
        assert not receipt.events
        assert self.flat_state(except_nonce_of=key.account_id) == before
        assert self.nonce(key) == nonce + 1
        return receipt
