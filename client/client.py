"""A synchronous client of the dcrm.v1.Node gRPC service, and an Account that signs with tracked nonces.

Every gRPC failure surfaces as a typed `RpcError` subclass (see `dcrm.client.errors`). Given several
targets, a call that finds its node UNAVAILABLE is retried once on each other target; block and event
streams resume from the next height after a dropped connection, with bounded retries and backoff.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Generator, Sequence
from contextlib import closing
from functools import cached_property
from types import TracebackType
from typing import Any, TypeVar

import grpc
from google.protobuf.message import DecodeError, Message

from dcrm.client.certificates import (
    ValidatorKey,
    block_hash,
    validator_keys,
    verify_block,
    verify_commit_certificate,
)
from dcrm.client.consent import ConsentApi
from dcrm.client.errors import (
    AlreadyExists,
    DeadlineExceeded,
    NotFound,
    ProtocolError,
    RpcError,
    Unavailable,
    from_rpc_error,
    raise_for_receipt,
)
from dcrm.client.governance import GovernanceApi
from dcrm.client.identity import IdentityApi
from dcrm.client.keys import SigningKey
from dcrm.client.proof import ProofError, verify_state_proof
from dcrm.client.system import SystemApi
from dcrm.client.tokens import TokensApi
from dcrm.client.transactions import build_transaction, transaction_hash
from dcrm.v1 import node_pb2, node_pb2_grpc, types_pb2

__all__ = [
    "DEFAULT_VALID_FOR",
    "DEFAULT_WAIT_TIMEOUT",
    "MAX_MESSAGE_BYTES",
    "Account",
    "Client",
]

MAX_MESSAGE_BYTES = 16 * 1024 * 1024
DEFAULT_VALID_FOR = 100  # blocks
DEFAULT_WAIT_TIMEOUT = 30.0  # seconds
_WAIT_MARGIN = 5.0  # seconds the client waits past the node's own SubmitAndWait timeout

R = TypeVar("R", bound=Message)
S = TypeVar("S", node_pb2.BlockResponse, node_pb2.EventsResponse)

_COMMITTED = node_pb2.TransactionStatus.COMMITTED


class _Connection:
    """One target's channel and stub."""

    def __init__(self, target: str, credentials: grpc.ChannelCredentials | None, options: list[tuple[str, Any]]):
        self.target = target
        if credentials is None:
            self.channel = grpc.insecure_channel(target, options=options)
        else:
            self.channel = grpc.secure_channel(target, credentials, options=options)
        self.stub = node_pb2_grpc.NodeStub(self.channel)


