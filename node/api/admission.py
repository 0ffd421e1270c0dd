"""Admission of transactions into the mempool: stateless checks, state checks, then the pool.

Every rejection is an AdmissionError carrying the gRPC status code and a message naming the rule, and is
recorded (counter by reason, sampled INFO line) through `Rejections`. A sender's transactions also pass
its token bucket (`limits.account_tx_per_second`, `limits.account_burst`) once the signature proves the
sender: a forged sender cannot spend another account's budget.
"""

from __future__ import annotations

import logging

import grpc

from dcrm.node.api.rejections import Rejections
from dcrm.node.chain import Chain
from dcrm.node.limits import KeyedBuckets
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
    def __init__(
        self,
        chain: Chain,
        mempool: Mempool,
        accounts: KeyedBuckets[bytes] | None = None,
        rejections: Rejections | None = None,
    ) -> None:
        self.chain = chain
        self.mempool = mempool
        self.accounts = accounts
        self.rejections = rejections

    def admit(self, tx: types_pb2.Transaction) -> SignedTransaction:
        """Check `tx` and add it to the mempool; AdmissionError says why not."""
        runtime = self.chain.runtime
        try:
            signed = runtime.decode_transaction(tx)
            if signed.hash in self.mempool:
                raise MempoolRejected(MempoolRejection.DUPLICATE, f"transaction {signed.hash.hex()} is already pending")
            if self.accounts is not None and not self.accounts.take(signed.sender):
                message = (
                    f"sender {signed.sender.hex()} exceeds limits.account_tx_per_second "
                    f"({self.accounts.rate:g} transactions/s, burst {self.accounts.burst:g}); retry later"
                )
                self._record("account_rate", message)
                raise AdmissionError(grpc.StatusCode.RESOURCE_EXHAUSTED, message)
            runtime.validate_transaction(self.chain.kv, signed, self.chain.head.height + 1)
            self.mempool.add(signed)
        except TxRejected as error:
            self._record(error.reason.value, error.message)
            raise AdmissionError(_REJECTION_STATUS[error.reason], error.message) from None
        except MempoolRejected as error:
            self._record(error.reason.value, error.message)
            raise AdmissionError(_MEMPOOL_STATUS[error.reason], error.message) from None
        return signed

    def admit_quietly(self, tx: types_pb2.Transaction) -> None:
        """Admit a transaction another validator gossiped: no per-account rate limit (the entry node applied
        it), and refusals are expected (already pending, already committed), so they are not counted."""
        runtime = self.chain.runtime
        try:
            signed = runtime.decode_transaction(tx)
            if signed.hash in self.mempool:
                return
            runtime.validate_transaction(self.chain.kv, signed, self.chain.head.height + 1)
            self.mempool.add(signed)
        except (TxRejected, MempoolRejected) as error:
            log.debug("gossiped transaction not admitted: %s", error)

    def _record(self, reason: str, message: str) -> None:
        if self.rejections is not None:
            self.rejections.record(reason, message)
        else:
            log.debug("refused transaction: %s", message, extra={"reason": reason})
