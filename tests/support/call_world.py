"""A committed chain state in which one valid call of every runtime call exists, for fuzzing call arguments.

`CallWorld` builds a genesis with every role and four validators, then commits a few setup blocks: an issuer
DID with status lists, a given and a requested consent record, two token classes with balances, holds, an
allowance and a frozen account, and an open governance proposal. `seeds()` returns, for every (module, call) of
`default_modules()`, a sender and arguments that succeed on top of that state, so that mutating them reaches
the calls' handlers and not only their argument checks. Fuzz tests apply their variants in a block on top of
the committed state without committing it, so every example starts from the same state.
"""

from __future__ import annotations

from dataclasses import dataclass

from google.protobuf.message import Message

from dcrm.client.keys import SigningKey
from dcrm.client.transactions import build_transaction
from dcrm.runtime import STATE_PREFIX, BlockContext, BlockResult, SignedTransaction
from dcrm.runtime.modules.consent.records import record_id_for
from dcrm.runtime.state.kv import MemoryKV
from dcrm.v1 import consent_pb2, governance_pb2, identity_pb2, system_pb2, tokens_pb2, types_pb2
from tests.support.consent_chain import (
    ACCESSOR,
    ACME,
    ALICE,
    ALICE_DID,
    BOB,
    BOB_DID,
    CONTROLLER,
    DAY_MS,
    GLOBEX,
    MALLORY,
    consent_genesis,
    make_terms,
)
from tests.support.governance_chain import CANDIDATES, REASON, VALIDATORS
from tests.support.identity import LIST_SIZE, SCHEMA_HASH, add_key, key_method
from tests.support.runtime_harness import BLOCK_TIME_MS, RuntimeHarness, deterministic_key

ADMIN = deterministic_key(0)
CAROL = deterministic_key(3)
ISSUER = deterministic_key(10)
MINTER = deterministic_key(11)
FREEZER = deterministic_key(12)
V0, V1 = VALIDATORS[0], VALIDATORS[1]
KEYS = (ADMIN, ALICE, BOB, CAROL, MALLORY, CONTROLLER, ISSUER, MINTER, FREEZER, V0, V1)

SYSTEM, IDENTITY, CONSENT, TOKENS, GOVERNANCE = 0, 1, 2, 3, 4
GIVEN_REF, ASKED_REF = b"given", b"asked"
GIVEN_ID = record_id_for(ALICE.account_id, GIVEN_REF)
ASKED_ID = record_id_for(CONTROLLER.account_id, ASKED_REF)
REWARD = bytes(range(32, 64))

# Values the fuzzers draw from besides random ones: what the world's state knows, and edge cases.
KNOWN_STRINGS = (
    ALICE_DID,
    BOB_DID,
    ACME,
    GLOBEX,
    "points",
    "cash",
    "newsletter",
    "email",
    "revocations",
    "suspensions",
    "key-1",
    "did:dcrm:",
    "did:dcrm:" + "1" * 22,
    "",
    "x" * 300,
)
KNOWN_BYTES = (
    *(key.account_id for key in KEYS),
    GIVEN_ID,
    ASKED_ID,
    REWARD,
    CANDIDATES[1].public_key,
    V0.public_key,
    b"",
    bytes(20),
    bytes(32),
    b"\xff" * 33,
)


@dataclass(frozen=True)
class Seed:
    """A call that succeeds on top of the world's committed state."""

    module: int
    method: int
    sender: SigningKey
    args: Message