class Client:
    """A client of one dcrm node, or of several with failover between them.

    `target` is "host:port" or a sequence of them; `credentials` selects TLS (default: plaintext);
    `timeout` is the deadline in seconds of each unary call. `chain_id` and `validators` pin the chain
    and the validator keys (33-byte public keys or 20-byte account ids) that verified reads check
    against; unpinned, they are taken from the node's status, which proves consistency with that node
    only. `stream_retries` bounds the consecutive reconnects of a stream; the wait before reconnect n is
    `retry_backoff * 2**(n-1)` seconds, at most `max_retry_backoff`.

    Raises ValueError when no target is given.
    """

    def __init__(
        self,
        target: str | Sequence[str],
        *,
        credentials: grpc.ChannelCredentials | None = None,
        timeout: float = 10.0,
        chain_id: str | None = None,
        validators: Sequence[ValidatorKey] | None = None,
        stream_retries: int = 5,
        retry_backoff: float = 0.2,
        max_retry_backoff: float = 5.0,
        options: Sequence[tuple[str, Any]] = (),
    ) -> None:
        targets = [target] if isinstance(target, str) else list(target)
        if not targets:
            raise ValueError("at least one target is needed")
        self._targets = targets
        self._credentials = credentials
        self._options = [
            ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
            ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
            *options,
        ]
        self._timeout = timeout
        self._chain_id = chain_id
        self._validators = list(validators) if validators is not None else None
        self._stream_retries = stream_retries
        self._retry_backoff = retry_backoff
        self._max_retry_backoff = max_retry_backoff
        self._lock = threading.Lock()
        self._connections: dict[int, _Connection] = {}
        self._current = 0
        self._closed = False

    # -- connections -------------------------------------------------------------------------------

    @property
    def targets(self) -> list[str]:
        """The targets, in failover order."""
        return list(self._targets)

    @property
    def current_target(self) -> str:
        """The target calls go to now."""
        return self._targets[self._current]

    def _connection(self) -> _Connection:
        with self._lock:
            if self._closed:
                raise ValueError("the client is closed")
            connection = self._connections.get(self._current)
            if connection is None:
                connection = _Connection(self._targets[self._current], self._credentials, self._options)
                self._connections[self._current] = connection
            return connection

    def _failover(self, failed: _Connection) -> None:
        """Move on to the next target, unless another thread already moved away from `failed`."""
        with self._lock:
            if self._connections.get(self._current) is failed:
                self._current = (self._current + 1) % len(self._targets)

    def close(self) -> None:
        """Close every channel; calls in flight fail with CANCELLED, later calls raise ValueError."""
        with self._lock:
            self._closed = True
            connections = list(self._connections.values())
            self._connections.clear()
        for connection in connections:
            connection.channel.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _unary(self, rpc: Callable[[Any], Any], request: Message, response_type: type[R], timeout: float | None) -> R:
        """Call `rpc(stub)` with `request`; on UNAVAILABLE try each other target once. Raises RpcError."""
        deadline = self._timeout if timeout is None else timeout
        for attempt in range(len(self._targets)):
            connection = self._connection()
            try:
                response = rpc(connection.stub)(request, timeout=deadline)
            except grpc.RpcError as error:
                typed = from_rpc_error(error)
                if isinstance(typed, Unavailable) and attempt + 1 < len(self._targets):
                    self._failover(connection)
                    continue
                raise typed from error
            if not isinstance(response, response_type):
                raise ProtocolError(f"expected {response_type.__name__}, got {type(response).__name__}")
            return response
        raise AssertionError("unreachable: the last attempt returns or raises")

    # -- node ----------------------------------------------------------------------------------------

    def status(self, *, timeout: float | None = None) -> node_pb2.NodeStatus:
        """The node's chain id, head, validators, peers and mempool size. Raises RpcError subclasses."""
        return self._unary(lambda stub: stub.GetStatus, node_pb2.GetStatusRequest(), node_pb2.NodeStatus, timeout)

    def chain_id(self) -> str:
        """The pinned chain id, else the node's (fetched once). Raises RpcError subclasses."""
        if self._chain_id is None:
            self._chain_id = self.status().chain_id
        return self._chain_id

    def _trusted_validators(self, validators: Sequence[ValidatorKey] | None) -> list[ValidatorKey]:
        if validators is not None:
            return list(validators)
        if self._validators is not None:
            return list(self._validators)
        return validator_keys(self.status().validators)

    # -- transactions ----------------------------------------------------------------------------------

    def submit(self, tx: types_pb2.Transaction, *, timeout: float | None = None) -> bytes:
        """Admit `tx` to the node's mempool; returns its hash.

        Raises the RpcError subclass of a rejection: InvalidArgument, Unauthenticated, FailedPrecondition,
        PermissionDenied, ResourceExhausted, AlreadyExists, Unavailable; ProtocolError when the node
        reports another hash.
        """
        request = node_pb2.SubmitTransactionRequest(transaction=tx)
        response = self._unary(
            lambda stub: stub.SubmitTransaction, request, node_pb2.SubmitTransactionResponse, timeout
        )
        expected = transaction_hash(tx)
        if response.tx_hash != expected:
            raise ProtocolError(f"the node admitted {response.tx_hash.hex()}, but the hash is {expected.hex()}")
        return expected

    def submit_batch(
        self, txs: Sequence[types_pb2.Transaction], *, timeout: float | None = None
    ) -> list[node_pb2.AdmissionResult]:
        """Admit many transactions in one call; one AdmissionResult each, in order (see `admission_error`).

        Raises RpcError subclasses when the whole call fails (for example InvalidArgument for a batch over
        the node's limit) and ProtocolError when the node returns another number of results.
        """
        request = node_pb2.SubmitBatchRequest(transactions=txs)
        response = self._unary(lambda stub: stub.SubmitBatch, request, node_pb2.SubmitBatchResponse, timeout)
        if len(response.results) != len(txs):
            raise ProtocolError(f"sent {len(txs)} transactions, got {len(response.results)} results")
        return list(response.results)

    def submit_and_wait(
        self, tx: types_pb2.Transaction, *, timeout: float = DEFAULT_WAIT_TIMEOUT, check: bool = True
    ) -> types_pb2.Receipt:
        """Admit `tx` and wait up to `timeout` seconds for the block that includes it; returns its receipt.

        When the node already holds `tx` (AlreadyExists), waits for it with `wait_for_transaction`.
        Raises the RpcError subclass of a rejection, DeadlineExceeded when it is not committed in time (it
        may still commit), Aborted when it left the mempool uncommitted, ProtocolError for an answer about
        another transaction; with `check`, the TransactionFailed subclass of a failed call.
        """
        tx_hash = transaction_hash(tx)
        started = time.monotonic()
        request = node_pb2.SubmitAndWaitRequest(transaction=tx, timeout_ms=max(1, round(timeout * 1000)))
        try:
            status = self._unary(
                lambda stub: stub.SubmitAndWait, request, node_pb2.TransactionStatus, timeout + _WAIT_MARGIN
            )
        except AlreadyExists:
            try:
                self.transaction(tx_hash)
            except NotFound:
                raise  # the node holds another transaction with this nonce, not this one
            remaining = max(0.0, timeout - (time.monotonic() - started))
            return self.wait_for_transaction(tx_hash, timeout=remaining, check=check)
        return self._receipt_of(tx_hash, status, check)

    def wait_for_transaction(
        self,
        tx_hash: bytes,
        *,
        timeout: float = DEFAULT_WAIT_TIMEOUT,
        check: bool = True,
        poll_interval: float = 0.2,
    ) -> types_pb2.Receipt:
        """Poll until the transaction is committed; returns its receipt.

        A node that does not know the transaction yet (NotFound) is asked again until the timeout.
        Raises DeadlineExceeded after `timeout` seconds, other RpcError subclasses, ProtocolError; with
        `check`, the TransactionFailed subclass of a failed call.
        """
        deadline = time.monotonic() + timeout
        while True:
            try:
                status = self.transaction(tx_hash)
            except NotFound:
                status = None
            if status is not None and status.state == _COMMITTED:
                return self._receipt_of(tx_hash, status, check)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise DeadlineExceeded(
                    grpc.StatusCode.DEADLINE_EXCEEDED,
                    f"transaction {tx_hash.hex()} was not committed within {timeout:g} s",
                )
            time.sleep(min(poll_interval, remaining))

    @staticmethod
    def _receipt_of(tx_hash: bytes, status: node_pb2.TransactionStatus, check: bool) -> types_pb2.Receipt:
        if status.state != _COMMITTED or not status.HasField("receipt"):
            state = node_pb2.TransactionStatus.State.Name(status.state)
            raise ProtocolError(f"expected a committed transaction with a receipt, got state {state}")
        if status.receipt.tx_hash != tx_hash:
            raise ProtocolError(f"asked for {tx_hash.hex()}, got the receipt of {status.receipt.tx_hash.hex()}")
        if check:
            raise_for_receipt(status.receipt)
        return status.receipt

    def transaction(self, tx_hash: bytes, *, timeout: float | None = None) -> node_pb2.TransactionStatus:
        """Where a transaction is: PENDING, or COMMITTED with its receipt and block hash.

        Raises NotFound when the node knows no such transaction, and other RpcError subclasses.
        """
        request = node_pb2.GetTransactionRequest(tx_hash=tx_hash)
        return self._unary(lambda stub: stub.GetTransaction, request, node_pb2.TransactionStatus, timeout)

    # -- blocks and events -------------------------------------------------------------------------------

    def block(
        self,
        height: int | None = None,
        hash: bytes | None = None,
        *,
        verify: bool = False,
        validators: Sequence[ValidatorKey] | None = None,
    ) -> node_pb2.BlockResponse:
        """The committed block at `height`, or with `hash`, or (neither given) the head block.

        The answer's block hash and height are checked against its header; with `verify`, its certificate
        is checked too (against `validators`, else the pinned ones, else the node's).
        Raises ValueError when both selectors are given, NotFound for an unknown block, other RpcError
        subclasses, ProtocolError for an answer about another block, CertificateError when `verify` fails.
        """
        if height is not None and hash is not None:
            raise ValueError("give height or hash, not both")
        if hash is not None:
            request = node_pb2.GetBlockRequest(hash=hash)
        else:
            request = node_pb2.GetBlockRequest(height=self.status().height if height is None else height)
        response = self._unary(lambda stub: stub.GetBlock, request, node_pb2.BlockResponse, None)
        header = _check_block_response(response)
        if hash is not None and response.block_hash != hash:
            raise ProtocolError(f"asked for block {hash.hex()}, got {response.block_hash.hex()}")
        if request.HasField("height") and header.height != request.height:
            raise ProtocolError(f"asked for height {request.height}, got {header.height}")
        if verify:
            verify_block(response, self._trusted_validators(validators), self.chain_id())
        return response

    def blocks(
        self,
        from_height: int,
        *,
        verify: bool = False,
        validators: Sequence[ValidatorKey] | None = None,
    ) -> Generator[node_pb2.BlockResponse, None, None]:
        """Committed blocks from `from_height` on, each once and in order, then each new one as it commits.

        A dropped stream is reopened from the next height (on the next target when there are several).
        Closing the generator cancels the stream. With `verify`, each block's certificate is checked.
        Raises Unavailable after `stream_retries` consecutive failed reconnects, other RpcError subclasses,
        ProtocolError when the node skips a height, CertificateError when `verify` fails.
        """
        trusted = self._trusted_validators(validators) if verify else []
        chain_id = self.chain_id() if verify else ""
        stream: Generator[node_pb2.BlockResponse, None, None] = self._resumable(
            lambda stub, height: stub.StreamBlocks(node_pb2.StreamBlocksRequest(from_height=height)),
            from_height,
            contiguous=True,
        )
        with closing(stream):  # closing this generator cancels the gRPC stream at once
            for response in stream:
                _check_block_response(response)
                if verify:
                    verify_block(response, trusted, chain_id)
                yield response

    def events(self, from_height: int, module: str | None = None) -> Generator[node_pb2.EventsResponse, None, None]:
        """The events of committed blocks from `from_height` on, one EventsResponse per block, in order.

        `module` keeps only that module's events ("system", ...). A dropped stream is reopened from the
        height after the last one received. Closing the generator cancels the stream. Decode each event
        with `decode_event`. Raises Unavailable after `stream_retries` consecutive failed reconnects and
        other RpcError subclasses.
        """
        request_module = module or ""
        return self._resumable(
            lambda stub, height: stub.StreamEvents(
                node_pb2.StreamEventsRequest(from_height=height, module=request_module)
            ),
            from_height,
            contiguous=False,
        )

    def _resumable(
        self, open_stream: Callable[[Any, int], Any], from_height: int, *, contiguous: bool
    ) -> Generator[S, None, None]:
        """Items of a height-ordered stream, each height once; reopened from the next height when dropped."""
        next_height = from_height
        failures = 0
        while True:
            connection = self._connection()
            call = open_stream(connection.stub, next_height)
            error: RpcError
            try:
                for item in call:
                    if item.height < next_height:
                        continue  # delivered before the reconnect
                    if contiguous and item.height != next_height:
                        raise ProtocolError(f"the stream skipped from height {next_height} to {item.height}")
                    yield item
                    next_height = item.height + 1
                    failures = 0
                error = Unavailable(
                    grpc.StatusCode.UNAVAILABLE, f"{connection.target} ended the stream before height {next_height}"
                )
            except grpc.RpcError as rpc_error:
                error = from_rpc_error(rpc_error)
                if not isinstance(error, Unavailable):
                    raise error from rpc_error
            finally:
                call.cancel()
            failures += 1
            if failures > self._stream_retries:
                raise error
            self._failover(connection)
            time.sleep(min(self._max_retry_backoff, self._retry_backoff * 2 ** (failures - 1)))

    # -- queries -----------------------------------------------------------------------------------

    def query(
        self, module: str, method: str, request: Message, result_type: type[R], *, timeout: float | None = None
    ) -> R:
        """A module query answered from the node's committed state (unverified), decoded as `result_type`.

        Raises InvalidArgument or NotFound for an unknown module, method or bad request, other RpcError
        subclasses, and ProtocolError when the result does not decode.
        """
        query = node_pb2.QueryRequest(module=module, method=method, args=request.SerializeToString())
        response = self._unary(lambda stub: stub.Query, query, node_pb2.QueryResponse, timeout)
        try:
            return result_type.FromString(response.result)
        except DecodeError as error:
            raise ProtocolError(
                f"the {module}.{method} result does not decode as {result_type.DESCRIPTOR.full_name}: {error}"
            ) from None

    def query_state(
        self,
        key: bytes,
        *,
        verify: bool = True,
        validators: Sequence[ValidatorKey] | None = None,
        timeout: float | None = None,
    ) -> bytes | None:
        """The value of a runtime state key at the node's head, or None when the key is absent.

        With `verify` (the default), the answer is trusted only after checking that the commit certificate
        proves the returned header final (against `validators`, else the pinned ones, else the node's
        status) and that the Merkle proof leads from the header's state root to the value.
        Raises ProofError when the proof is for another key or does not match the state root,
        CertificateError when the certificate does not prove the header, and RpcError subclasses.
        """
        proof = self.state_proof(key, verify=verify, validators=validators, timeout=timeout).proof
        return bytes(proof.value) if proof.exists else None

    def state_proof(
        self,
        key: bytes,
        *,
        verify: bool = True,
        validators: Sequence[ValidatorKey] | None = None,
        timeout: float | None = None,
    ) -> node_pb2.QueryStateResponse:
        """The whole QueryState answer for `key`: proof, header bytes and commit certificate (for receipts that
        are verified offline later). Verified and raising as `query_state`.
        """
        request = node_pb2.QueryStateRequest(key=key)
        response = self._unary(lambda stub: stub.QueryState, request, node_pb2.QueryStateResponse, timeout)
        proof = response.proof
        if proof.key != key:
            raise ProofError(f"asked for key {key!r}, got a proof for {proof.key!r}")
        if verify:
            header = verify_commit_certificate(
                response.header, response.certificate, self._trusted_validators(validators), self.chain_id()
            )
            verify_state_proof(header.state_root, proof, key=key)
        return response

    # -- helpers -----------------------------------------------------------------------------------

    @cached_property
    def system(self) -> SystemApi:
        """Typed calls and queries of the system module."""
        return SystemApi(self)

    @cached_property
    def identity(self) -> IdentityApi:
        """Typed calls and queries of the identity module: DIDs, issuers, schemas, status lists, credentials."""
        return IdentityApi(self)

    @cached_property
    def consent(self) -> ConsentApi:
        """Typed calls and queries of the consent module: records, check, access log, verifiable receipts."""
        return ConsentApi(self)

    @cached_property
    def tokens(self) -> TokensApi:
        """Typed calls and queries of the tokens module: classes, mint, transfer, allowances, holds, lots."""
        return TokensApi(self)

    @cached_property
    def governance(self) -> GovernanceApi:
        """Typed calls and queries of the governance module: validator-set changes and the schedule."""
        return GovernanceApi(self)

    def account(self, key: SigningKey, *, nonce: int | None = None) -> Account:
        """An Account signing with `key` through this client (see Account)."""
        return Account(self, key, nonce=nonce)


