"""The SDK's seams answered by a RuntimeHarness, for SDK tests against a real runtime.

`HarnessClient.query` is `Client.query` answered by the runtime, with the node's status mapping of query errors;
`HarnessAccount.submit_and_wait` is `Account.submit_and_wait` with one transaction per block, its receipt checked
as the Client checks it. Tests subclass them for more seams (state proofs) or other admission behaviour.
"""

from __future__ import annotations

from typing import TypeVar

import grpc
from google.protobuf.message import Message

from dcrm.client.errors import error_for_status, raise_for_receipt
from dcrm.client.keys import SigningKey
from dcrm.runtime import QueryError
from dcrm.runtime.errors import ErrorKind
from dcrm.v1 import types_pb2
from tests.support.runtime_harness import RuntimeHarness

R = TypeVar("R", bound=Message)

# The gRPC status the node answers a failed query with, by the runtime's error kind.
QUERY_STATUS = {
    ErrorKind.INVALID_ARGUMENT: grpc.StatusCode.INVALID_ARGUMENT,
    ErrorKind.PERMISSION_DENIED: grpc.StatusCode.PERMISSION_DENIED,
    ErrorKind.FAILED_PRECONDITION: grpc.StatusCode.FAILED_PRECONDITION,
    ErrorKind.NOT_FOUND: grpc.StatusCode.NOT_FOUND,
}


class HarnessClient:
    """`Client.query` answered by the runtime, with the node's status mapping of query errors."""

    def __init__(self, harness: RuntimeHarness) -> None:
        self.harness = harness

    def query(
        self, module: str, method: str, request: Message, result_type: type[R], *, timeout: float | None = None
    ) -> R:
        try:
            raw = self.harness.runtime.query(self.harness.store, module, method, request.SerializeToString())
        except QueryError as error:
            raise error_for_status(QUERY_STATUS[error.kind], error.message) from None
        return result_type.FromString(raw)


class HarnessAccount:
    """`Account.submit_and_wait`: one transaction per block, its receipt checked like the Client does."""

    def __init__(self, harness: RuntimeHarness, key: SigningKey) -> None:
        self.harness = harness
        self.key = key

    @property
    def account_id(self) -> bytes:
        return self.key.account_id

    def submit_and_wait(
        self,
        module: int,
        method: int,
        args: Message | bytes,
        *,
        valid_for: int = 100,
        timeout: float | None = None,
        check: bool = True,
    ) -> types_pb2.Receipt:
        assert isinstance(args, Message)
        receipt = self.call(module, method, args)
        if check:
            raise_for_receipt(receipt)
        return receipt

    def call(self, module: int, method: int, args: Message) -> types_pb2.Receipt:
        """Apply the call in a block of its own; its receipt."""
        return self.harness.call(self.key, module, method, args)
