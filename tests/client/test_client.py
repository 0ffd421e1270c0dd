"""The Client and Account against an in-process gRPC server with a fake node behind it.

The fake keeps a tiny chain in memory: it admits transactions with the node's status codes, commits them into
blocks certified by four validators, runs the three system calls, answers the system queries, and proves
state with one-leaf trees. Faults (dropped streams, resent or skipped heights, tampered answers, failing
calls) are switched on per test.
"""

from __future__ import annotations

import hashlib
import itertools
import socket
import threading
import time
from collections.abc import Generator, Iterator
from concurrent import futures
from dataclasses import dataclass, field

import grpc
import pytest

import dcrm.client
from dcrm.client import (
    Aborted,
    Account,
    AlreadyExists,
    CertificateError,
    Client,
    DeadlineExceeded,
    FailedPrecondition,
    InvalidArgument,
    MissingRole,
    NotFound,
    PermissionDenied,
    ProofError,
    ProtocolError,
    ResourceExhausted,
    RoleAlreadyGranted,
    RoleNotHeld,
    RpcError,
    SigningKey,
    Unauthenticated,
    Unavailable,
    admission_error,
    block_hash,
    build_transaction,
    decode_event,
    sign_vote,
    transaction_hash,
    verify_transaction,
)
from dcrm.client.system import nonce_key, role_key
from dcrm.v1 import node_pb2, node_pb2_grpc, system_pb2, types_pb2

CHAIN = "dcrm-client-test"
VALIDATORS = [SigningKey.from_hex(f"{index:02x}" * 32) for index in range(0x31, 0x35)]
OUTSIDERS = [SigningKey.from_hex(f"{index:02x}" * 32) for index in range(0x41, 0x44)]
ADMIN = SigningKey.from_hex("51" * 32)
USER = SigningKey.from_hex("52" * 32)
COMMITTED = node_pb2.TransactionStatus.COMMITTED
PENDING = node_pb2.TransactionStatus.PENDING


class Abort(Exception):
    """Raised inside the fake chain; the servicer turns it into a gRPC status."""

    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def certify(header: bytes, height: int, signers: list[SigningKey]) -> types_pb2.CommitCertificate:
    hashed = block_hash(header)
    body = types_pb2.VoteBody(kind=types_pb2.VoteBody.COMMIT, chain_id=CHAIN, height=height, block_hash=hashed)
    return types_pb2.CommitCertificate(
        height=height, block_hash=hashed, votes=[sign_vote(key, body) for key in signers]
    )


def one_leaf_root(key: bytes, value: bytes) -> bytes:
    """The state root of a tree holding only `key`: its leaf hash (see dcrm.client.proof)."""
    path = hashlib.sha256(key).digest()
    return hashlib.sha256(b"\x00" + path + hashlib.sha256(value).digest()).digest()


