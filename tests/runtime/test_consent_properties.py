"""Property tests of the consent module (hypothesis, in-memory store; the unit suites cover LevelDB).

- A model of records and their DPV state machine predicts every call's outcome (success or the exact error),
  including calls for a subject or controller DID that the identity module has deactivated meanwhile, and
  `check` agrees with the model now and at past moments after every block; the chain's own invariants
  (indexes, hash chains) are checked after every block by ConsentChain.
- A failed call, whatever its arguments, changes nothing but the caller's nonce.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field

from google.protobuf.message import Message
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, rule

from dcrm.client.keys import SigningKey
from dcrm.runtime.modules.consent.errors import INDEX
from dcrm.runtime.modules.consent.records import EXPIRING_STATES, TRANSITIONS, record_id_for
from dcrm.runtime.modules.consent.rules import VALID_STATES
from dcrm.runtime.modules.identity.did import derive_did
from dcrm.runtime.state.kv import MemoryKV
from dcrm.v1 import consent_pb2, identity_pb2
from tests.support.consent_chain import (
    ACCESSOR,
    ACME,
    ALICE,
    ALICE_DID,
    BOB,
    BOB_DID,
    CALL_INDEX,
    CONTROLLER,
    DAY_MS,
    GLOBEX,
    MALLORY,
    MALLORY_DID,
    RIVAL,
    ConsentChain,
    make_terms,
)
from tests.support.identity import DEACTIVATE_DID
from tests.support.identity import call as identity_call

SUBJECTS = {ALICE_DID: ALICE, BOB_DID: BOB}
CONTROLLERS = {ACME: CONTROLLER, GLOBEX: RIVAL}
ROLE_HOLDERS = (CONTROLLER, RIVAL)
ACTORS = (ALICE, BOB, CONTROLLER, RIVAL)
PURPOSES = ("p1", "p2")
CATEGORIES = ("c1", "c2")
S = consent_pb2

subsets = st.lists(st.sampled_from(PURPOSES), min_size=1, max_size=2, unique=True)
category_subsets = st.lists(st.sampled_from(CATEGORIES), min_size=1, max_size=2, unique=True)


@dataclass
class Revision:
    time_ms: int
    state: int
    valid_from_ms: int
    valid_until_ms: int


@dataclass
class Model:
    """What the chain should hold for one record."""

    subject: str
    subject_account: bytes
    controller: str
    controller_account: bytes
    purposes: list[str]
    categories: list[str]
    revisions: list[Revision] = field(default_factory=list)

    @property
    def now(self) -> Revision:
        return self.revisions[-1]

    def change(self, time_ms: int, state: int, *, valid_until_ms: int | None = None) -> None:
        current = self.now
        valid_from = time_ms if state == S.STATE_GIVEN else current.valid_from_ms
        until = current.valid_until_ms if valid_until_ms is None else valid_until_ms
        self.revisions.append(Revision(time_ms, state, valid_from, until))

    def covers(self, subject: str, controller: str, purpose: str, category: str) -> bool:
        return (subject, controller) == (self.subject, self.controller) and (
            purpose in self.purposes and category in self.categories
        )

    def valid_at(self, at_ms: int) -> bool:
        if self.now.state == S.STATE_INVALIDATED:
            return False
        in_force = [revision for revision in self.revisions if revision.time_ms <= at_ms]
        if not in_force:
            return False
        revision = in_force[-1]
        return revision.state in VALID_STATES and revision.valid_from_ms <= at_ms < revision.valid_until_ms


class ConsentMachine(RuleBasedStateMachine):
    records = Bundle("records")

    def __init__(self) -> None:
        super().__init__()
        self.chain = ConsentChain(MemoryKV())
        self.models: dict[bytes, Model] = {}
        self.refs = itertools.count(1)
        self.times = [self.chain.now_ms]
        self.deactivated: set[str] = set()  # DIDs deactivated in the identity module

    # --- driving the chain ------------------------------------------------------------------------

    def run(
        self, key: SigningKey, args: Message, expected: str | None, effect: Callable[[int], None] | None = None
    ) -> None:
        """One call in its own block: it must succeed or fail with `expected`. On success `effect(block time)`
        updates the model, then (as the block's end hook does) records due expire.
        """
        now = self.chain.next_block_ms
        receipt = self.chain.call(key, args)
        event(f"{type(args).__name__}: {expected or 'success'}")
        if expected is None:
            assert receipt.success, f"{type(args).__name__}: {receipt.error.name}: {receipt.error.message}"
            if effect is not None:
                effect(now)
        else:
            assert receipt.error.name == expected, f"{type(args).__name__}: {receipt.error.name}, expected {expected}"
        self.expire()

    def expire(self) -> None:
        now = self.chain.now_ms
        self.times.append(now)
        for model in self.models.values():
            if model.now.state in EXPIRING_STATES and model.now.valid_until_ms <= now:
                model.change(now, S.STATE_EXPIRED)

    def subject_error(self, model: Model, actor: SigningKey, target: int, *, expiry: bool) -> str | None:
        if model.subject in self.deactivated:
            return "DeactivatedDid"
        if actor.account_id != model.subject_account:
            return "NotSubject"
        if target not in TRANSITIONS[model.now.state]:
            return "InvalidTransition"
        if expiry and model.now.valid_until_ms <= self.chain.next_block_ms:
            return "RecordExpired"
        return None

    def controller_error(self, model: Model, actor: SigningKey, target: int) -> str | None:
        if actor not in ROLE_HOLDERS:
            return "MissingRole"
        if model.controller in self.deactivated:
            return "DeactivatedDid"
        if actor.account_id != model.controller_account:
            return "NotController"
        if target not in TRANSITIONS[model.now.state]:
            return "InvalidTransition"
        return None

    # --- rules ------------------------------------------------------------------------------------

    @rule(
        target=records,
        subject=st.sampled_from(sorted(SUBJECTS)),
        controller=st.sampled_from(sorted(CONTROLLERS)),
        purposes=subsets,
        categories=category_subsets,
        blocks=st.sampled_from((0.5, 1, 1.5, 3, 6)),
    )
    def grant(self, subject: str, controller: str, purposes: list[str], categories: list[str], blocks: float) -> bytes:
        key = SUBJECTS[subject]
        ref = str(next(self.refs)).encode()
        now = self.chain.next_block_ms
        until = now + int(blocks * 1_000)
        args = S.GrantConsent(
            client_ref=ref,
            subject=subject,
            controller=controller,
            terms=make_terms(purposes, categories),
            valid_until_ms=until,
        )
        record_id = record_id_for(key.account_id, ref)
        if controller in self.deactivated or subject in self.deactivated:  # the controller is checked first
            self.run(key, args, "DeactivatedDid")
            return record_id  # an id no record has: later calls on it expect RecordNotFound
        model = Model(subject, key.account_id, controller, CONTROLLERS[controller].account_id, purposes, categories)
        model.revisions.append(Revision(now, S.STATE_GIVEN, now, until))
        self.models[record_id] = model
        self.run(key, args, None)
        return record_id

    @rule(
        target=records,
        subject=st.sampled_from(sorted(SUBJECTS)),
        controller=st.sampled_from(sorted(CONTROLLERS)),
        purposes=subsets,
        categories=category_subsets,
        blocks=st.sampled_from((0.5, 1, 1.5, 3, 6)),
    )
    def request(
        self, subject: str, controller: str, purposes: list[str], categories: list[str], blocks: float
    ) -> bytes:
        key = CONTROLLERS[controller]
        ref = str(next(self.refs)).encode()
        now = self.chain.next_block_ms
        until = now + int(blocks * 1_000)
        args = S.RequestConsent(
            client_ref=ref,
            subject=subject,
            subject_account=SUBJECTS[subject].account_id,
            controller=controller,
            terms=make_terms(purposes, categories),
            valid_until_ms=until,
        )
        record_id = record_id_for(key.account_id, ref)
        if controller in self.deactivated or subject in self.deactivated:
            self.run(key, args, "DeactivatedDid")
            return record_id
        model = Model(subject, SUBJECTS[subject].account_id, controller, key.account_id, purposes, categories)
        model.revisions.append(Revision(now, S.STATE_REQUESTED, 0, until))
        self.models[record_id] = model
        self.run(key, args, None)
        return record_id

    @rule(record_id=records, actor=st.sampled_from(ACTORS), narrow=st.booleans())
    def grant_request(self, record_id: bytes, actor: SigningKey, narrow: bool) -> None:
        if record_id not in self.models:
            self.run(actor, S.GrantRequest(record_id=record_id), "RecordNotFound")
            return
        model = self.models[record_id]
        expected = self.subject_error(model, actor, S.STATE_GIVEN, expiry=True)
        args = S.GrantRequest(record_id=record_id)
        if narrow:
            args.purposes.append(model.purposes[0])
            args.data_categories.append(model.categories[0])

        def given(now: int) -> None:
            if narrow:
                model.purposes, model.categories = model.purposes[:1], model.categories[:1]
            model.change(now, S.STATE_GIVEN)

        self.run(actor, args, expected, given)

    @rule(record_id=records, actor=st.sampled_from(ACTORS))
    def refuse(self, record_id: bytes, actor: SigningKey) -> None:
        self._subject_change(record_id, actor, S.RefuseRequest(record_id=record_id), S.STATE_REFUSED)

    @rule(record_id=records, actor=st.sampled_from(ACTORS))
    def withdraw(self, record_id: bytes, actor: SigningKey) -> None:
        self._subject_change(record_id, actor, S.WithdrawConsent(record_id=record_id), S.STATE_WITHDRAWN)

    def _subject_change(self, record_id: bytes, actor: SigningKey, args: Message, target: int) -> None:
        if record_id not in self.models:
            self.run(actor, args, "RecordNotFound")
            return
        model = self.models[record_id]
        expected = self.subject_error(model, actor, target, expiry=False)
        self.run(actor, args, expected, lambda now: model.change(now, target))

    @rule(record_id=records, actor=st.sampled_from(ACTORS), blocks=st.sampled_from((0.5, 1, 2.5, 6)))
    def renew(self, record_id: bytes, actor: SigningKey, blocks: float) -> None:
        if record_id not in self.models:
            self.run(actor, S.RenewConsent(record_id=record_id, valid_until_ms=1), "RecordNotFound")
            return
        model = self.models[record_id]
        expected = self.subject_error(model, actor, S.STATE_RENEWED, expiry=True)
        until = model.now.valid_until_ms + int(blocks * 1_000)
        renew = S.RenewConsent(record_id=record_id, valid_until_ms=until)
        self.run(actor, renew, expected, lambda now: model.change(now, S.STATE_RENEWED, valid_until_ms=until))

    @rule(record_id=records, actor=st.sampled_from(ACTORS), invalidate=st.booleans())
    def end(self, record_id: bytes, actor: SigningKey, invalidate: bool) -> None:
        target = S.STATE_INVALIDATED if invalidate else S.STATE_TERMINATED
        args = S.InvalidateConsent(record_id=record_id) if invalidate else S.TerminateConsent(record_id=record_id)
        if record_id not in self.models:
            self.run(actor, args, "MissingRole" if actor not in ROLE_HOLDERS else "RecordNotFound")
            return
        model = self.models[record_id]
        expected = self.controller_error(model, actor, target)
        self.run(actor, args, expected, lambda now: model.change(now, target))

    @rule(
        record_id=records,
        actor=st.sampled_from(ACTORS),
        purpose=st.sampled_from(PURPOSES),
        category=st.sampled_from(CATEGORIES),
    )
    def log_access(self, record_id: bytes, actor: SigningKey, purpose: str, category: str) -> None:
        args = S.LogAccess(record_id=record_id, purpose=purpose, data_categories=[category], accessor=ACCESSOR)
        if record_id not in self.models:
            self.run(actor, args, "MissingRole" if actor not in ROLE_HOLDERS else "RecordNotFound")
            return
        model = self.models[record_id]
        expected: str | None = None
        if actor not in ROLE_HOLDERS:
            expected = "MissingRole"
        elif model.controller in self.deactivated:
            expected = "DeactivatedDid"
        elif actor.account_id != model.controller_account:
            expected = "NotController"
        elif model.now.state not in VALID_STATES:
            expected = "ConsentNotValid"
        elif model.now.valid_until_ms <= self.chain.next_block_ms:
            expected = "RecordExpired"
        elif purpose not in model.purposes:
            expected = "PurposeNotCovered"
        elif category not in model.categories:
            expected = "CategoryNotCovered"
        self.run(actor, args, expected)

    @rule(did=st.sampled_from((BOB_DID, GLOBEX)))
    def deactivate(self, did: str) -> None:
        """The identity module deactivates a subject or a controller DID, for good (its owner signs)."""
        if did in self.deactivated:
            return
        owner = SUBJECTS.get(did) or CONTROLLERS[did]
        receipt = identity_call(self.chain.harness, owner, DEACTIVATE_DID, identity_pb2.DeactivateDid(did=did))
        assert receipt.success, receipt.error
        self.deactivated.add(did)
        self.expire()

    @rule(blocks=st.integers(1, 4))
    def advance(self, blocks: int) -> None:
        for _ in range(blocks):
            self.chain.advance(1)
            self.expire()

    # --- what must hold after every step -------------------------------------------------------------

    @invariant()
    def states_match(self) -> None:
        for record_id, model in self.models.items():
            record = self.chain.record(record_id)
            assert (record.state, record.valid_until_ms) == (model.now.state, model.now.valid_until_ms)
            assert record.revision == len(model.revisions) - 1

    @invariant()
    def check_agrees_with_the_model(self) -> None:
        moments = {0, self.times[0] + 500, self.times[len(self.times) // 2], self.times[-2:][0], self.times[-1]}
        if self.models:  # the edges of the newest record's validity window
            newest = list(self.models.values())[-1].now
            moments |= {newest.valid_from_ms, newest.valid_until_ms - 1, newest.valid_until_ms}
        for subject, controller, purpose, category in itertools.product(SUBJECTS, CONTROLLERS, PURPOSES, CATEGORIES):
            covering = [m for m in self.models.values() if m.covers(subject, controller, purpose, category)]
            for at_ms in sorted(moments):
                if at_ms == 0:
                    expected = any(model.now.state in VALID_STATES for model in covering)
                else:
                    expected = any(model.valid_at(at_ms) for model in covering)
                answer = self.chain.check(purpose, category, subject=subject, controller=controller, at_ms=at_ms)
                assert answer.allowed == expected, (subject, controller, purpose, category, at_ms, answer)


TestConsentModel = ConsentMachine.TestCase
TestConsentModel.settings = settings(
    max_examples=50, stateful_step_count=40, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


# --- a failed call writes nothing but the nonce ------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    """One generated call: `record` indexes the records made by the test (3: an id no record has), `offset` is a
    time relative to the block time, `first` is a client reference or a code, `second` a DID (the subject of a
    grant, the controller of a request) or a code."""

    name: str
    record: int = 0
    first: str = ""
    second: str = ""
    offset: int = 0

    def args(self, ids: list[bytes], now: int) -> Message:
        until = max(0, now + self.offset)
        record_id = ids[self.record]
        if self.name == "grant":
            return S.GrantConsent(
                client_ref=self.first.encode(),
                subject=self.second or ALICE_DID,
                controller=ACME,
                terms=make_terms(),
                valid_until_ms=until,
            )
        if self.name == "request":
            return S.RequestConsent(
                client_ref=self.first.encode(),
                subject=ALICE_DID,
                subject_account=ALICE.account_id,
                controller=self.second or ACME,
                terms=make_terms(),
                valid_until_ms=until,
            )
        if self.name == "grant_request":
            return S.GrantRequest(record_id=record_id, purposes=[self.first], data_categories=[self.second])
        if self.name == "renew":
            return S.RenewConsent(record_id=record_id, valid_until_ms=until)
        if self.name == "log_access":
            return S.LogAccess(
                record_id=record_id, purpose=self.first, data_categories=[self.second], accessor=ACCESSOR
            )
        ends: dict[str, type[Message]] = {
            "refuse": S.RefuseRequest,
            "withdraw": S.WithdrawConsent,
            "terminate": S.TerminateConsent,
            "invalidate": S.InvalidateConsent,
        }
        return ends[self.name](record_id=record_id)


record_choice = st.integers(0, 3)
actors = st.sampled_from((ALICE, BOB, CONTROLLER, RIVAL, MALLORY))
offsets = st.sampled_from((-1_000, 0, 1, 1_000, DAY_MS, 3_654 * DAY_MS))
codes = st.sampled_from(("newsletter", "offers", "email", "phone"))
dids = st.sampled_from((ALICE_DID, BOB_DID, MALLORY_DID, ACME, GLOBEX, derive_did(ALICE.account_id, b"nobody")))
calls = st.one_of(
    st.builds(Call, st.just("grant"), first=st.sampled_from(("ref-1", "fresh")), second=dids, offset=offsets),
    st.builds(Call, st.just("request"), first=st.sampled_from(("req-1", "fresh")), second=dids, offset=offsets),
    st.builds(Call, st.just("grant_request"), record=record_choice, first=codes, second=codes),
    st.builds(Call, st.just("renew"), record=record_choice, offset=offsets),
    st.builds(Call, st.sampled_from(("refuse", "withdraw", "terminate", "invalidate")), record=record_choice),
    st.builds(Call, st.just("log_access"), record=record_choice, first=codes, second=codes),
)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=st.lists(st.tuples(actors, calls), min_size=1, max_size=6))
def test_a_failed_call_writes_nothing_but_the_nonce(steps: list[tuple[SigningKey, Call]]) -> None:
    chain = ConsentChain(MemoryKV())
    given_id = chain.grant(terms=make_terms(["newsletter", "offers"], ["email"]))
    withdrawn = chain.grant(ref=b"gone")
    chain.ok(ALICE, S.WithdrawConsent(record_id=withdrawn))
    requested = chain.request()
    ids = [given_id, withdrawn, requested, bytes(16)]
    for actor, call in steps:
        args = call.args(ids, chain.next_block_ms)
        before = chain.flat_state(except_nonce_of=actor.account_id)
        nonce = chain.nonce(actor)
        tx = chain.harness.sign(actor, INDEX, CALL_INDEX[type(args)], args, nonce=nonce)
        try:
            chain.harness.decode(tx)
        except Exception:  # refused at admission: never included, nothing to compare
            continue
        block = chain.apply([tx])
        receipt = block.receipts[0]
        event(f"outcome: {receipt.error.name or 'success'}")
        assert chain.nonce(actor) == nonce + 1
        if not receipt.success:
            assert not receipt.events
            if not block.block_events:  # (an expiry in the same block writes by itself)
                assert chain.flat_state(except_nonce_of=actor.account_id) == before, receipt.error
