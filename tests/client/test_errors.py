"""Typed errors: gRPC status codes, admission results and receipts."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import grpc
import pytest

from dcrm.client import errors
from dcrm.client.errors import (
    Aborted,
    AlreadyExists,
    BadAccount,
    BadArguments,
    CallPanicked,
    DcrmError,
    DeadlineExceeded,
    FailedPrecondition,
    InvalidArgument,
    LastAdmin,
    MissingRole,
    ModuleError,
    NoteTooLong,
    NotFound,
    PermissionDenied,
    ResourceExhausted,
    RoleAlreadyGranted,
    RoleNotHeld,
    RpcError,
    SystemModuleError,
    TransactionFailed,
    Unauthenticated,
    Unavailable,
    UnknownCall,
    UnknownRole,
    admission_error,
    error_for_receipt,
    error_for_status,
    from_rpc_error,
    module_error_class,
    raise_for_receipt,
    status_code,
)
from dcrm.v1 import node_pb2, system_pb2, types_pb2


class FakeRpcError(grpc.RpcError, grpc.Call):
    """What grpcio raises: an RpcError that is also a Call."""

    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        super().__init__()
        self._code = code
        self._details = details

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        return self._details

    def initial_metadata(self) -> Any:
        return ()

    def trailing_metadata(self) -> Any:
        return ()

    def is_active(self) -> bool:
        return False

    def time_remaining(self) -> float:
        return 0.0

    def cancel(self) -> bool:
        return False

    def add_callback(self, callback: Callable[[], object]) -> bool:
        return False


STATUS_CLASSES = [
    (grpc.StatusCode.INVALID_ARGUMENT, InvalidArgument),
    (grpc.StatusCode.UNAUTHENTICATED, Unauthenticated),
    (grpc.StatusCode.FAILED_PRECONDITION, FailedPrecondition),
    (grpc.StatusCode.PERMISSION_DENIED, PermissionDenied),
    (grpc.StatusCode.RESOURCE_EXHAUSTED, ResourceExhausted),
    (grpc.StatusCode.NOT_FOUND, NotFound),
    (grpc.StatusCode.ALREADY_EXISTS, AlreadyExists),
    (grpc.StatusCode.DEADLINE_EXCEEDED, DeadlineExceeded),
    (grpc.StatusCode.UNAVAILABLE, Unavailable),
    (grpc.StatusCode.ABORTED, Aborted),
]


@pytest.mark.parametrize(("code", "cls"), STATUS_CLASSES)
def test_status_codes_map_to_classes(code: grpc.StatusCode, cls: type[RpcError]) -> None:
    error = from_rpc_error(FakeRpcError(code, "tx_body.nonce 3 is stale"))
    assert type(error) is cls
    assert isinstance(error, RpcError)
    assert isinstance(error, DcrmError)
    assert error.code is code
    assert error.details == "tx_body.nonce 3 is stale"
    assert str(error) == f"{code.name}: tx_body.nonce 3 is stale"
    assert cls.status is code


@pytest.mark.parametrize("code", [grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN, grpc.StatusCode.CANCELLED])
def test_other_status_codes_are_plain_rpc_errors(code: grpc.StatusCode) -> None:
    error = from_rpc_error(FakeRpcError(code, "boom"))
    assert type(error) is RpcError
    assert error.code is code


def test_empty_details() -> None:
    error = from_rpc_error(FakeRpcError(grpc.StatusCode.UNAVAILABLE, ""))
    assert error.details == ""
    assert str(error) == "UNAVAILABLE"


def test_rpc_error_without_a_code_is_unknown() -> None:
    error = from_rpc_error(grpc.RpcError("no call attached"))
    assert type(error) is RpcError
    assert error.code is grpc.StatusCode.UNKNOWN
    assert error.details == "no call attached"


def test_status_code_from_number() -> None:
    assert status_code(3) is grpc.StatusCode.INVALID_ARGUMENT
    assert status_code(14) is grpc.StatusCode.UNAVAILABLE
    with pytest.raises(ValueError, match="no gRPC status code has the value 99"):
        status_code(99)
    assert type(error_for_status(grpc.StatusCode.NOT_FOUND, "x")) is NotFound


def test_admission_results() -> None:
    assert admission_error(node_pb2.AdmissionResult(tx_hash=b"h" * 32, accepted=True)) is None
    rejected = admission_error(node_pb2.AdmissionResult(code=9, message="tx_body.nonce 1 is stale"))
    assert isinstance(rejected, FailedPrecondition)
    assert rejected.details == "tx_body.nonce 1 is stale"
    odd = admission_error(node_pb2.AdmissionResult(code=77, message="what"))
    assert type(odd) is RpcError
    assert odd.code is grpc.StatusCode.UNKNOWN
    assert "unknown code 77: what" in odd.details


# -- receipts -----------------------------------------------------------------------------------------


def _failed_receipt(module: int, code: int, name: str = "SomeError", message: str = "it failed") -> types_pb2.Receipt:
    return types_pb2.Receipt(
        tx_hash=bytes(range(32)),
        height=12,
        index=3,
        success=False,
        error=types_pb2.DispatchError(module=module, code=code, name=name, message=message),
    )


SYSTEM_ERRORS = [
    (system_pb2.MISSING_ROLE, MissingRole),
    (system_pb2.UNKNOWN_ROLE, UnknownRole),
    (system_pb2.ROLE_ALREADY_GRANTED, RoleAlreadyGranted),
    (system_pb2.ROLE_NOT_HELD, RoleNotHeld),
    (system_pb2.LAST_ADMIN, LastAdmin),
    (system_pb2.NOTE_TOO_LONG, NoteTooLong),
    (system_pb2.BAD_ACCOUNT, BadAccount),
    (system_pb2.UNKNOWN_CALL, UnknownCall),
    (system_pb2.BAD_ARGUMENTS, BadArguments),
    (system_pb2.CALL_PANICKED, CallPanicked),
]


def test_successful_receipt_raises_nothing() -> None:
    receipt = types_pb2.Receipt(tx_hash=b"h" * 32, height=1, success=True)
    assert error_for_receipt(receipt) is None
    raise_for_receipt(receipt)


@pytest.mark.parametrize(("code", "cls"), SYSTEM_ERRORS)
def test_system_errors_map_to_their_classes(code: int, cls: type[ModuleError]) -> None:
    receipt = _failed_receipt(0, code, cls.__name__, "account 00.. does not hold role 'admin'")
    with pytest.raises(cls) as raised:
        raise_for_receipt(receipt)
    error = raised.value
    assert isinstance(error, SystemModuleError)
    assert isinstance(error, TransactionFailed)
    assert (error.module, error.code, error.name) == (0, code, cls.__name__)
    assert error.message == "account 00.. does not hold role 'admin'"
    assert error.receipt is receipt
    assert error.tx_hash == receipt.tx_hash
    assert error.height == 12
    assert str(error) == (
        f"transaction {receipt.tx_hash.hex()} failed in block 12: "
        f"{cls.__name__} (module 0, code {code}): account 00.. does not hold role 'admin'"
    )
    assert (cls.module_index, cls.error_code) == (0, code)


def test_every_system_error_code_has_a_class() -> None:
    for name, code in system_pb2.Error.items():
        if code == system_pb2.ERROR_UNSPECIFIED:
            continue
        cls = module_error_class(0, code)
        assert cls is not SystemModuleError, name
        assert cls.__name__ == "".join(part.capitalize() for part in name.split("_")), name
        assert cls.__name__ in errors.__all__


def test_unknown_codes_fall_back_to_their_module_then_module_error() -> None:
    assert type(error_for_receipt(_failed_receipt(0, 999))) is SystemModuleError
    assert type(error_for_receipt(_failed_receipt(201, 1))) is ModuleError
    assert module_error_class(201, 1) is ModuleError


def test_failure_without_error_is_transaction_failed() -> None:
    receipt = types_pb2.Receipt(tx_hash=b"\x01" * 32, height=4, success=False)
    error = error_for_receipt(receipt)
    assert type(error) is TransactionFailed
    assert "carries no error" in str(error)


def test_modules_extend_the_registry_by_declaring_classes() -> None:
    class TestModuleError(ModuleError, module=240):
        """Errors of a module that exists only in this test."""

    class Frozen(TestModuleError, code=5):
        """An account is frozen."""

    assert module_error_class(240, 5) is Frozen
    assert module_error_class(240, 6) is TestModuleError
    assert type(error_for_receipt(_failed_receipt(240, 5, "Frozen"))) is Frozen

    with pytest.raises(TypeError, match=re.escape("(module 240, code 5) is Frozen")):

        class FrozenAgain(TestModuleError, code=5):
            pass

    with pytest.raises(TypeError, match="module 240 already has TestModuleError"):

        class SecondBase(ModuleError, module=240):
            pass

    with pytest.raises(TypeError, match="must declare module"):

        class NoModule(ModuleError, code=1):
            pass

    with pytest.raises(TypeError, match="module 241 conflicts with its base's 240"):

        class Conflicting(TestModuleError, module=241, code=1):
            pass

    assert module_error_class(241, 1) is ModuleError