class FakeChain:
    """Committed blocks, receipts, nonces and roles, shared by every fake server of one test."""

    def __init__(self) -> None:
        self.lock = threading.Condition()
        self.nonces: dict[bytes, int] = {}
        self.roles: dict[bytes, set[str]] = {ADMIN.account_id: {"admin"}}
        self.pending: list[tuple[bytes, types_pb2.Transaction, types_pb2.TxBody]] = []
        self.receipts: dict[bytes, types_pb2.Receipt] = {}
        self.blocks: list[node_pb2.BlockResponse] = []
        with self.lock:
            self._commit([])  # genesis, height 0

    @property
    def head(self) -> int:
        return len(self.blocks) - 1

    def _commit(self, txs: list[tuple[bytes, types_pb2.Transaction, types_pb2.TxBody]]) -> None:
        height = len(self.blocks)
        parent = self.blocks[-1].block_hash if self.blocks else bytes(32)
        receipts = [self._execute(tx_hash, body, height, index) for index, (tx_hash, _, body) in enumerate(txs)]
        header = types_pb2.BlockHeader(
            chain_id=CHAIN, height=height, parent_hash=parent, state_root=bytes(32), timestamp_ms=1000 + height
        ).SerializeToString()
        self.blocks.append(
            node_pb2.BlockResponse(
                block=types_pb2.Block(header=header, transactions=[tx for _, tx, _ in txs]),
                certificate=certify(header, height, VALIDATORS[:3]),
                block_hash=block_hash(header),
                height=height,
            )
        )
        for receipt in receipts:
            self.receipts[receipt.tx_hash] = receipt
        self.lock.notify_all()

    def _execute(self, tx_hash: bytes, body: types_pb2.TxBody, height: int, index: int) -> types_pb2.Receipt:
        sender = body.sender
        self.nonces[sender] = body.nonce + 1
        receipt = types_pb2.Receipt(tx_hash=tx_hash, height=height, index=index, success=True)
        method = body.call.method
        if method == 2:
            note = system_pb2.Remark.FromString(body.call.args).note
            event: system_pb2.Remarked | system_pb2.RoleGranted | system_pb2.RoleRevoked = system_pb2.Remarked(
                sender=sender, note_hash=hashlib.sha256(note).digest()
            )
        elif method == 0:
            grant = system_pb2.GrantRole.FromString(body.call.args)
            held = self.roles.setdefault(grant.account, set())
            if grant.role in held:
                return self._failed(receipt, system_pb2.ROLE_ALREADY_GRANTED, "RoleAlreadyGranted", grant.role)
            held.add(grant.role)
            event = system_pb2.RoleGranted(account=grant.account, role=grant.role, granted_by=sender)
        else:
            revoke = system_pb2.RevokeRole.FromString(body.call.args)
            held = self.roles.setdefault(revoke.account, set())
            if revoke.role not in held:
                return self._failed(receipt, system_pb2.ROLE_NOT_HELD, "RoleNotHeld", revoke.role)
            held.discard(revoke.role)
            event = system_pb2.RoleRevoked(account=revoke.account, role=revoke.role, revoked_by=sender)
        receipt.events.add(module="system", name=event.DESCRIPTOR.name, data=event.SerializeToString())
        return receipt

    @staticmethod
    def _failed(receipt: types_pb2.Receipt, code: int, name: str, role: str) -> types_pb2.Receipt:
        receipt.success = False
        receipt.error.CopyFrom(types_pb2.DispatchError(module=0, code=code, name=name, message=f"role {role!r}"))
        return receipt

    def admit(self, tx: types_pb2.Transaction) -> bytes:
        try:
            body = verify_transaction(tx)
        except ValueError as error:
            raise Abort(grpc.StatusCode.UNAUTHENTICATED, str(error)) from None
        if body.chain_id != CHAIN:
            raise Abort(grpc.StatusCode.FAILED_PRECONDITION, f"tx_body.chain_id {body.chain_id!r} is not {CHAIN!r}")
        tx_hash = transaction_hash(tx)
        with self.lock:
            if any(pending_hash == tx_hash for pending_hash, _, _ in self.pending) or tx_hash in self.receipts:
                raise Abort(grpc.StatusCode.ALREADY_EXISTS, f"transaction {tx_hash.hex()} is already known")
            expected = self.nonces.get(body.sender, 0) + sum(1 for _, _, b in self.pending if b.sender == body.sender)
            if body.nonce != expected:
                raise Abort(grpc.StatusCode.FAILED_PRECONDITION, f"tx_body.nonce {body.nonce}, expected {expected}")
            if body.call.method in (0, 1) and "admin" not in self.roles.get(body.sender, set()):
                raise Abort(grpc.StatusCode.PERMISSION_DENIED, "grant_role needs the admin role")
            self.pending.append((tx_hash, tx, body))
        return tx_hash

    def commit_pending(self) -> None:
        with self.lock:
            txs, self.pending = self.pending, []
            self._commit(txs)

    def commit_empty(self, count: int) -> None:
        with self.lock:
            for _ in range(count):
                self._commit([])

    def block_at(self, height: int, wait: float) -> node_pb2.BlockResponse | None:
        with self.lock:
            if height > self.head:
                self.lock.wait(wait)
            return self.blocks[height] if height <= self.head else None

    def state_value(self, key: bytes) -> bytes | None:
        with self.lock:
            for account, nonce in self.nonces.items():
                if key == nonce_key(account):
                    return nonce.to_bytes(8, "big")
            for account, roles in self.roles.items():
                if any(key == role_key(role, account) for role in roles):
                    return b"\x01"
        return None


@dataclass
class Faults:
    """What the next calls of one fake server do wrong."""

    fail: dict[str, tuple[grpc.StatusCode, str]] = field(default_factory=dict)  # method -> status, once
    stream_budgets: list[int] = field(default_factory=list)  # per opened stream: items before UNAVAILABLE
    resend: int = 0  # each stream starts this many heights before the one asked for
    skip_height: int | None = None  # streams leave this height out
    end_streams: bool = False  # streams end (OK) once they reach the head
    wrong_hash: bool = False
    tamper_state: str | None = None
    stream_requests: list[int] = field(default_factory=list)


