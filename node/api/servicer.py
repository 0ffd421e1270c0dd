"""The dcrm.v1.Node gRPC service: thin handlers over admission, the chain store and the runtime."""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

import grpc

from dcrm.node.api.admission import Admission, AdmissionError, status_for_kind
from dcrm.node.chain import Chain
from dcrm.node.config import ConsensusConfig, MempoolConfig
from dcrm.node.mempool import Mempool
from dcrm.node.storage.chain_store import StoredBlock
from dcrm.runtime import QueryError, SignedTransaction
from dcrm.runtime.crypto import account_id
from dcrm.v1 import node_pb2, node_pb2_grpc

__all__ = ["VERSION", "NodeServicer"]

log = logging.getLogger(__name__)

VERSION = "dcrm/0.1.0"
HASH_LENGTH = 32
MAX_STATE_KEY_BYTES = 1024
MAX_NAME_CHARS = 64
STREAM_POLL_SECONDS = 0.5

R = TypeVar("R")


def _handler(method: Callable[..., R]) -> Callable[..., R]:
    """Turn AdmissionError into its status; anything unexpected is logged and reported as INTERNAL."""

    @functools.wraps(method)
    def wrapper(self: NodeServicer, request: Any, context: grpc.ServicerContext) -> R:
        try:
            return method(self, request, context)
        except AdmissionError as error:
            context.abort(error.code, error.message)
        except QueryError as error:
            context.abort(status_for_kind(error.kind), error.message)
        raise AssertionError("unreachable")  # context.abort raises

    return wrapper


def _block_response(stored: StoredBlock) -> node_pb2.BlockResponse:
    return node_pb2.BlockResponse(
        block=stored.block, certificate=stored.certificate, block_hash=stored.block_hash, height=stored.height
    )