def _check_block_response(response: node_pb2.BlockResponse) -> types_pb2.BlockHeader:
    """The decoded header, after checking that the response's block_hash and height are the header's."""
    try:
        header = types_pb2.BlockHeader.FromString(response.block.header)
    except DecodeError as error:
        raise ProtocolError(f"the block header does not decode: {error}") from None
    hashed = block_hash(response.block.header)
    if hashed != response.block_hash:
        raise ProtocolError(f"block_hash is {response.block_hash.hex()}, but the header hashes to {hashed.hex()}")
    if header.height != response.height:
        raise ProtocolError(f"height is {response.height}, but the header is at height {header.height}")
    return header


class Account:
    """Signs transactions for one key and tracks its next nonce.

    The nonce is read from the chain (system "account" query) on first use and then counted locally;
    `resync()` reads it again. A transaction the node rejects hands its nonce back when it was the last
    one signed, otherwise (or when the node could not be reached) the next use re-reads the nonce. Safe to
    share between threads.
    """

    def __init__(self, client: Client, key: SigningKey, *, nonce: int | None = None) -> None:
        self._client = client
        self._key = key
        self._next_nonce = nonce
        self._lock = threading.Lock()

    @property
    def key(self) -> SigningKey:
        """The signing key."""
        return self._key

    @property
    def account_id(self) -> bytes:
        """The 20-byte account id."""
        return self._key.account_id

    @property
    def next_nonce(self) -> int:
        """The nonce the next transaction will use (read from the chain if unknown). Raises RpcError."""
        with self._lock:
            if self._next_nonce is None:
                self._next_nonce = self._fetch_nonce()
            return self._next_nonce

    def resync(self) -> int:
        """Read the next nonce from the chain's committed state and use it from now on; returns it.

        Transactions still pending in a mempool are not counted by the chain. Raises RpcError subclasses.
        """
        with self._lock:
            self._next_nonce = self._fetch_nonce()
            return self._next_nonce

    def _fetch_nonce(self) -> int:
        return self._client.system.account_info(self._key.account_id).nonce

    def _take_nonce(self) -> int:
        with self._lock:
            if self._next_nonce is None:
                self._next_nonce = self._fetch_nonce()
            nonce = self._next_nonce
            self._next_nonce = nonce + 1
            return nonce

    def _release_nonce(self, nonce: int) -> None:
        """The transaction with `nonce` was not admitted: reuse the nonce if nothing was signed after it."""
        with self._lock:
            self._next_nonce = nonce if self._next_nonce == nonce + 1 else None

    def sign(
        self,
        module: int,
        method: int,
        args: Message | bytes,
        *,
        valid_for: int = DEFAULT_VALID_FOR,
        valid_until: int | None = None,
    ) -> types_pb2.Transaction:
        """A transaction calling (module, method) with `args`, signed with the next nonce (which is used up).

        It may be included up to `valid_until`, by default the node's head height + `valid_for` blocks.
        Raises ValueError for out-of-range fields and RpcError subclasses when the chain id, head height or
        nonce cannot be read.
        """
        return self._sign(module, method, args, valid_for, valid_until)[0]

    def _sign(
        self, module: int, method: int, args: Message | bytes, valid_for: int, valid_until: int | None
    ) -> tuple[types_pb2.Transaction, int]:
        if valid_until is None:
            valid_until = self._client.status().height + valid_for
        chain_id = self._client.chain_id()
        nonce = self._take_nonce()
        try:
            tx = build_transaction(
                self._key,
                chain_id=chain_id,
                nonce=nonce,
                valid_until=valid_until,
                module=module,
                method=method,
                args=args,
            )
        except ValueError:
            self._release_nonce(nonce)
            raise
        return tx, nonce

    def submit(self, module: int, method: int, args: Message | bytes, *, valid_for: int = DEFAULT_VALID_FOR) -> bytes:
        """Sign and submit a call; returns the transaction hash. Raises like `sign` and `Client.submit`."""
        tx, nonce = self._sign(module, method, args, valid_for, None)
        try:
            return self._client.submit(tx)
        except RpcError as error:
            self._after_rejection(nonce, error)
            raise

    def submit_and_wait(
        self,
        module: int,
        method: int,
        args: Message | bytes,
        *,
        valid_for: int = DEFAULT_VALID_FOR,
        timeout: float | None = None,
        check: bool = True,
    ) -> types_pb2.Receipt:
        """Sign a call, submit it and wait for its receipt. Raises like `sign` and `Client.submit_and_wait`."""
        tx, nonce = self._sign(module, method, args, valid_for, None)
        try:
            return self._client.submit_and_wait(
                tx, timeout=DEFAULT_WAIT_TIMEOUT if timeout is None else timeout, check=check
            )
        except RpcError as error:
            self._after_rejection(nonce, error)
            raise

    def _after_rejection(self, nonce: int, error: RpcError) -> None:
        if isinstance(error, Unavailable):
            with self._lock:
                self._next_nonce = None  # unknown whether it was admitted: read the chain next time
        elif not isinstance(error, DeadlineExceeded | AlreadyExists):
            self._release_nonce(nonce)