class FakeNode(node_pb2_grpc.NodeServicer):
    def __init__(self, chain: FakeChain) -> None:
        self.chain = chain
        self.faults = Faults()

    def _check(self, method: str, context: grpc.ServicerContext) -> None:
        failure = self.faults.fail.pop(method, None)
        if failure is not None:
            context.abort(*failure)

    def _admit(self, tx: types_pb2.Transaction, context: grpc.ServicerContext) -> bytes:
        try:
            return self.chain.admit(tx)
        except Abort as error:
            context.abort(error.code, error.message)

    def _status_of(self, tx_hash: bytes) -> node_pb2.TransactionStatus | None:
        with self.chain.lock:
            receipt = self.chain.receipts.get(tx_hash)
            if receipt is not None:
                block = self.chain.blocks[receipt.height]
                return node_pb2.TransactionStatus(
                    tx_hash=tx_hash, state=COMMITTED, receipt=receipt, block_hash=block.block_hash
                )
            if any(pending_hash == tx_hash for pending_hash, _, _ in self.chain.pending):
                return node_pb2.TransactionStatus(tx_hash=tx_hash, state=PENDING)
        return None

    def SubmitTransaction(
        self, request: node_pb2.SubmitTransactionRequest, context: grpc.ServicerContext
    ) -> node_pb2.SubmitTransactionResponse:
        self._check("SubmitTransaction", context)
        tx_hash = self._admit(request.transaction, context)
        return node_pb2.SubmitTransactionResponse(tx_hash=b"\x00" * 32 if self.faults.wrong_hash else tx_hash)

    def SubmitBatch(
        self, request: node_pb2.SubmitBatchRequest, context: grpc.ServicerContext
    ) -> node_pb2.SubmitBatchResponse:
        self._check("SubmitBatch", context)
        results = []
        for tx in request.transactions:
            try:
                results.append(node_pb2.AdmissionResult(tx_hash=self.chain.admit(tx), accepted=True))
            except Abort as error:
                results.append(node_pb2.AdmissionResult(code=error.code.value[0], message=error.message))
        if self.faults.wrong_hash:
            results.pop()
        return node_pb2.SubmitBatchResponse(results=results)

    def SubmitAndWait(
        self, request: node_pb2.SubmitAndWaitRequest, context: grpc.ServicerContext
    ) -> node_pb2.TransactionStatus:
        self._check("SubmitAndWait", context)
        tx_hash = self._admit(request.transaction, context)
        self.chain.commit_pending()
        status = self._status_of(tx_hash)
        assert status is not None
        if self.faults.wrong_hash:
            status.receipt.tx_hash = b"\x00" * 32
        return status

    def GetTransaction(
        self, request: node_pb2.GetTransactionRequest, context: grpc.ServicerContext
    ) -> node_pb2.TransactionStatus:
        self._check("GetTransaction", context)
        status = self._status_of(request.tx_hash)
        if status is None:
            context.abort(grpc.StatusCode.NOT_FOUND, f"transaction {request.tx_hash.hex()} is not known here")
        return status

    def GetBlock(self, request: node_pb2.GetBlockRequest, context: grpc.ServicerContext) -> node_pb2.BlockResponse:
        self._check("GetBlock", context)
        with self.chain.lock:
            if request.WhichOneof("selector") == "hash":
                found = [block for block in self.chain.blocks if block.block_hash == request.hash]
            else:
                found = self.chain.blocks[request.height : request.height + 1]
        if not found:
            context.abort(grpc.StatusCode.NOT_FOUND, "no such block")
        response = node_pb2.BlockResponse()
        response.CopyFrom(found[0])
        if self.faults.wrong_hash:
            response.block_hash = b"\x00" * 32
        return response

    def _heights(self, from_height: int, context: grpc.ServicerContext) -> Iterator[node_pb2.BlockResponse]:
        self.faults.stream_requests.append(from_height)
        budget = self.faults.stream_budgets.pop(0) if self.faults.stream_budgets else None
        height = max(0, from_height - self.faults.resend)
        sent = 0
        while context.is_active():
            if budget is not None and sent >= budget:
                context.abort(grpc.StatusCode.UNAVAILABLE, "the node is restarting")
            if self.faults.end_streams and height > self.chain.head:
                return
            block = self.chain.block_at(height, wait=0.02)
            if block is None:
                continue
            if height != self.faults.skip_height:
                yield block
                sent += 1
            height += 1

    def StreamBlocks(
        self, request: node_pb2.StreamBlocksRequest, context: grpc.ServicerContext
    ) -> Iterator[node_pb2.BlockResponse]:
        self._check("StreamBlocks", context)
        yield from self._heights(request.from_height, context)

    def StreamEvents(
        self, request: node_pb2.StreamEventsRequest, context: grpc.ServicerContext
    ) -> Iterator[node_pb2.EventsResponse]:
        self._check("StreamEvents", context)
        for block in self._heights(request.from_height, context):
            response = node_pb2.EventsResponse(height=block.height, block_hash=block.block_hash)
            for tx in block.block.transactions:
                receipt = self.chain.receipts[transaction_hash(tx)]
                events = [event for event in receipt.events if not request.module or event.module == request.module]
                if events:
                    response.transactions.add(tx_hash=receipt.tx_hash, events=events)
            yield response

    def QueryState(
        self, request: node_pb2.QueryStateRequest, context: grpc.ServicerContext
    ) -> node_pb2.QueryStateResponse:
        self._check("QueryState", context)
        value = self.chain.state_value(request.key)
        height = self.chain.head
        root = bytes(32) if value is None else one_leaf_root(request.key, value)
        header = types_pb2.BlockHeader(chain_id=CHAIN, height=height, state_root=root).SerializeToString()
        certificate = certify(header, height, VALIDATORS[1:])
        proof = types_pb2.StateProof(key=request.key, value=value or b"", exists=value is not None)
        tamper = self.faults.tamper_state
        if tamper == "header":
            header = types_pb2.BlockHeader(chain_id=CHAIN, height=height, state_root=b"\x07" * 32).SerializeToString()
        elif tamper == "value":
            proof.value = b"\x00" * 8
        elif tamper == "key":
            proof.key = b"system/nonce/" + b"\x00" * 20
        elif tamper == "signers":
            certificate = certify(header, height, OUTSIDERS)
        elif tamper == "absent":
            proof = types_pb2.StateProof(key=request.key)
        return node_pb2.QueryStateResponse(proof=proof, header=header, certificate=certificate)

    def Query(self, request: node_pb2.QueryRequest, context: grpc.ServicerContext) -> node_pb2.QueryResponse:
        self._check("Query", context)
        result: system_pb2.AccountResult | system_pb2.RoleMembersResult
        with self.chain.lock:
            if (request.module, request.method) == ("system", "account"):
                account = system_pb2.AccountQuery.FromString(request.args).account
                roles = sorted(self.chain.roles.get(account, set()))
                result = system_pb2.AccountResult(account=account, nonce=self.chain.nonces.get(account, 0), roles=roles)
            elif (request.module, request.method) == ("system", "role_members"):
                role = system_pb2.RoleMembersQuery.FromString(request.args).role
                members = sorted(account for account, roles in self.chain.roles.items() if role in roles)
                result = system_pb2.RoleMembersResult(accounts=members)
            elif (request.module, request.method) == ("system", "garbage"):
                return node_pb2.QueryResponse(result=b"\xff\xff", height=self.chain.head)
            else:
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"no query {request.module}.{request.method}")
            return node_pb2.QueryResponse(result=result.SerializeToString(), height=self.chain.head)

    def GetStatus(self, request: node_pb2.GetStatusRequest, context: grpc.ServicerContext) -> node_pb2.NodeStatus:
        self._check("GetStatus", context)
        with self.chain.lock:
            head = self.chain.blocks[-1]
            return node_pb2.NodeStatus(
                chain_id=CHAIN,
                height=head.height,
                head_hash=head.block_hash,
                validators=[
                    node_pb2.Validator(account=key.account_id, public_key=key.public_key) for key in VALIDATORS
                ],
                version="fake",
            )


