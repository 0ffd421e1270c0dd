"""DID documents: the shape rules of verification methods, services and controllers, and the update operations.

`check_*` functions are stateless (they run at admission as well as in the block); `apply_operations`
works on a copy and `check_controllable` decides whether a document may be stored.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import TypeVar

import coincurve
from google.protobuf.internal.containers import RepeatedCompositeFieldContainer

from dcrm.runtime.modules.identity import did as did_syntax
from dcrm.runtime.modules.identity import errors
from dcrm.v1 import identity_pb2

MAX_VERIFICATION_METHODS = 16
MAX_SERVICES = 8
MAX_CONTROLLERS = 4
MAX_OPERATIONS = 16
MAX_ENDPOINT_CHARS = 256
PUBLIC_KEY_BYTES = 33
ACCOUNT_BYTES = 20
FRAGMENT_RE = re.compile("[A-Za-z0-9][A-Za-z0-9_-]{0,31}")
SERVICE_TYPE_RE = re.compile("[A-Za-z][A-Za-z0-9]{0,63}")
# An organisation's endpoint: https without user info, query or fragment (where personal data would hide),
# or a DID URL. Personal contact schemes (mailto:, tel:, ...) do not match.
_PATH = "(/[A-Za-z0-9._~%!$&'()*+,;=:-]*)*"
ENDPOINT_RE = re.compile(f"https://[A-Za-z0-9.-]+(:[0-9]{{1,5}})?{_PATH}|did:[a-z0-9]+:[A-Za-z0-9._:%-]+{_PATH}")
_Entry = TypeVar("_Entry", identity_pb2.VerificationMethod, identity_pb2.Service)
KEY_TYPES = (identity_pb2.MULTIKEY, identity_pb2.ECDSA_SECP256K1_VERIFICATION_KEY_2019)


def check_verification_method(method: identity_pb2.VerificationMethod, field: str) -> None:
    if FRAGMENT_RE.fullmatch(method.fragment) is None:
        raise errors.BAD_VERIFICATION_METHOD(
            f"{field}.fragment {method.fragment[:40]!r} must be 1 to 32 of A-Z a-z 0-9 _ - starting alphanumeric"
        )
    if method.type not in KEY_TYPES:
        raise errors.BAD_VERIFICATION_METHOD(
            f"{field}.type {method.type} must be MULTIKEY or ECDSA_SECP256K1_VERIFICATION_KEY_2019"
        )
    key = method.public_key
    if len(key) != PUBLIC_KEY_BYTES or key[0] not in (2, 3):
        raise errors.BAD_VERIFICATION_METHOD(
            f"{field}.public_key must be a {PUBLIC_KEY_BYTES}-byte compressed secp256k1 key, got {len(key)} bytes"
        )
    try:
        coincurve.PublicKey(key)
    except ValueError:
        raise errors.BAD_VERIFICATION_METHOD(f"{field}.public_key {key.hex()} is not a point on secp256k1") from None


def check_service(service: identity_pb2.Service, field: str) -> None:
    if FRAGMENT_RE.fullmatch(service.fragment) is None:
        raise errors.BAD_SERVICE(
            f"{field}.fragment {service.fragment[:40]!r} must be 1 to 32 of A-Z a-z 0-9 _ - starting alphanumeric"
        )
    if SERVICE_TYPE_RE.fullmatch(service.type) is None:
        raise errors.BAD_SERVICE(f"{field}.type {service.type[:70]!r} must be 1 to 64 letters and digits")
    if len(service.endpoint) > MAX_ENDPOINT_CHARS:
        raise errors.BAD_SERVICE(
            f"{field}.endpoint is {len(service.endpoint)} characters, at most {MAX_ENDPOINT_CHARS} allowed"
        )
    if ENDPOINT_RE.fullmatch(service.endpoint) is None:
        raise errors.BAD_SERVICE(
            f"{field}.endpoint {service.endpoint[:80]!r} must be an https URL without user info, query or "
            "fragment, or a DID URL"
        )


def check_controllers(controllers: Sequence[str], field: str) -> None:
    if len(controllers) > MAX_CONTROLLERS:
        raise errors.DOCUMENT_TOO_LARGE(f"{field} has {len(controllers)} DIDs, at most {MAX_CONTROLLERS} allowed")
    for position, controller in enumerate(controllers):
        if not did_syntax.is_did(controller):
            raise errors.BAD_CONTROLLER(f"{field}[{position}] {controller[:80]!r} is not a did:dcrm DID")
    if len(set(controllers)) != len(controllers):
        raise errors.BAD_CONTROLLER(f"{field} lists a DID twice")


def check_account(account: bytes, field: str) -> None:
    if account and len(account) != ACCOUNT_BYTES:
        raise errors.BAD_CONTROLLER(f"{field} must be empty or a {ACCOUNT_BYTES}-byte account id, got {len(account)}")


def check_document_parts(
    methods: Sequence[identity_pb2.VerificationMethod],
    services: Sequence[identity_pb2.Service],
    controllers: Sequence[str],
) -> None:
    """Every part well formed, ids unique across methods and services, counts within bounds."""
    if len(methods) > MAX_VERIFICATION_METHODS:
        raise errors.DOCUMENT_TOO_LARGE(
            f"verification_methods has {len(methods)} entries, at most {MAX_VERIFICATION_METHODS} allowed"
        )
    if len(services) > MAX_SERVICES:
        raise errors.DOCUMENT_TOO_LARGE(f"services has {len(services)} entries, at most {MAX_SERVICES} allowed")
    for position, method in enumerate(methods):
        check_verification_method(method, f"verification_methods[{position}]")
    for position, service in enumerate(services):
        check_service(service, f"services[{position}]")
    seen: set[str] = set()
    for fragment in [method.fragment for method in methods] + [service.fragment for service in services]:
        if fragment in seen:
            raise errors.DUPLICATE_FRAGMENT(f"fragment {fragment!r} is used twice in the document")
        seen.add(fragment)
    check_controllers(controllers, "controllers")


def check_operations(operations: Sequence[identity_pb2.DidOperation]) -> None:
    """The stateless checks of an update's operations."""
    if not 1 <= len(operations) <= MAX_OPERATIONS:
        raise errors.BAD_UPDATE(f"operations has {len(operations)} entries, expected 1 to {MAX_OPERATIONS}")
    for position, operation in enumerate(operations):
        field = f"operations[{position}]"
        kind = operation.WhichOneof("operation")
        if kind is None:
            raise errors.BAD_UPDATE(f"{field} sets no operation")
        if kind == "add_verification_method":
            check_verification_method(operation.add_verification_method.method, f"{field}.method")
        elif kind == "add_service":
            check_service(operation.add_service.service, f"{field}.service")
        elif kind == "set_controllers":
            check_controllers(operation.set_controllers.controllers, f"{field}.controllers")
        elif kind == "set_controller_account":
            check_account(operation.set_controller_account.account, f"{field}.account")


