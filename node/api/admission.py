"""Admission of transactions into the mempool: stateless checks, state checks, then the pool.

Every rejection is an AdmissionError carrying the gRPC status code and a message naming the rule.
"""

from __future__ import annotations

import logging

import grpc

from dcrm.node.chain import Chain
from dcrm.node.mempool import Mempool, MempoolRejected, MempoolRejection
from dcrm.runtime import SignedTransaction
from dcrm.runtime.errors import ErrorKind, Rejection, TxRejected
from dcrm.v1 import types_pb2

__all__ = ["Admission", "AdmissionError", "status_for_kind"]

log = logging.getLogger(__name__)

_REJECTION_STATUS = {
    Rejection.MALFORMED: grpc.StatusCode.INVALID_ARGUMENT,
    Rejection.TOO_LARGE: grpc.StatusCode.INVALID_ARGUMENT,
    Rejection.UNKNOWN_CALL: grpc.StatusCode.INVALID_ARGUMENT,
    Rejection.BAD_ARGUMENTS: grpc.StatusCode.INVALID_ARGUMENT,
    Rejection.BAD_SIGNATURE: grpc.StatusCode.UNAUTHENTICATED,
    Rejection.WRONG_CHAIN: grpc.StatusCode.FAILED_PRECONDITION,
    Rejection.EXPIRED: grpc.StatusCode.FAILED_PRECONDITION,
    Rejection.STALE_NONCE: grpc.StatusCode.FAILED_PRECONDITION,
    Rejection.FUTURE_NONCE: grpc.StatusCode.FAILED_PRECONDITION,
    Rejection.PERMISSION_DENIED: grpc.StatusCode.PERMISSION_DENIED,
}

_MEMPOOL_STATUS = {
    MempoolRejection.DUPLICATE: grpc.StatusCode.ALREADY_EXISTS,
    MempoolRejection.NONCE_TAKEN: grpc.StatusCode.ALREADY_EXISTS,
    MempoolRejection.FULL: grpc.StatusCode.RESOURCE_EXHAUSTED,
    MempoolRejection.SENDER_FULL: grpc.StatusCode.RESOURCE_EXHAUSTED,
}

_KIND_STATUS = {
    ErrorKind.INVALID_ARGUMENT: grpc.StatusCode.INVALID_ARGUMENT,
    ErrorKind.PERMISSION_DENIED: grpc.StatusCode.PERMISSION_DENIED,
    ErrorKind.FAILED_PRECONDITION: grpc.StatusCode.FAILED_PRECONDITION,
    ErrorKind.NOT_FOUND: grpc.StatusCode.NOT_FOUND,
}


def status_for_kind(kind: ErrorKind) -> grpc.StatusCode:
    return _KIND_STATUS[kind]


class AdmissionError(Exception):
    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class Admission:
    def __init__(self, chain: Chain, mempool: Mempool) -> None:
        self.chain = chain
        self.mempool = mempool

    def admit(self, tx: types_pb2.Transaction) -> SignedTransaction:
        """Check `tx` and add it to the mempool; AdmissionError says why not."""
        runtime = self.chain.runtime
        try:
            signed = runtime.decode_transaction(tx)
            if signed.hash in self.mempool:
                raise MempoolRejected(MempoolRejection.DUPLICATE, f"transaction {signed.hash.hex()} is already pending")
            runtime.validate_transaction(self.chain.kv, signed, self.chain.head.height + 1)
            self.mempool.add(signed)
        except TxRejected as error:
            log.debug("rejected transaction: %s", error.message, extra={"reason": error.reason.value})
            raise AdmissionError(_REJECTION_STATUS[error.reason], error.message) from None
        except MempoolRejected as error:
            log.debug("mempool refused transaction: %s", error.message, extra={"reason": error.reason.value})
            raise AdmissionError(_MEMPOOL_STATUS[error.reason], error.message) from None
        return signed