def start_server(node: FakeNode, port: int = 0) -> tuple[grpc.Server, int]:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=16))
    node_pb2_grpc.add_NodeServicer_to_server(node, server)
    bound = server.add_insecure_port(f"127.0.0.1:{port}")
    assert bound != 0
    server.start()
    return server, bound


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


# Channel options for tests that restart servers: reconnect quickly.
FAST_RECONNECT = (("grpc.initial_reconnect_backoff_ms", 20), ("grpc.max_reconnect_backoff_ms", 100))


@dataclass
class Harness:
    chain: FakeChain
    node: FakeNode
    port: int
    client: Client

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"


@pytest.fixture
def harness() -> Iterator[Harness]:
    chain = FakeChain()
    node = FakeNode(chain)
    server, port = start_server(node)
    client = Client(f"127.0.0.1:{port}", timeout=5.0, retry_backoff=0.01, max_retry_backoff=0.05)
    try:
        yield Harness(chain, node, port, client)
    finally:
        client.close()
        server.stop(None).wait()


def remark(key: SigningKey, nonce: int, note: bytes = b"hi", valid_until: int = 100) -> types_pb2.Transaction:
    return build_transaction(
        key, chain_id=CHAIN, nonce=nonce, valid_until=valid_until, module=0, method=2, args=system_pb2.Remark(note=note)
    )


# -- public API ------------------------------------------------------------------------------------------


def test_public_api() -> None:
    assert sorted(dcrm.client.__all__) == dcrm.client.__all__
    for name in dcrm.client.__all__:
        assert getattr(dcrm.client, name) is not None, name
    assert {"Client", "Account", "SigningKey", "build_transaction", "verify_commit_certificate", "ProofError"} <= set(
        dcrm.client.__all__
    )


def test_client_needs_a_target() -> None:
    with pytest.raises(ValueError, match="at least one target"):
        Client([])


# -- status and transactions -------------------------------------------------------------------------------


def test_status(harness: Harness) -> None:
    status = harness.client.status()
    assert status.chain_id == CHAIN
    assert status.height == 0
    assert harness.client.chain_id() == CHAIN


def test_submit_then_wait(harness: Harness) -> None:
    tx = remark(USER, 0)
    assert harness.client.submit(tx) == transaction_hash(tx)
    assert harness.client.transaction(transaction_hash(tx)).state == PENDING
    harness.chain.commit_pending()
    receipt = harness.client.wait_for_transaction(transaction_hash(tx), timeout=2)
    assert receipt.success
    assert receipt.height == 1
    status = harness.client.transaction(transaction_hash(tx))
    assert status.state == COMMITTED
    assert status.block_hash == harness.chain.blocks[1].block_hash