class CallWorld:
    """The committed state the fuzzers start from, and helpers to sign and apply on top of it."""

    def __init__(self) -> None:
        builder = consent_genesis().with_role("issuer", ISSUER)
        builder.validators = list(VALIDATORS)
        self.store = MemoryKV()
        self.harness = RuntimeHarness(self.store, builder.build())
        self.runtime = self.harness.runtime
        self._setup()
        # The block every variant is applied in, and that block without it: what a failed call must equal.
        self.next_height = self.harness.height + 1
        self.context = BlockContext(
            self.harness.genesis.chain_id, self.next_height, self.harness.timestamp_ms + BLOCK_TIME_MS, bytes(20)
        )
        self.empty_block = self.runtime.apply_block(self.store, self.context, [])

    def _ok(self, key: SigningKey, module: int, method: int, args: Message) -> None:
        receipt = self.harness.call(key, module, method, args)
        assert receipt.success, f"setup call ({module}, {method}) failed: {receipt.error}"

    def _setup(self) -> None:
        ok = self._ok
        ok(ADMIN, IDENTITY, 3, identity_pb2.RegisterIssuer(did=ACME))
        for list_id, purpose in (("revocations", identity_pb2.REVOCATION), ("suspensions", identity_pb2.SUSPENSION)):
            args = identity_pb2.CreateStatusList(issuer_did=ACME, list_id=list_id, purpose=purpose, size=LIST_SIZE)
            ok(CONTROLLER, IDENTITY, 6, args)
        ok(
            CONTROLLER,
            IDENTITY,
            7,
            identity_pb2.UpdateCredentialStatus(
                issuer_did=ACME, list_id="suspensions", index=3, action=identity_pb2.SUSPEND
            ),
        )
        until = self.harness.timestamp_ms + 30 * DAY_MS
        ok(
            ALICE,
            CONSENT,
            2,
            consent_pb2.GrantConsent(
                client_ref=GIVEN_REF, subject=ALICE_DID, controller=ACME, terms=make_terms(), valid_until_ms=until
            ),
        )
        ok(
            CONTROLLER,
            CONSENT,
            1,
            consent_pb2.RequestConsent(
                client_ref=ASKED_REF,
                subject=ALICE_DID,
                subject_account=ALICE.account_id,
                controller=ACME,
                terms=make_terms(("newsletter", "offers"), ("email", "phone")),
                valid_until_ms=until,
            ),
        )
        ok(
            ISSUER,
            TOKENS,
            0,
            tokens_pb2.CreateClass(
                class_id="points",
                name="Points",
                symbol="PTS",
                decimals=2,
                transferable=True,
                expiry_ms=365 * DAY_MS,
                minter=MINTER.account_id,
                freezer=FREEZER.account_id,
            ),
        )
        ok(
            ISSUER,
            TOKENS,
            0,
            tokens_pb2.CreateClass(
                class_id="cash", name="Cash", symbol="CSH", decimals=2, transferable=True, max_supply=1_000_000
            ),
        )
        ok(MINTER, TOKENS, 1, tokens_pb2.Mint(class_id="points", to=ALICE.account_id, amount=1_000))
        ok(ISSUER, TOKENS, 1, tokens_pb2.Mint(class_id="cash", to=ALICE.account_id, amount=500))
        ok(ALICE, TOKENS, 3, tokens_pb2.Approve(class_id="points", spender=BOB.account_id, amount=100))
        ok(ALICE, TOKENS, 9, tokens_pb2.Hold(class_id="points", amount=50))
        ok(FREEZER, TOKENS, 7, tokens_pb2.Freeze(class_id="points", account=MALLORY.account_id))
        ok(
            V0,
            GOVERNANCE,
            0,
            governance_pb2.Propose(
                kind=governance_pb2.CHANGE_KIND_ADD,
                public_key=CANDIDATES[0].public_key,
                effective_height=self.harness.height + 20,
                reason_hash=REASON,
            ),
        )

    def seeds(self) -> list[Seed]:
        """One succeeding call per (module, call) of the runtime, on top of the committed state."""
        now = self.context.timestamp_ms
        points, cash = "points", "cash"
        return [
            Seed(SYSTEM, 0, ADMIN, system_pb2.GrantRole(account=BOB.account_id, role="issuer")),
            Seed(SYSTEM, 1, ADMIN, system_pb2.RevokeRole(account=ISSUER.account_id, role="issuer")),
            Seed(SYSTEM, 2, ALICE, system_pb2.Remark(note=b"hello")),
            Seed(IDENTITY, 0, ALICE, identity_pb2.CreateDid(salt=b"second", verification_methods=[key_method(ALICE)])),
            Seed(IDENTITY, 1, ALICE, identity_pb2.UpdateDid(did=ALICE_DID, operations=[add_key(BOB, "key-2")])),
            Seed(IDENTITY, 2, BOB, identity_pb2.DeactivateDid(did=BOB_DID)),
            Seed(IDENTITY, 3, ADMIN, identity_pb2.RegisterIssuer(did=GLOBEX)),
            Seed(IDENTITY, 4, ADMIN, identity_pb2.RemoveIssuer(did=ACME)),
            Seed(
                IDENTITY,
                5,
                CONTROLLER,
                identity_pb2.RegisterSchema(
                    issuer_did=ACME,
                    name="email",
                    version="1.0",
                    attributes=["email", "verified"],
                    content_hash=SCHEMA_HASH,
                ),
            ),
            Seed(
                IDENTITY,
                6,
                CONTROLLER,
                identity_pb2.CreateStatusList(
                    issuer_did=ACME, list_id="more", purpose=identity_pb2.REVOCATION, size=LIST_SIZE
                ),
            ),
            Seed(
                IDENTITY,
                7,
                CONTROLLER,
                identity_pb2.UpdateCredentialStatus(
                    issuer_did=ACME, list_id="revocations", index=7, action=identity_pb2.REVOKE
                ),
            ),
            Seed(
                CONSENT,
                1,
                CONTROLLER,
                consent_pb2.RequestConsent(
                    client_ref=b"asked-2",
                    subject=ALICE_DID,
                    subject_account=ALICE.account_id,
                    controller=ACME,
                    terms=make_terms(),
                    valid_until_ms=now + 30 * DAY_MS,
                ),
            ),
            Seed(
                CONSENT,
                2,
                ALICE,
                consent_pb2.GrantConsent(
                    client_ref=b"given-2",
                    subject=ALICE_DID,
                    controller=ACME,
                    terms=make_terms(),
                    valid_until_ms=now + 30 * DAY_MS,
                ),
            ),
            Seed(
                CONSENT,
                3,
                ALICE,
                consent_pb2.GrantRequest(record_id=ASKED_ID, purposes=["newsletter"], data_categories=["email"]),
            ),
            Seed(CONSENT, 4, ALICE, consent_pb2.RefuseRequest(record_id=ASKED_ID)),
            Seed(CONSENT, 5, ALICE, consent_pb2.RenewConsent(record_id=GIVEN_ID, valid_until_ms=now + 60 * DAY_MS)),
            Seed(CONSENT, 6, ALICE, consent_pb2.WithdrawConsent(record_id=GIVEN_ID)),
            Seed(CONSENT, 7, CONTROLLER, consent_pb2.TerminateConsent(record_id=GIVEN_ID)),
            Seed(CONSENT, 8, CONTROLLER, consent_pb2.InvalidateConsent(record_id=GIVEN_ID)),
            Seed(
                CONSENT,
                9,
                CONTROLLER,
                consent_pb2.LogAccess(
                    record_id=GIVEN_ID, purpose="newsletter", data_categories=["email"], accessor=ACCESSOR
                ),
            ),
            Seed(
                TOKENS,
                0,
                ISSUER,
                tokens_pb2.CreateClass(
                    class_id="miles", name="Miles", symbol="MI", decimals=0, transferable=True, expiry_ms=DAY_MS
                ),
            ),
            Seed(TOKENS, 1, MINTER, tokens_pb2.Mint(class_id=points, to=BOB.account_id, amount=5, reference=REWARD)),
            Seed(TOKENS, 2, ALICE, tokens_pb2.Transfer(class_id=points, to=CAROL.account_id, amount=10)),
            Seed(
                TOKENS,
                3,
                ALICE,
                tokens_pb2.Approve(class_id=cash, spender=CAROL.account_id, amount=20, expected_allowance=0),
            ),
            Seed(
                TOKENS,
                4,
                BOB,
                tokens_pb2.TransferFrom(class_id=points, owner=ALICE.account_id, to=CAROL.account_id, amount=5),
            ),
            Seed(TOKENS, 5, ALICE, tokens_pb2.Burn(class_id=cash, amount=1)),
            Seed(TOKENS, 6, ALICE, tokens_pb2.Redeem(class_id=points, amount=1, reward=REWARD)),
            Seed(TOKENS, 7, FREEZER, tokens_pb2.Freeze(class_id=points, account=ALICE.account_id)),
            Seed(TOKENS, 8, FREEZER, tokens_pb2.Thaw(class_id=points, account=MALLORY.account_id)),
            Seed(TOKENS, 9, ALICE, tokens_pb2.Hold(class_id=points, amount=10)),
            Seed(TOKENS, 10, ALICE, tokens_pb2.Release(class_id=points, amount=10)),
            Seed(
                TOKENS,
                11,
                ISSUER,
                tokens_pb2.SetRoles(
                    class_id=points, owner=ISSUER.account_id, minter=ALICE.account_id, freezer=FREEZER.account_id
                ),
            ),
            Seed(
                GOVERNANCE,
                0,
                V1,
                governance_pb2.Propose(
                    kind=governance_pb2.CHANGE_KIND_ADD,
                    public_key=CANDIDATES[1].public_key,
                    effective_height=self.next_height + 10,
                    reason_hash=REASON,
                ),
            ),
            Seed(GOVERNANCE, 1, V1, governance_pb2.Approve(proposal_id=1)),
            Seed(GOVERNANCE, 2, V0, governance_pb2.Withdraw(proposal_id=1)),
        ]

    def sign(self, key: SigningKey, module: int, method: int, args: Message | bytes) -> types_pb2.Transaction:
        """Signed by `key` with its next nonce, valid for the next block."""
        return build_transaction(
            key,
            chain_id=self.harness.genesis.chain_id,
            nonce=self.runtime.next_nonce(self.store, key.account_id),
            valid_until=self.next_height + 10,
            module=module,
            method=method,
            args=args,
        )

    def apply(self, tx: SignedTransaction) -> BlockResult:
        """The next block holding `tx` alone, not committed."""
        return self.runtime.apply_block(self.store, self.context, [tx])

    def state_changes(self, result: BlockResult) -> dict[bytes, bytes | None]:
        """The flat state values a block writes (tree nodes follow from them)."""
        return {key: value for key, value in result.writes.items() if key.startswith(STATE_PREFIX)}