class NodeServicer(node_pb2_grpc.NodeServicer):
    def __init__(
        self,
        chain: Chain,
        mempool: Mempool,
        on_admitted: Callable[[Sequence[SignedTransaction]], None],
        mempool_config: MempoolConfig,
        consensus_config: ConsensusConfig,
        peers: Callable[[], list[str]] = list,
        admission: Admission | None = None,
    ) -> None:
        self.chain = chain
        self.mempool = mempool
        self.admission = admission if admission is not None else Admission(chain, mempool)
        self.on_admitted = on_admitted
        self.mempool_config = mempool_config
        self.consensus_config = consensus_config
        self.peers = peers
        self.stopping = threading.Event()

    # --- writes -------------------------------------------------------------------------------

    @_handler
    def SubmitTransaction(
        self, request: node_pb2.SubmitTransactionRequest, context: grpc.ServicerContext
    ) -> node_pb2.SubmitTransactionResponse:
        signed = self.admission.admit(request.transaction)
        self.on_admitted([signed])
        return node_pb2.SubmitTransactionResponse(tx_hash=signed.hash)

    @_handler
    def SubmitBatch(
        self, request: node_pb2.SubmitBatchRequest, context: grpc.ServicerContext
    ) -> node_pb2.SubmitBatchResponse:
        count = len(request.transactions)
        if count > self.mempool_config.max_batch:
            raise AdmissionError(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"transactions has {count} entries, at most {self.mempool_config.max_batch} per batch",
            )
        results = []
        admitted = []
        for tx in request.transactions:
            try:
                signed = self.admission.admit(tx)
                admitted.append(signed)
                results.append(node_pb2.AdmissionResult(tx_hash=signed.hash, accepted=True))
            except AdmissionError as error:
                results.append(node_pb2.AdmissionResult(code=error.code.value[0], message=error.message))
        self.on_admitted(admitted)
        return node_pb2.SubmitBatchResponse(results=results)

    @_handler
    def SubmitAndWait(
        self, request: node_pb2.SubmitAndWaitRequest, context: grpc.ServicerContext
    ) -> node_pb2.TransactionStatus:
        signed = self.admission.admit(request.transaction)
        self.on_admitted([signed])
        timeout_ms = request.timeout_ms or self.consensus_config.submit_wait_timeout_ms
        deadline = time.monotonic() + min(timeout_ms, self.consensus_config.submit_wait_timeout_ms) / 1000
        while True:
            status = self._committed_status(signed.hash)
            if status is not None:
                return status
            if signed.hash not in self.mempool:
                status = self._committed_status(signed.hash)  # committed between the two looks
                if status is not None:
                    return status
                raise AdmissionError(
                    grpc.StatusCode.ABORTED,
                    f"transaction {signed.hash.hex()} left the mempool without being committed (expired or replaced)",
                )
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not context.is_active() or self.stopping.is_set():
                raise AdmissionError(
                    grpc.StatusCode.DEADLINE_EXCEEDED,
                    f"transaction {signed.hash.hex()} is pending but not committed after {timeout_ms} ms",
                )
            self.chain.wait_for_height(self.chain.head.height + 1, min(remaining, STREAM_POLL_SECONDS))

    # --- reads --------------------------------------------------------------------------------

    @_handler
    def GetTransaction(
        self, request: node_pb2.GetTransactionRequest, context: grpc.ServicerContext
    ) -> node_pb2.TransactionStatus:
        _require_hash(request.tx_hash, "tx_hash")
        status = self._committed_status(request.tx_hash)
        if status is not None:
            return status
        if request.tx_hash in self.mempool:
            return node_pb2.TransactionStatus(tx_hash=request.tx_hash, state=node_pb2.TransactionStatus.PENDING)
        raise AdmissionError(grpc.StatusCode.NOT_FOUND, f"transaction {request.tx_hash.hex()} is not known here")

    @_handler
    def GetBlock(self, request: node_pb2.GetBlockRequest, context: grpc.ServicerContext) -> node_pb2.BlockResponse:
        selector = request.WhichOneof("selector")
        if selector == "hash":
            _require_hash(request.hash, "hash")
            height = self.chain.store.height_of(request.hash)
            if height is None:
                raise AdmissionError(grpc.StatusCode.NOT_FOUND, f"no block with hash {request.hash.hex()}")
        elif selector == "height":
            height = request.height
        else:
            raise AdmissionError(grpc.StatusCode.INVALID_ARGUMENT, "selector: set height or hash")
        stored = self.chain.store.block(height)
        if stored is None:
            raise AdmissionError(
                grpc.StatusCode.NOT_FOUND,
                f"no block at height {height}; the head is {self.chain.head.height}",
            )
        return _block_response(stored)

    def StreamBlocks(
        self, request: node_pb2.StreamBlocksRequest, context: grpc.ServicerContext
    ) -> Iterator[node_pb2.BlockResponse]:
        for height in self._follow(request.from_height, context):
            stored = self.chain.store.block(height)
            assert stored is not None
            yield _block_response(stored)

    def StreamEvents(
        self, request: node_pb2.StreamEventsRequest, context: grpc.ServicerContext
    ) -> Iterator[node_pb2.EventsResponse]:
        if len(request.module) > MAX_NAME_CHARS:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"module is longer than {MAX_NAME_CHARS} characters")
        wanted = request.module
        store = self.chain.store
        for height in self._follow(request.from_height, context):
            stored = store.block(height)
            assert stored is not None
            response = node_pb2.EventsResponse(height=height, block_hash=stored.block_hash)
            for receipt in store.receipts(height):
                events = [event for event in receipt.events if not wanted or event.module == wanted]
                if events:
                    response.transactions.add(tx_hash=receipt.tx_hash, events=events)
            response.block_events.extend(
                event for event in store.block_events(height) if not wanted or event.module == wanted
            )
            yield response

    @_handler
    def QueryState(
        self, request: node_pb2.QueryStateRequest, context: grpc.ServicerContext
    ) -> node_pb2.QueryStateResponse:
        if not request.key or len(request.key) > MAX_STATE_KEY_BYTES:
            raise AdmissionError(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"key must be 1 to {MAX_STATE_KEY_BYTES} bytes, got {len(request.key)}",
            )
        snapshot = self.chain.state()
        head = self.chain.head_of(snapshot)
        if head.height == 0:
            raise AdmissionError(
                grpc.StatusCode.UNAVAILABLE, "no block is certified yet (the chain is at genesis); retry shortly"
            )
        stored = self.chain.store.block(head.height, snapshot)
        assert stored is not None
        proof = self.chain.runtime.prove(snapshot, request.key)
        return node_pb2.QueryStateResponse(proof=proof, header=stored.block.header, certificate=stored.certificate)

    @_handler
    def Query(self, request: node_pb2.QueryRequest, context: grpc.ServicerContext) -> node_pb2.QueryResponse:
        if len(request.module) > MAX_NAME_CHARS or len(request.method) > MAX_NAME_CHARS:
            raise AdmissionError(
                grpc.StatusCode.INVALID_ARGUMENT, f"module and method are at most {MAX_NAME_CHARS} characters"
            )
        snapshot = self.chain.state()
        result = self.chain.runtime.query(snapshot, request.module, request.method, request.args)
        return node_pb2.QueryResponse(result=result, height=self.chain.head_of(snapshot).height)

    @_handler
    def GetStatus(self, request: node_pb2.GetStatusRequest, context: grpc.ServicerContext) -> node_pb2.NodeStatus:
        head = self.chain.head
        return node_pb2.NodeStatus(
            chain_id=self.chain.genesis.chain_id,
            height=head.height,
            head_hash=head.block_hash,
            # The set deciding the next block: governance may have changed the genesis set.
            validators=[
                node_pb2.Validator(account=account_id(key), public_key=key)
                for key in self.chain.runtime.validators_at(self.chain.kv, head.height + 1)
            ],
            peers=self.peers(),
            version=VERSION,
            mempool_size=len(self.mempool),
            genesis_hash=self.chain.genesis_hash,
        )

    # --- helpers ------------------------------------------------------------------------------

    def _committed_status(self, tx_hash: bytes) -> node_pb2.TransactionStatus | None:
        receipt = self.chain.store.receipt(tx_hash)
        if receipt is None:
            return None
        block_hash = self.chain.store.block_hash(receipt.height) or b""
        return node_pb2.TransactionStatus(
            tx_hash=tx_hash,
            state=node_pb2.TransactionStatus.COMMITTED,
            receipt=receipt,
            block_hash=block_hash,
        )

    def _follow(self, from_height: int, context: grpc.ServicerContext) -> Iterator[int]:
        """Heights from `from_height` on, waiting for new blocks, until the client or node goes away."""
        height = from_height
        while context.is_active() and not self.stopping.is_set():
            if height <= self.chain.head.height:
                yield height
                height += 1
            else:
                self.chain.wait_for_height(height, STREAM_POLL_SECONDS)


def _require_hash(value: bytes, field: str) -> None:
    if len(value) != HASH_LENGTH:
        raise AdmissionError(grpc.StatusCode.INVALID_ARGUMENT, f"{field} must be {HASH_LENGTH} bytes, got {len(value)}")