def test_submit_rejections_are_typed(harness: Harness) -> None:
    with pytest.raises(FailedPrecondition, match=r"tx_body\.nonce 5, expected 0"):
        harness.client.submit(remark(USER, 5))
    wrong_chain = build_transaction(USER, chain_id="other", nonce=0, valid_until=9, module=0, method=2, args=b"")
    with pytest.raises(FailedPrecondition, match="is not 'dcrm-client-test'"):
        harness.client.submit(wrong_chain)
    forged = remark(USER, 0)
    forged.signature = ADMIN.sign_recoverable(forged.body)
    with pytest.raises(Unauthenticated, match="signed by account"):
        harness.client.submit(forged)
    harness.client.submit(remark(USER, 0))
    with pytest.raises(AlreadyExists):
        harness.client.submit(remark(USER, 0))
    grant = build_transaction(
        USER, chain_id=CHAIN, nonce=1, valid_until=9, module=0, method=0, args=system_pb2.GrantRole(role="admin")
    )
    with pytest.raises(PermissionDenied, match="needs the admin role"):
        harness.client.submit(grant)


@pytest.mark.parametrize(
    ("code", "cls"),
    [
        (grpc.StatusCode.INVALID_ARGUMENT, InvalidArgument),
        (grpc.StatusCode.RESOURCE_EXHAUSTED, ResourceExhausted),
        (grpc.StatusCode.UNAVAILABLE, Unavailable),
        (grpc.StatusCode.INTERNAL, RpcError),
    ],
)
def test_status_codes_arrive_as_typed_errors(harness: Harness, code: grpc.StatusCode, cls: type[RpcError]) -> None:
    harness.node.faults.fail["SubmitTransaction"] = (code, "transaction.body: too large")
    with pytest.raises(cls) as raised:
        harness.client.submit(remark(USER, 0))
    assert type(raised.value) is cls
    assert raised.value.code is code
    assert raised.value.details == "transaction.body: too large"


def test_submit_checks_the_hash_the_node_reports(harness: Harness) -> None:
    harness.node.faults.wrong_hash = True
    with pytest.raises(ProtocolError, match="the node admitted 0000"):
        harness.client.submit(remark(USER, 0))


def test_submit_batch(harness: Harness) -> None:
    txs = [remark(USER, 0), remark(USER, 1), remark(USER, 7), remark(ADMIN, 0)]
    results = harness.client.submit_batch(txs)
    assert [result.accepted for result in results] == [True, True, False, True]
    assert results[0].tx_hash == transaction_hash(txs[0])
    rejected = admission_error(results[2])
    assert isinstance(rejected, FailedPrecondition)
    assert "expected 2" in rejected.details
    harness.node.faults.wrong_hash = True
    with pytest.raises(ProtocolError, match="sent 1 transactions, got 0 results"):
        harness.client.submit_batch([remark(USER, 2)])


def test_submit_and_wait_returns_the_receipt(harness: Harness) -> None:
    receipt = harness.client.submit_and_wait(remark(USER, 0, b"note"), timeout=2)
    assert receipt.success
    assert receipt.height == 1
    (event,) = receipt.events
    decoded = decode_event(event)
    assert isinstance(decoded, system_pb2.Remarked)
    assert decoded.sender == USER.account_id
    assert decoded.note_hash == hashlib.sha256(b"note").digest()


def test_submit_and_wait_raises_for_failed_calls(harness: Harness) -> None:
    revoke = build_transaction(
        ADMIN,
        chain_id=CHAIN,
        nonce=0,
        valid_until=9,
        module=0,
        method=1,
        args=system_pb2.RevokeRole(account=USER.account_id, role="issuer"),
    )
    with pytest.raises(RoleNotHeld, match="role 'issuer'") as raised:
        harness.client.submit_and_wait(revoke, timeout=2)
    assert raised.value.receipt.height == 1
    assert raised.value.tx_hash == transaction_hash(revoke)
    # The failed call used its nonce; check=False hands the failed receipt back.
    again = build_transaction(
        ADMIN,
        chain_id=CHAIN,
        nonce=1,
        valid_until=9,
        module=0,
        method=1,
        args=system_pb2.RevokeRole(account=USER.account_id, role="issuer"),
    )
    receipt = harness.client.submit_and_wait(again, timeout=2, check=False)
    assert not receipt.success
    assert receipt.error.code == system_pb2.ROLE_NOT_HELD


def test_submit_and_wait_of_a_pending_transaction_waits_for_it(harness: Harness) -> None:
    tx = remark(USER, 0)
    harness.client.submit(tx)
    timer = threading.Timer(0.1, harness.chain.commit_pending)
    timer.start()
    try:
        receipt = harness.client.submit_and_wait(tx, timeout=3)
    finally:
        timer.join()
    assert receipt.success
    assert receipt.tx_hash == transaction_hash(tx)


def test_submit_and_wait_timeouts_and_aborts(harness: Harness) -> None:
    harness.node.faults.fail["SubmitAndWait"] = (grpc.StatusCode.DEADLINE_EXCEEDED, "pending after 100 ms")
    with pytest.raises(DeadlineExceeded, match="pending after 100 ms"):
        harness.client.submit_and_wait(remark(USER, 0), timeout=0.1)
    harness.node.faults.fail["SubmitAndWait"] = (grpc.StatusCode.ABORTED, "left the mempool")
    with pytest.raises(Aborted, match="left the mempool"):
        harness.client.submit_and_wait(remark(USER, 0), timeout=0.1)