def apply_operations(version: identity_pb2.DidVersion, operations: Iterable[identity_pb2.DidOperation]) -> None:
    """Apply `operations` in order to `version` (a working copy). Raises on the first that cannot apply."""
    document = version.document
    for position, operation in enumerate(operations):
        field = f"operations[{position}]"
        kind = operation.WhichOneof("operation")
        if kind == "add_verification_method":
            method = operation.add_verification_method.method
            _ensure_free(document, method.fragment, field)
            document.verification_methods.append(method)
        elif kind == "remove_verification_method":
            _remove(document.verification_methods, operation.remove_verification_method.fragment, field)
        elif kind == "add_service":
            service = operation.add_service.service
            _ensure_free(document, service.fragment, field)
            document.services.append(service)
        elif kind == "remove_service":
            _remove(document.services, operation.remove_service.fragment, field)
        elif kind == "set_controllers":
            document.ClearField("controllers")
            document.controllers.extend(operation.set_controllers.controllers)
        elif kind == "set_controller_account":
            version.controller_account = operation.set_controller_account.account
    if len(document.verification_methods) > MAX_VERIFICATION_METHODS:
        raise errors.DOCUMENT_TOO_LARGE(
            f"the document would have {len(document.verification_methods)} verification methods, "
            f"at most {MAX_VERIFICATION_METHODS} allowed"
        )
    if len(document.services) > MAX_SERVICES:
        raise errors.DOCUMENT_TOO_LARGE(
            f"the document would have {len(document.services)} services, at most {MAX_SERVICES} allowed"
        )


def _ensure_free(document: identity_pb2.DidDocument, fragment: str, field: str) -> None:
    used = [method.fragment for method in document.verification_methods] + [s.fragment for s in document.services]
    if fragment in used:
        raise errors.DUPLICATE_FRAGMENT(f"{field}: {document.id}#{fragment} is already in the document")


def _remove(entries: RepeatedCompositeFieldContainer[_Entry], fragment: str, field: str) -> None:
    for position, entry in enumerate(entries):
        if entry.fragment == fragment:
            del entries[position]
            return
    raise errors.UNKNOWN_FRAGMENT(f"{field}: the document has no entry with fragment {fragment!r}")


def effective_controllers(document: identity_pb2.DidDocument) -> list[str]:
    """The controller DIDs; a document that names none controls itself."""
    return list(document.controllers) or [document.id]


def check_controllable(version: identity_pb2.DidVersion) -> None:
    """NoController unless some account could still update the DID after this version."""
    if version.controller_account:
        return
    document = version.document
    for controller in effective_controllers(document):
        if controller != document.id:
            return  # another DID controls it; that DID's keys decide
        if any(method.authentication for method in document.verification_methods):
            return
    raise errors.NO_CONTROLLER(
        f"{document.id} would have no controlling account, no authentication key and no other controller DID"
    )
