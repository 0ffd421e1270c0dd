"""A runtime harness for the governance module: four genesis validators, typed calls, and state snapshots.

`GovernanceChain` signs governance calls by their argument type, applies each in a block of its own (or a
list of them in one block) and reads the schedule back through `Runtime.validators_at` and the queries.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeAlias, TypeVar

from google.protobuf.message import Message

from dcrm.client.keys import SigningKey, sha256
from dcrm.runtime import STATE_PREFIX, BlockResult
from dcrm.runtime.modules.governance import GovernanceModule
from dcrm.runtime.modules.governance.errors import INDEX
from dcrm.runtime.state.kv import KVStore
from dcrm.v1 import governance_pb2, types_pb2
from tests.support.runtime_harness import GenesisBuilder, RuntimeHarness, deterministic_key

VALIDATORS = [deterministic_key(1000 + index) for index in range(4)]
V0, V1, V2, V3 = VALIDATORS
CANDIDATES = [deterministic_key(2000 + index) for index in range(3)]
NEWCOMER = CANDIDATES[0]
OUTSIDER = deterministic_key(3000)  # an account that is no validator
REASON = sha256(b"minutes of the consortium meeting, item 4")
Kind: TypeAlias = governance_pb2.ChangeKind.ValueType
ADD = governance_pb2.CHANGE_KIND_ADD
REMOVE = governance_pb2.CHANGE_KIND_REMOVE
CALL_INDEX: dict[type[Message], int] = {call.args_type: call.index for call in GovernanceModule.calls}
NONCE_PREFIX = STATE_PREFIX + b"system/nonce/"

R = TypeVar("R", bound=Message)


def governance_genesis(
    validators: Sequence[SigningKey] = VALIDATORS, *, config: dict[str, Any] | None = None
) -> GenesisBuilder:
    """The given validators (default the four) in this order, and a governance section if given."""
    builder = GenesisBuilder(validators=list(validators))
    if config is not None:
        builder.modules["governance"] = config
    return builder


class GovernanceChain:
    """RuntimeHarness + governance helpers."""

    def __init__(self, store: KVStore, genesis: GenesisBuilder | None = None) -> None:
        self.store = store
        self.harness = RuntimeHarness(store, (genesis or governance_genesis()).build())
        self._last: BlockResult | None = None

    @property
    def last(self) -> BlockResult:
        """The result of the last block this chain applied."""
        assert self._last is not None, "no block applied yet"
        return self._last

    @property
    def height(self) -> int:
        """The last committed block; the next call runs in block height + 1."""
        return self.harness.height

    def sign(self, key: SigningKey, args: Message) -> types_pb2.Transaction:
        return self.harness.sign(key, INDEX, CALL_INDEX[type(args)], args)

    def block(self, txs: Sequence[types_pb2.Transaction]) -> BlockResult:
        self._last = self.harness.apply(txs)
        return self._last

    def run_to_block(self, height: int) -> None:
        """Empty blocks up to `height`; `last` is the last of them."""
        while self.height < height:
            self.block([])

    def call(self, key: SigningKey, args: Message) -> types_pb2.Receipt:
        """`args` signed by `key` in a block of its own; returns the receipt."""
        return self.block([self.sign(key, args)]).receipts[0]

    def ok(self, key: SigningKey, args: Message) -> types_pb2.Receipt:
        receipt = self.call(key, args)
        assert receipt.success, receipt.error
        return receipt

    def propose_args(
        self, kind: Kind, public_key: bytes, *, lead: int = 10, effective_height: int | None = None
    ) -> governance_pb2.Propose:
        """A Propose for the next block: effective at `effective_height`, else `lead` blocks after it."""
        if effective_height is None:
            effective_height = self.height + 1 + lead
        return governance_pb2.Propose(
            kind=kind, public_key=public_key, effective_height=effective_height, reason_hash=REASON
        )

    def propose(self, key: SigningKey, kind: Kind, public_key: bytes, **where: int) -> int:
        """Propose successfully; returns the new proposal id."""
        receipt = self.ok(key, self.propose_args(kind, public_key, **where))
        event = governance_pb2.ValidatorChangeProposed.FromString(receipt.events[0].data)
        return event.proposal_id

    def approve(self, key: SigningKey, proposal_id: int) -> types_pb2.Receipt:
        return self.call(key, governance_pb2.Approve(proposal_id=proposal_id))

    def withdraw(self, key: SigningKey, proposal_id: int) -> types_pb2.Receipt:
        return self.call(key, governance_pb2.Withdraw(proposal_id=proposal_id))

    def validators_at(self, height: int) -> list[bytes]:
        return self.harness.runtime.validators_at(self.store, height)

    def query(self, method: str, request: Message, result_type: type[R]) -> R:
        raw = self.harness.runtime.query(self.store, "governance", method, request.SerializeToString())
        return result_type.FromString(raw)

    def proposal(self, proposal_id: int) -> governance_pb2.ProposalResult:
        return self.query(
            "proposal", governance_pb2.ProposalQuery(proposal_id=proposal_id), governance_pb2.ProposalResult
        )

    def schedule(self, **request: int) -> governance_pb2.ScheduleResult:
        return self.query("schedule", governance_pb2.ScheduleQuery(**request), governance_pb2.ScheduleResult)

    def state_without_nonce(self, key: SigningKey) -> dict[bytes, bytes]:
        """Every flat state key and value except the sender's nonce (the one thing a failed call writes)."""
        nonce_key = NONCE_PREFIX + key.account_id
        return {k: v for k, v in self.store.iterate(STATE_PREFIX) if k != nonce_key}


def events_named(result: BlockResult, name: str, message_type: type[R], *, block_events: bool = False) -> list[R]:
    """The events called `name` of a block: its transactions' (default) or its hooks'."""
    if block_events:
        found = [event for event in result.block_events if event.name == name]
    else:
        found = [event for receipt in result.receipts for event in receipt.events if event.name == name]
    return [message_type.FromString(event.data) for event in found]


def assert_noop(chain: GovernanceChain, key: SigningKey, args: Message, error: str) -> types_pb2.Receipt:
    """The call fails with `error` (a governance error name) and changes nothing but the sender's nonce."""
    before = chain.state_without_nonce(key)
    nonce = chain.harness.runtime.next_nonce(chain.store, key.account_id)
    receipt = chain.call(key, args)
    assert not receipt.success
    assert (receipt.error.module, receipt.error.name) == (INDEX, error), receipt.error
    assert chain.state_without_nonce(key) == before
    assert chain.harness.runtime.next_nonce(chain.store, key.account_id) == nonce + 1
    return receipt