def test_wait_for_an_unknown_transaction_times_out(harness: Harness) -> None:
    started = time.monotonic()
    with pytest.raises(DeadlineExceeded, match=r"was not committed within 0\.2 s"):
        harness.client.wait_for_transaction(b"\x01" * 32, timeout=0.2, poll_interval=0.05)
    assert time.monotonic() - started < 2


def test_submit_and_wait_checks_the_receipt_is_for_the_transaction(harness: Harness) -> None:
    harness.node.faults.wrong_hash = True
    with pytest.raises(ProtocolError, match="got the receipt of 0000"):
        harness.client.submit_and_wait(remark(USER, 0), timeout=2)


def test_unknown_transaction(harness: Harness) -> None:
    with pytest.raises(NotFound, match="is not known here"):
        harness.client.transaction(b"\x02" * 32)


# -- blocks ----------------------------------------------------------------------------------------------


def test_block_by_height_hash_and_head(harness: Harness) -> None:
    harness.chain.commit_empty(3)
    third = harness.client.block(2)
    assert third.height == 2
    assert harness.client.block(hash=third.block_hash).height == 2
    assert harness.client.block().height == 3
    assert harness.client.block(1, verify=True).height == 1
    with pytest.raises(NotFound):
        harness.client.block(9)
    with pytest.raises(ValueError, match="not both"):
        harness.client.block(1, hash=third.block_hash)


def test_block_answers_are_checked(harness: Harness) -> None:
    harness.chain.commit_empty(1)
    with pytest.raises(CertificateError, match="5 of 7 are needed"):
        harness.client.block(1, verify=True, validators=[key.public_key for key in VALIDATORS + OUTSIDERS])
    harness.node.faults.wrong_hash = True
    with pytest.raises(ProtocolError, match="block_hash is 0000"):
        harness.client.block(1)


# -- streams ---------------------------------------------------------------------------------------------


def take(stream: Generator[node_pb2.BlockResponse, None, None], count: int) -> list[int]:
    """The heights of the first `count` blocks; then the stream is closed (which cancels it)."""
    heights = [item.height for item in itertools.islice(stream, count)]
    stream.close()
    return heights


def test_blocks_stream_in_order(harness: Harness) -> None:
    harness.chain.commit_empty(4)
    assert take(harness.client.blocks(1, verify=True), 4) == [1, 2, 3, 4]


def test_blocks_follow_new_commits(harness: Harness) -> None:
    timer = threading.Timer(0.1, harness.chain.commit_empty, args=(2,))
    timer.start()
    try:
        assert take(harness.client.blocks(0), 3) == [0, 1, 2]
    finally:
        timer.join()


def test_blocks_resume_after_a_dropped_stream(harness: Harness) -> None:
    harness.chain.commit_empty(6)
    harness.node.faults.stream_budgets = [2, 0, 3]
    assert take(harness.client.blocks(1), 6) == [1, 2, 3, 4, 5, 6]
    assert harness.node.faults.stream_requests == [1, 3, 3, 6]


def test_blocks_skip_heights_resent_after_a_reconnect(harness: Harness) -> None:
    harness.chain.commit_empty(6)
    harness.node.faults.stream_budgets = [3]
    harness.node.faults.resend = 2
    # The first stream sends 0, 1 (dropped by the client) and 2; the second starts again at 1.
    assert take(harness.client.blocks(2), 5) == [2, 3, 4, 5, 6]
    assert harness.node.faults.stream_requests == [2, 3]


def test_blocks_stream_that_ends_is_reopened(harness: Harness) -> None:
    harness.chain.commit_empty(2)
    harness.node.faults.end_streams = True
    stream = harness.client.blocks(0)
    assert [next(stream).height for _ in range(3)] == [0, 1, 2]
    timer = threading.Timer(0.02, harness.chain.commit_empty, args=(1,))
    timer.start()
    try:
        assert next(stream).height == 3
    finally:
        timer.join()
        stream.close()


def test_blocks_give_up_after_bounded_retries(harness: Harness) -> None:
    harness.chain.commit_empty(3)
    harness.node.faults.stream_budgets = [1] + [0] * 10
    stream = harness.client.blocks(0)
    assert next(stream).height == 0
    with pytest.raises(Unavailable, match="the node is restarting"):
        next(stream)
    # one first stream, then the initial try and 5 retries from height 1
    assert harness.node.faults.stream_requests == [0, 1, 1, 1, 1, 1]


def test_blocks_gap_is_a_protocol_error(harness: Harness) -> None:
    harness.chain.commit_empty(4)
    harness.node.faults.skip_height = 2
    stream = harness.client.blocks(0)
    assert [next(stream).height for _ in range(2)] == [0, 1]
    with pytest.raises(ProtocolError, match="skipped from height 2 to 3"):
        next(stream)


def test_stream_errors_other_than_unavailable_are_raised(harness: Harness) -> None:
    harness.node.faults.fail["StreamBlocks"] = (grpc.StatusCode.INVALID_ARGUMENT, "from_height: too far")
    with pytest.raises(InvalidArgument, match="from_height: too far"):
        next(harness.client.blocks(99))


def test_events_resume_without_gaps_or_duplicates(harness: Harness) -> None:
    account = harness.client.account(USER)
    for index in range(5):
        account.submit_and_wait(0, 2, system_pb2.Remark(note=bytes([index])))
    harness.node.faults.stream_budgets = [2, 1]
    harness.node.faults.resend = 1
    responses = list(itertools.islice(harness.client.events(1, module="system"), 5))
    assert [response.height for response in responses] == [1, 2, 3, 4, 5]
    # Each reopened stream starts one height early: 0 and 1, then 1 again (dropped), then 1 to 5.
    assert harness.node.faults.stream_requests == [1, 2, 2]
    for response in responses:
        (tx_events,) = response.transactions
        (event,) = tx_events.events
        assert isinstance(decode_event(event), system_pb2.Remarked)
    filtered = list(itertools.islice(harness.client.events(1, module="tokens"), 2))
    assert [len(response.transactions) for response in filtered] == [0, 0]


def test_stream_survives_a_node_restart() -> None:
    chain = FakeChain()
    chain.commit_empty(5)
    first = FakeNode(chain)
    server, port = start_server(first)
    client = Client(
        f"127.0.0.1:{port}", retry_backoff=0.05, max_retry_backoff=0.2, stream_retries=20, options=FAST_RECONNECT
    )
    second_server: grpc.Server | None = None
    try:
        stream = client.blocks(0)
        assert [next(stream).height for _ in range(3)] == [0, 1, 2]
        server.stop(None).wait()
        second = FakeNode(chain)
        second_server, _ = start_server(second, port)
        chain.commit_empty(2)
        # 3 to 5 may already sit in the client's buffer; 6 and 7 can only come from the restarted node.
        assert [next(stream).height for _ in range(5)] == [3, 4, 5, 6, 7]
        assert second.faults.stream_requests in ([3], [4], [5], [6])
        stream.close()
    finally:
        client.close()
        server.stop(None).wait()
        if second_server is not None:
            second_server.stop(None).wait()


def test_failover_to_the_next_target() -> None:
    chain = FakeChain()
    chain.commit_empty(4)
    first, second = FakeNode(chain), FakeNode(chain)
    first.faults.stream_budgets = [2]
    server_a, port_a = start_server(first)
    server_b, port_b = start_server(second)
    dead = f"127.0.0.1:{free_port()}"
    client = Client([f"127.0.0.1:{port_a}", f"127.0.0.1:{port_b}", dead], retry_backoff=0.01)
    try:
        assert take(client.blocks(0), 5) == [0, 1, 2, 3, 4]
        assert first.faults.stream_requests == [0]
        assert second.faults.stream_requests == [2]
        assert client.current_target == f"127.0.0.1:{port_b}"
        server_b.stop(None).wait()
        # b is down, the dead target refuses: unary calls go round to a
        assert client.status().chain_id == CHAIN
        assert client.current_target == f"127.0.0.1:{port_a}"
    finally:
        client.close()
        server_a.stop(None).wait()
        server_b.stop(None).wait()


def test_unreachable_node_is_unavailable() -> None:
    with Client(f"127.0.0.1:{free_port()}", timeout=2) as client, pytest.raises(Unavailable):
        client.status()


def test_closed_client_refuses_calls(harness: Harness) -> None:
    harness.client.close()
    with pytest.raises(ValueError, match="closed"):
        harness.client.status()


# -- queries ---------------------------------------------------------------------------------------------


def test_query(harness: Harness) -> None:
    result = harness.client.query(
        "system", "account", system_pb2.AccountQuery(account=ADMIN.account_id), system_pb2.AccountResult
    )
    assert list(result.roles) == ["admin"]
    with pytest.raises(InvalidArgument, match=r"no query system\.nothing"):
        harness.client.query("system", "nothing", system_pb2.AccountQuery(), system_pb2.AccountResult)
    with pytest.raises(ProtocolError, match=r"does not decode as dcrm\.v1\.system\.AccountResult"):
        harness.client.query("system", "garbage", system_pb2.AccountQuery(), system_pb2.AccountResult)


def test_query_state_verifies_present_and_absent_keys(harness: Harness) -> None:
    harness.client.submit_and_wait(remark(USER, 0), timeout=2)
    assert harness.client.query_state(nonce_key(USER.account_id)) == (1).to_bytes(8, "big")
    assert harness.client.query_state(role_key("admin", ADMIN.account_id)) == b"\x01"
    assert harness.client.query_state(role_key("admin", USER.account_id)) is None
    pinned = [key.account_id for key in VALIDATORS]
    assert harness.client.query_state(nonce_key(USER.account_id), validators=pinned) == (1).to_bytes(8, "big")


@pytest.mark.parametrize(
    ("tamper", "error", "message"),
    [
        ("header", CertificateError, "the certificate is for block .*, but the header hashes to"),
        ("signers", CertificateError, "vote 0: signed by .*, which is not a validator"),
        ("value", ProofError, "proof leads to root"),
        ("absent", ProofError, "proof leads to root"),
        ("key", ProofError, "got a proof for"),
    ],
)
def test_query_state_detects_tampering(harness: Harness, tamper: str, error: type[Exception], message: str) -> None:
    harness.client.submit_and_wait(remark(USER, 0), timeout=2)
    harness.node.faults.tamper_state = tamper
    with pytest.raises(error, match=message):
        harness.client.query_state(nonce_key(USER.account_id))


def test_query_state_without_verification(harness: Harness) -> None:
    harness.client.submit_and_wait(remark(USER, 0), timeout=2)
    harness.node.faults.tamper_state = "header"
    assert harness.client.query_state(nonce_key(USER.account_id), verify=False) == (1).to_bytes(8, "big")


def test_pinned_validators_that_did_not_sign(harness: Harness) -> None:
    client = Client(harness.target, chain_id=CHAIN, validators=[key.public_key for key in OUTSIDERS])
    try:
        with pytest.raises(CertificateError, match="which is not a validator"):
            client.query_state(nonce_key(USER.account_id))
    finally:
        client.close()


# -- accounts and the system module ----------------------------------------------------------------------


def test_account_tracks_its_nonce(harness: Harness) -> None:
    harness.chain.nonces[USER.account_id] = 4
    account = harness.client.account(USER)
    assert account.account_id == USER.account_id
    assert account.next_nonce == 4  # read from the chain
    tx = account.sign(0, 2, system_pb2.Remark(note=b"a"))
    body = verify_transaction(tx)
    assert (body.nonce, body.valid_until, body.chain_id) == (4, 100, CHAIN)
    assert account.next_nonce == 5  # counted locally
    harness.client.submit(tx)
    account.submit(0, 2, system_pb2.Remark(note=b"b"))
    harness.chain.commit_pending()
    assert account.next_nonce == 6
    assert account.resync() == 6
    explicit = account.sign(0, 2, b"", valid_until=7)
    assert verify_transaction(explicit).valid_until == 7
    assert account.next_nonce == 7


def test_account_resync_after_the_chain_moved_on(harness: Harness) -> None:
    account = harness.client.account(USER, nonce=0)
    harness.chain.nonces[USER.account_id] = 10
    with pytest.raises(FailedPrecondition, match="expected 10"):
        account.submit(0, 2, system_pb2.Remark())
    assert account.next_nonce == 0  # the rejected nonce is handed back
    assert account.resync() == 10
    assert account.submit_and_wait(0, 2, system_pb2.Remark()).success
    assert account.next_nonce == 11


def test_account_hands_back_a_rejected_nonce(harness: Harness) -> None:
    account = Account(harness.client, USER)
    with pytest.raises(PermissionDenied):
        harness.client.system.grant_role(account, USER.account_id, "issuer")
    assert account.next_nonce == 0
    receipt = harness.client.system.remark(account, b"after the rejection")
    assert receipt.success
    assert account.next_nonce == 1


def test_account_rereads_the_nonce_after_the_node_was_unreachable(harness: Harness) -> None:
    account = Account(harness.client, USER, nonce=0)
    harness.node.faults.fail["SubmitAndWait"] = (grpc.StatusCode.UNAVAILABLE, "down")
    with pytest.raises(Unavailable):
        account.submit_and_wait(0, 2, system_pb2.Remark())
    harness.chain.nonces[USER.account_id] = 3
    assert account.next_nonce == 3


def test_system_helpers(harness: Harness) -> None:
    system = harness.client.system
    admin = harness.client.account(ADMIN)
    receipt = system.grant_role(admin, USER.account_id, "issuer")
    (event,) = receipt.events
    assert decode_event(event) == system_pb2.RoleGranted(
        account=USER.account_id, role="issuer", granted_by=ADMIN.account_id
    )
    with pytest.raises(RoleAlreadyGranted):
        system.grant_role(admin, USER.account_id, "issuer")
    info = system.account_info(USER.account_id)
    assert list(info.roles) == ["issuer"]
    assert system.role_members("issuer") == [USER.account_id]
    assert system.has_role(USER.account_id, "issuer")
    assert system.nonce(ADMIN.account_id) == 2
    assert system.account_info(ADMIN.account_id).nonce == 2
    receipt = system.revoke_role(admin, USER.account_id, "issuer")
    assert isinstance(decode_event(receipt.events[0]), system_pb2.RoleRevoked)
    assert not system.has_role(USER.account_id, "issuer")
    assert system.nonce(USER.account_id) == 0
    with pytest.raises(ValueError, match="target_account must be a 20-byte account id"):
        system.grant_role(admin, b"short", "issuer")
    with pytest.raises(ValueError, match="note is 257 bytes, at most 256 allowed"):
        system.remark(admin, b"x" * 257)
    assert admin.next_nonce == 3


def test_missing_role_receipts_raise_missing_role() -> None:
    # The fake rejects at admission, as the node does; a receipt can still carry MissingRole when the role
    # was revoked between admission and execution.
    receipt = types_pb2.Receipt(
        tx_hash=b"\x01" * 32,
        success=False,
        error=types_pb2.DispatchError(module=0, code=system_pb2.MISSING_ROLE, name="MissingRole", message="admin"),
    )
    with pytest.raises(MissingRole):
        dcrm.client.raise_for_receipt(receipt)
