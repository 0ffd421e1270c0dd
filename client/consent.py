"""The consent module (index 2): consent records, the check before each use of personal data, the access log,
and consent receipts (Kantara Consent Receipt 1.1 / ISO/IEC TS 27560 shape) that verify offline.

Subjects and controllers are did:dcrm DIDs of the identity module (`client.identity.create_did`); whoever
controls a DID there acts for it here. Calls (dcrm.v1.consent messages): 1 RequestConsent, 7 TerminateConsent,
8 InvalidateConsent, 9 LogAccess (an account with the role "controller" that controls the controller DID);
2 GrantConsent, 3 GrantRequest, 4 RefuseRequest, 5 RenewConsent, 6 WithdrawConsent (an account that controls the
subject DID); call 0 is retired. Queries ("consent" module): check, check_many, record, history,
records_by_subject, records_by_controller, access_log, did. Use it as `client.consent`:

```python
alice_did = client.identity.create_did(alice, alice.key.public_key).did
change = client.consent.grant(alice, client_ref=b"signup-42", subject=alice_did, controller=acme_did,
                              terms=terms, valid_until_ms=until)
answer = client.consent.check(alice_did, acme_did, "newsletter", "email")
answers = client.consent.check_many([(alice_did, acme_did, "newsletter", "email"),
                                     (bob_did, acme_did, "offers", "email", at_ms)])  # one call, in order
receipt = client.consent.receipt(change.record_id)          # JSON-ready dict with its proof
verify_consent_receipt(json.dumps(receipt), validators)      # offline; raises ReceiptInvalid
client.consent.withdraw(alice, change.record_id)
```

The module's rules and storage are documented in docs/modules/consent.md.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import grpc
from google.protobuf.message import DecodeError, Message

from dcrm.client.certificates import ValidatorKey, verify_commit_certificate
from dcrm.client.errors import CertificateError, DcrmError, ModuleError, NotFound, ProtocolError
from dcrm.client.keys import ACCOUNT_ID_LENGTH, sha256
from dcrm.client.proof import ProofError, verify_state_proof
from dcrm.v1 import consent_pb2, node_pb2, types_pb2

__all__ = [
    "EVENTS",
    "GRANT",
    "GRANT_REQUEST",
    "INVALIDATE",
    "LOG_ACCESS",
    "MODULE_INDEX",
    "MODULE_NAME",
    "RECEIPT_VERSION",
    "REFUSE",
    "RENEW",
    "REQUEST",
    "TERMINATE",
    "WITHDRAW",
    "BadAccessor",
    "BadAccount",
    "BadConsentType",
    "BadDid",
    "BadList",
    "BadNotice",
    "BadPage",
    "BadRecordId",
    "BadRegion",
    "BadRetention",
    "BadToken",
    "BadUri",
    "BadValidity",
    "CategoryNotCovered",
    "CheckTuple",
    "ConsentApi",
    "ConsentChange",
    "ConsentClient",
    "ConsentModuleError",
    "ConsentNotValid",
    "ControllerNotRegistered",
    "DeactivatedDid",
    "InvalidTransition",
    "NotController",
    "NotRequested",
    "NotSubject",
    "PersonalData",
    "PurposeNotCovered",
    "ReceiptInvalid",
    "RecordExists",
    "RecordExpired",
    "RecordNotFound",
    "Signer",
    "UnknownDid",
    "VerifiedConsentReceipt",
    "build_consent_receipt",
    "grant_key",
    "receipt_body",
    "record_id_for",
    "record_key",
    "revision_key",
    "state_name",
    "verify_consent_receipt",
]

R = TypeVar("R", bound=Message)

# One check of check_many: (subject, controller, purpose, data_category) or (..., at_ms), at_ms 0 or None: now.
CheckTuple = tuple[str, str, str, str] | tuple[str, str, str, str, int | None]

MODULE_INDEX = 2
MODULE_NAME = "consent"

# Call indices (0, register_controller, is retired).
REQUEST = 1
GRANT = 2
GRANT_REQUEST = 3
REFUSE = 4
RENEW = 5
WITHDRAW = 6
TERMINATE = 7
INVALIDATE = 8
LOG_ACCESS = 9

RECEIPT_VERSION = "KI-CR-v1.1.0"
RECORD_ID_LENGTH = 16
VALID_STATES = frozenset({consent_pb2.STATE_GIVEN, consent_pb2.STATE_RENEWED})
_RECORD_ID_DOMAIN = b"dcrm/consent/record"
_RECORD_PREFIX = b"consent/record/"
_REVISION_PREFIX = b"consent/revision/"
_PAGE = 100

# The module's event messages, by name (dcrm.client.transactions.EVENT_TYPES registers them).
EVENTS: tuple[type[Message], ...] = (
    consent_pb2.ConsentRequested,
    consent_pb2.ConsentGiven,
    consent_pb2.ConsentRefused,
    consent_pb2.ConsentRenewed,
    consent_pb2.ConsentWithdrawn,
    consent_pb2.ConsentExpired,
    consent_pb2.ConsentTerminated,
    consent_pb2.ConsentInvalidated,
    consent_pb2.AccessLogged,
)
_EVENT_TYPES = {event.DESCRIPTOR.name: event for event in EVENTS}


# -- errors (dcrm.v1.consent.Error) ------------------------------------------------------------------------------


class ConsentModuleError(ModuleError, module=MODULE_INDEX):
    """A call failed with an error of the consent module."""


class BadDid(ConsentModuleError, code=consent_pb2.BAD_DID):
    """A DID is malformed, or a subject or controller is not a did:dcrm DID."""


class PersonalData(ConsentModuleError, code=consent_pb2.PERSONAL_DATA):
    """A field looks like personal data (an e-mail address, readable text where a hash belongs)."""


class BadToken(ConsentModuleError, code=consent_pb2.BAD_TOKEN):
    """A code (purpose, category, basis, method, ...) is not 1-64 of A-Z a-z 0-9 . _ : -."""


class BadNotice(ConsentModuleError, code=consent_pb2.BAD_NOTICE):
    """The notice URL, content hash, version or language is missing or malformed."""


class BadUri(ConsentModuleError, code=consent_pb2.BAD_URI):
    """The withdrawal method is not a URI of at most 512 characters."""


class BadRegion(ConsentModuleError, code=consent_pb2.BAD_REGION):
    """A jurisdiction or storage location is not a region code like "EU" or "US-CA"."""


class BadList(ConsentModuleError, code=consent_pb2.BAD_LIST):
    """A list is empty where one item is required, too long, or repeats an item."""


class BadConsentType(ConsentModuleError, code=consent_pb2.BAD_CONSENT_TYPE):
    """consent_type is unspecified, or express for a sensitive data category."""


class BadRetention(ConsentModuleError, code=consent_pb2.BAD_RETENTION):
    """retention_ms is zero or longer than 100 years."""


class BadValidity(ConsentModuleError, code=consent_pb2.BAD_VALIDITY):
    """valid_until_ms is not after the block time or the current validity, or too far ahead."""


class BadAccount(ConsentModuleError, code=consent_pb2.BAD_ACCOUNT):
    """An account id is not 20 bytes."""


class BadRecordId(ConsentModuleError, code=consent_pb2.BAD_RECORD_ID):
    """A record id is not 16 bytes, or a client reference is not 1 to 32 bytes."""


class BadAccessor(ConsentModuleError, code=consent_pb2.BAD_ACCESSOR):
    """An accessor is not an opaque 16- to 32-byte hash."""


class BadPage(ConsentModuleError, code=consent_pb2.BAD_PAGE):
    """A page limit is over 100, or a page start is malformed."""


class ControllerNotRegistered(ConsentModuleError, code=consent_pb2.CONTROLLER_NOT_REGISTERED):
    """The controller DID's controlling account does not hold the controller role."""


class RecordExists(ConsentModuleError, code=consent_pb2.RECORD_EXISTS):
    """The creator already used this client reference."""


class RecordNotFound(ConsentModuleError, code=consent_pb2.RECORD_NOT_FOUND):
    """No consent record has this id."""


class NotSubject(ConsentModuleError, code=consent_pb2.NOT_SUBJECT):
    """The caller (or a request's subject_account) does not control the subject DID."""


class NotController(ConsentModuleError, code=consent_pb2.NOT_CONTROLLER):
    """The caller does not control the controller DID."""


class InvalidTransition(ConsentModuleError, code=consent_pb2.INVALID_TRANSITION):
    """The record's state does not allow this change."""


class NotRequested(ConsentModuleError, code=consent_pb2.NOT_REQUESTED):
    """A purpose or data category granted was not in the request."""


class RecordExpired(ConsentModuleError, code=consent_pb2.RECORD_EXPIRED):
    """The record's valid_until has passed."""


class ConsentNotValid(ConsentModuleError, code=consent_pb2.CONSENT_NOT_VALID):
    """The record is not in a state valid for processing (given, renewed)."""


class PurposeNotCovered(ConsentModuleError, code=consent_pb2.PURPOSE_NOT_COVERED):
    """The record does not name the purpose."""


class CategoryNotCovered(ConsentModuleError, code=consent_pb2.CATEGORY_NOT_COVERED):
    """The record does not name the data category."""


class UnknownDid(ConsentModuleError, code=consent_pb2.UNKNOWN_DID):
    """A subject or controller DID was never created in the identity module."""


class DeactivatedDid(ConsentModuleError, code=consent_pb2.DEACTIVATED_DID):
    """A subject or controller DID is deactivated and can no longer act."""


class ReceiptInvalid(DcrmError, ValueError):
    """A consent receipt does not prove what it states; the message says which check failed."""


# -- keys and ids --------------------------------------------------------------------------------------------------


def _be32(value: int) -> bytes:
    return value.to_bytes(4, "big")


def _check_record_id(record_id: bytes) -> None:
    if len(record_id) != RECORD_ID_LENGTH:
        raise ValueError(f"record_id must be {RECORD_ID_LENGTH} bytes, got {len(record_id)}")


def record_id_for(creator_account: bytes, client_ref: bytes) -> bytes:
    """The id of the record that `creator_account` makes with `client_ref` (as the chain derives it), known before
    the transaction is sent, so a retry after a lost answer finds the record instead of making a second one.

    Raises ValueError when the account is not 20 bytes or client_ref is not 1 to 32 bytes.
    """
    if len(creator_account) != ACCOUNT_ID_LENGTH:
        raise ValueError(f"creator_account must be {ACCOUNT_ID_LENGTH} bytes, got {len(creator_account)}")
    if not 1 <= len(client_ref) <= 32:
        raise ValueError(f"client_ref must be 1 to 32 bytes, got {len(client_ref)}")
    return sha256(_RECORD_ID_DOMAIN + creator_account + client_ref)[:RECORD_ID_LENGTH]


def record_key(record_id: bytes) -> bytes:
    """The state key of a record's current revision. Raises ValueError unless record_id is 16 bytes."""
    _check_record_id(record_id)
    return _RECORD_PREFIX + record_id


def revision_key(record_id: bytes, revision: int) -> bytes:
    """The state key of a superseded revision. Raises ValueError unless record_id is 16 bytes."""
    _check_record_id(record_id)
    return _REVISION_PREFIX + record_id + _be32(revision)


def grant_key(subject: str, controller: str, purpose: str, data_category: str, record_id: bytes) -> bytes:
    """The check index entry present while `record_id` is given or renewed and covers the pair."""
    _check_record_id(record_id)
    return f"consent/grant/{subject}/{controller}/{purpose}/{data_category}/".encode() + record_id


def state_name(state: int) -> str:
    """The DPV state name: "given", "withdrawn", ..."""
    return consent_pb2.State.Name(state).removeprefix("STATE_").lower()  # type: ignore[arg-type]


# -- what the API needs from a client and an account ---------------------------------------------------------------


class ConsentClient(Protocol):
    """Answers queries and proves state (Client does)."""

    def query(
        self, module: str, method: str, request: Message, result_type: type[R], *, timeout: float | None = None
    ) -> R: ...

    def state_proof(
        self,
        key: bytes,
        *,
        verify: bool = True,
        validators: Sequence[ValidatorKey] | None = None,
        timeout: float | None = None,
    ) -> node_pb2.QueryStateResponse: ...

    def chain_id(self) -> str: ...


class Signer(Protocol):
    """Signs and submits calls for one account and waits for the receipt (Account does)."""

    @property
    def account_id(self) -> bytes: ...

    def submit_and_wait(
        self,
        module: int,
        method: int,
        args: Message | bytes,
        *,
        valid_for: int = ...,
        timeout: float | None = None,
        check: bool = True,
    ) -> types_pb2.Receipt: ...


@dataclass(frozen=True)
class ConsentChange:
    """What a call did to a record: its id, the revision it made and that revision's hash, and the receipt.

    `revision` and `revision_hash` are None for a failed call (submitted with check=False).
    """

    record_id: bytes
    revision: int | None
    revision_hash: bytes | None
    receipt: types_pb2.Receipt


def _change(record_id: bytes, receipt: types_pb2.Receipt) -> ConsentChange:
    for event in receipt.events:
        message_type = _EVENT_TYPES.get(event.name)
        if event.module != MODULE_NAME or message_type is None:
            continue
        decoded: Any = message_type.FromString(event.data)
        if getattr(decoded, "record_id", None) == record_id and hasattr(decoded, "revision_hash"):
            return ConsentChange(record_id, decoded.revision, decoded.revision_hash, receipt)
    if receipt.success:
        raise ProtocolError(f"the receipt of a change to record {record_id.hex()} carries no event naming it")
    return ConsentChange(record_id, None, None, receipt)


class ConsentApi:
    """Typed calls and queries of the consent module through one client (available as `client.consent`).

    Call methods sign with `account`, wait for the block, and return a ConsentChange; with `check` (default) a
    failed call raises its ConsentModuleError subclass (NotSubject, InvalidTransition, ...). They raise the
    RpcError subclass of a rejection at admission, e.g. InvalidArgument for arguments the chain refuses
    statelessly or PermissionDenied when a controller call is made without the controller role.
    """

    def __init__(self, client: ConsentClient) -> None:
        self._client = client

    # -- calls -----------------------------------------------------------------------------------------------------

    def _submit(
        self, account: Signer, method: int, args: Message, record_id: bytes, timeout: float | None, check: bool
    ) -> ConsentChange:
        receipt = account.submit_and_wait(MODULE_INDEX, method, args, timeout=timeout, check=check)
        return _change(record_id, receipt)

    def request(
        self,
        account: Signer,
        *,
        client_ref: bytes,
        subject: str,
        subject_account: bytes,
        controller: str,
        terms: consent_pb2.Terms,
        valid_until_ms: int,
        timeout: float | None = None,
        check: bool = True,
    ) -> ConsentChange:
        """A controller (`account`: role "controller", controls `controller`) asks `subject` to consent to `terms`
        until `valid_until_ms`; the request itself lapses then. `subject_account` must control the subject DID now
        (it is recorded); whoever controls the DID when answering may answer.

        Raises ValueError for a bad client_ref; with `check`, e.g. UnknownDid, DeactivatedDid, NotController or
        NotSubject (subject_account does not control the subject).
        """
        record_id = record_id_for(account.account_id, client_ref)
        args = consent_pb2.RequestConsent(
            client_ref=client_ref,
            subject=subject,
            subject_account=subject_account,
            controller=controller,
            terms=terms,
            valid_until_ms=valid_until_ms,
        )
        return self._submit(account, REQUEST, args, record_id, timeout, check)

    def grant(
        self,
        account: Signer,
        *,
        client_ref: bytes,
        subject: str,
        controller: str,
        terms: consent_pb2.Terms,
        valid_until_ms: int,
        timeout: float | None = None,
        check: bool = True,
    ) -> ConsentChange:
        """The subject (signing with `account`, which must control `subject`) gives consent to `controller`
        directly; the controller DID's controlling account must hold the role "controller".

        Raises ValueError for a bad client_ref; with `check`, e.g. UnknownDid, DeactivatedDid, NotSubject or
        ControllerNotRegistered.
        """
        record_id = record_id_for(account.account_id, client_ref)
        args = consent_pb2.GrantConsent(
            client_ref=client_ref, subject=subject, controller=controller, terms=terms, valid_until_ms=valid_until_ms
        )
        return self._submit(account, GRANT, args, record_id, timeout, check)

    def grant_request(
        self,
        account: Signer,
        record_id: bytes,
        *,
        purposes: Sequence[str] = (),
        data_categories: Sequence[str] = (),
        valid_until_ms: int = 0,
        timeout: float | None = None,
        check: bool = True,
    ) -> ConsentChange:
        """The subject accepts a request: all of it, or only the listed purposes and data categories, until the
        requested time or an earlier `valid_until_ms`. With `check`, e.g. NotRequested or RecordExpired.
        """
        _check_record_id(record_id)
        args = consent_pb2.GrantRequest(
            record_id=record_id, purposes=purposes, data_categories=data_categories, valid_until_ms=valid_until_ms
        )
        return self._submit(account, GRANT_REQUEST, args, record_id, timeout, check)

    def refuse(
        self, account: Signer, record_id: bytes, *, timeout: float | None = None, check: bool = True
    ) -> ConsentChange:
        """The subject refuses a request."""
        _check_record_id(record_id)
        return self._submit(account, REFUSE, consent_pb2.RefuseRequest(record_id=record_id), record_id, timeout, check)

    def renew(
        self,
        account: Signer,
        record_id: bytes,
        valid_until_ms: int,
        *,
        timeout: float | None = None,
        check: bool = True,
    ) -> ConsentChange:
        """The subject extends a given consent to `valid_until_ms` (later than its current end)."""
        _check_record_id(record_id)
        args = consent_pb2.RenewConsent(record_id=record_id, valid_until_ms=valid_until_ms)
        return self._submit(account, RENEW, args, record_id, timeout, check)

    def withdraw(
        self, account: Signer, record_id: bytes, *, timeout: float | None = None, check: bool = True
    ) -> ConsentChange:
        """The subject withdraws consent; check() denies it from the next block on."""
        _check_record_id(record_id)
        args = consent_pb2.WithdrawConsent(record_id=record_id)
        return self._submit(account, WITHDRAW, args, record_id, timeout, check)

    def terminate(
        self, account: Signer, record_id: bytes, *, timeout: float | None = None, check: bool = True
    ) -> ConsentChange:
        """The record's controller ends a request or a consent it no longer relies on."""
        _check_record_id(record_id)
        args = consent_pb2.TerminateConsent(record_id=record_id)
        return self._submit(account, TERMINATE, args, record_id, timeout, check)

    def invalidate(
        self, account: Signer, record_id: bytes, *, timeout: float | None = None, check: bool = True
    ) -> ConsentChange:
        """The record's controller declares the consent never valid; check() then denies it at every moment."""
        _check_record_id(record_id)
        args = consent_pb2.InvalidateConsent(record_id=record_id)
        return self._submit(account, INVALIDATE, args, record_id, timeout, check)

    def log_access(
        self,
        account: Signer,
        record_id: bytes,
        *,
        purpose: str,
        data_categories: Sequence[str],
        accessor: bytes,
        timeout: float | None = None,
        check: bool = True,
    ) -> int | None:
        """The record's controller logs one use of the subject's data; returns the entry's seq (None if failed).

        `accessor` is an opaque 16-32 byte hash of who accessed, never a name. With `check`, ConsentNotValid,
        RecordExpired, PurposeNotCovered or CategoryNotCovered when no valid consent covers the use.
        """
        _check_record_id(record_id)
        args = consent_pb2.LogAccess(
            record_id=record_id, purpose=purpose, data_categories=data_categories, accessor=accessor
        )
        receipt = account.submit_and_wait(MODULE_INDEX, LOG_ACCESS, args, timeout=timeout, check=check)
        for event in receipt.events:
            if event.module == MODULE_NAME and event.name == "AccessLogged":
                return consent_pb2.AccessLogged.FromString(event.data).seq
        return None

    # -- queries -------------------------------------------------------------------------------------------------

    def _query(self, method: str, request: Message, result_type: type[R]) -> R:
        return self._client.query(MODULE_NAME, method, request, result_type)

    def check(
        self,
        subject: str,
        controller: str,
        purpose: str,
        data_category: str,
        *,
        at_ms: int | None = None,
        verify: bool = False,
        validators: Sequence[ValidatorKey] | None = None,
    ) -> consent_pb2.CheckResult:
        """May `controller` use `data_category` of `subject` for `purpose`, now (as the chain stands) or at the
        moment `at_ms`? The result names the covering record and the state keys that prove it.

        With `verify`, an allowed answer is confirmed by state proofs of those keys (see Client.state_proof);
        a denial is returned as is. Raises the RpcError subclass of a failed query (InvalidArgument for a
        malformed DID or code), ProofError or CertificateError when verification fails, and ProtocolError when
        the proven state does not support the answer (for example the record changed in between: ask again).
        """
        request = consent_pb2.CheckQuery(
            subject=subject, controller=controller, purpose=purpose, data_category=data_category, at_ms=at_ms or 0
        )
        result = self._query("check", request, consent_pb2.CheckResult)
        if verify and result.allowed:
            self._verify_allowed(result, at_ms or 0, validators)
        return result

    def check_many(
        self,
        checks: Sequence[CheckTuple],
        *,
        verify: bool = False,
        validators: Sequence[ValidatorKey] | None = None,
    ) -> list[consent_pb2.CheckResult]:
        """`check` of each (subject, controller, purpose, data_category) or (..., at_ms) tuple in one query:
        results[i] answers checks[i], all from one state of the node (at_ms 0 or None: now). The node accepts at
        most 1,000 checks per call; split larger sets (each call is then answered from its own state).

        With `verify`, the allowed answers are confirmed as `check(verify=True)` confirms one, each distinct
        state key proven once. Raises ValueError for a tuple of another length, InvalidArgument for more than
        1,000 checks or a malformed one (the message names its position, `checks[3]: ...`), other RpcError
        subclasses, and with `verify` ProofError, CertificateError or ProtocolError as `check`.
        """
        queries = [_check_query(position, item) for position, item in enumerate(checks)]
        if not queries:
            return []
        answer = self._query("check_many", consent_pb2.CheckManyQuery(checks=queries), consent_pb2.CheckManyResult)
        results = list(answer.results)
        if len(results) != len(queries):
            raise ProtocolError(f"check_many of {len(queries)} checks was answered with {len(results)} results")
        if verify:
            allowed = [(result, query.at_ms) for result, query in zip(results, queries, strict=True) if result.allowed]
            proven = self._prove_keys((key for result, _ in allowed for key in result.state_keys), validators)
            for result, at_ms in allowed:
                _check_proven(result, at_ms, proven)
        return results

    def _verify_allowed(
        self, result: consent_pb2.CheckResult, at_ms: int, validators: Sequence[ValidatorKey] | None
    ) -> None:
        _check_proven(result, at_ms, self._prove_keys(result.state_keys, validators))

    def _prove_keys(self, keys: Iterable[bytes], validators: Sequence[ValidatorKey] | None) -> dict[bytes, bytes]:
        """The proven value of each distinct key (one verified QueryState each); ProtocolError when one is absent."""
        proven: dict[bytes, bytes] = {}
        for key in keys:
            if key in proven:
                continue
            proof = self._client.state_proof(key, verify=True, validators=validators).proof
            if not proof.exists:
                raise ProtocolError(f"the check names state key {key!r}, which the proof shows absent")
            proven[key] = proof.value
        return proven

    def record(
        self, record_id: bytes, *, verify: bool = False, validators: Sequence[ValidatorKey] | None = None
    ) -> consent_pb2.ConsentRecord:
        """The current revision of a record; with `verify`, read through a state proof.

        Raises NotFound when there is no such record (RpcError subclasses for a failed query), and with
        `verify` ProofError or CertificateError.
        """
        if verify:
            proof = self._client.state_proof(record_key(record_id), verify=True, validators=validators).proof
            if not proof.exists:
                raise NotFound(grpc.StatusCode.NOT_FOUND, f"no consent record has id {record_id.hex()}")
            return _decode_record(proof.value)
        _check_record_id(record_id)
        result = self._query("record", consent_pb2.RecordQuery(record_id=record_id), consent_pb2.RecordResult)
        return _decode_record(result.revision_bytes)

    def history(self, record_id: bytes, *, before: int | None = None) -> list[bytes]:
        """The exact bytes of a record's revisions, oldest first (all of them, or those numbered below `before`),
        after checking that each revision's predecessor_hash is the hash of the one before.

        Raises ProtocolError when the chain of hashes is broken, and RpcError subclasses.
        """
        _check_record_id(record_id)
        revisions: list[bytes] = []
        while before is None or len(revisions) < before:
            request = consent_pb2.HistoryQuery(record_id=record_id, start_revision=len(revisions), limit=_PAGE)
            page = self._query("history", request, consent_pb2.HistoryResult)
            revisions.extend(page.revisions)
            if not page.more or not page.revisions:
                break
        if before is not None:
            revisions = revisions[:before]
        _check_chain([_decode_record(raw) for raw in revisions], revisions, ProtocolError)
        return revisions

    def records_by_subject(self, subject: str, *, start: bytes = b"", limit: int = 0) -> consent_pb2.ListResult:
        """One page of the subject's records, oldest first; pass `next` of a page as `start` for the next one."""
        return self._query(
            "records_by_subject", consent_pb2.ListQuery(did=subject, start=start, limit=limit), consent_pb2.ListResult
        )

    def records_by_controller(self, controller: str, *, start: bytes = b"", limit: int = 0) -> consent_pb2.ListResult:
        """One page of the controller's records, oldest first."""
        return self._query(
            "records_by_controller",
            consent_pb2.ListQuery(did=controller, start=start, limit=limit),
            consent_pb2.ListResult,
        )

    def all_records(self, did: str, *, by: str = "subject") -> Iterator[consent_pb2.RecordSummary]:
        """Every record of a subject (`by="subject"`) or a controller (`by="controller"`), page after page."""
        if by not in ("subject", "controller"):
            raise ValueError(f"by must be 'subject' or 'controller', not {by!r}")
        start = b""
        while True:
            page = self._query(
                f"records_by_{by}", consent_pb2.ListQuery(did=did, start=start, limit=_PAGE), consent_pb2.ListResult
            )
            yield from page.records
            if not page.next:
                return
            start = page.next

    def access_log(self, subject: str, *, start: bytes = b"", limit: int = 0) -> consent_pb2.AccessLogResult:
        """One page of the accesses to the subject's data, oldest first."""
        request = consent_pb2.AccessLogQuery(subject=subject, start=start, limit=limit)
        return self._query("access_log", request, consent_pb2.AccessLogResult)

    def all_access(self, subject: str) -> Iterator[consent_pb2.AccessEntry]:
        """Every logged access to the subject's data, page after page."""
        start = b""
        while True:
            page = self.access_log(subject, start=start, limit=_PAGE)
            yield from page.entries
            if not page.next:
                return
            start = page.next

    def controller_account(self, did: str) -> bytes | None:
        """The account a grant to controller `did` records: the active identity DID's controlling account when
        it holds the role "controller"; None when a grant naming `did` would fail (ControllerNotRegistered,
        UnknownDid, DeactivatedDid). Raises InvalidArgument for a DID that is not did:dcrm."""
        result = self._query("did", consent_pb2.DidQuery(did=did), consent_pb2.DidResult)
        return bytes(result.account) if result.controller else None

    # -- receipts ------------------------------------------------------------------------------------------------

    def receipt(self, record_id: bytes, *, validators: Sequence[ValidatorKey] | None = None) -> dict[str, Any]:
        """A consent receipt of the record's current revision, with what verifies it offline: the revision's
        exact bytes, its state proof, the header and the commit certificate, and the earlier revisions.

        Raises NotFound when there is no such record, ProofError or CertificateError when the node's proof
        does not verify (against `validators`, else the client's), and RpcError subclasses.
        """
        response = self._client.state_proof(record_key(record_id), verify=True, validators=validators)
        if not response.proof.exists:
            raise NotFound(grpc.StatusCode.NOT_FOUND, f"no consent record has id {record_id.hex()}")
        current = _decode_record(response.proof.value)
        history = self.history(record_id, before=current.revision) if current.revision else []
        return build_consent_receipt(self._client.chain_id(), response, history)


def _check_query(position: int, item: CheckTuple) -> consent_pb2.CheckQuery:
    if len(item) not in (4, 5):
        raise ValueError(
            f"checks[{position}] must be (subject, controller, purpose, data_category[, at_ms]), got {len(item)} items"
        )
    subject, controller, purpose, data_category = item[:4]
    at_ms = item[4] if len(item) == 5 else None
    return consent_pb2.CheckQuery(
        subject=subject, controller=controller, purpose=purpose, data_category=data_category, at_ms=at_ms or 0
    )


def _check_proven(result: consent_pb2.CheckResult, at_ms: int, values: Mapping[bytes, bytes]) -> None:
    """Raise ProtocolError unless the proven `values` of the result's state keys support its "allowed"."""
    proven = [values[key] for key in result.state_keys]
    if not proven or not result.state_keys[0].startswith(_RECORD_PREFIX):
        raise ProtocolError("an allowed check must name the record's state key first")
    current = _decode_record(proven[0])
    if current.record_id != result.record_id:
        raise ProtocolError(f"the proven record is {current.record_id.hex()}, not {result.record_id.hex()}")
    in_force = current if len(proven) == 1 or not at_ms else _decode_record(proven[-1])
    if in_force.state not in VALID_STATES or (at_ms and not in_force.valid_from_ms <= at_ms):
        raise ProtocolError(f"the proven record {current.record_id.hex()} is {state_name(in_force.state)}")
    if at_ms and at_ms >= in_force.valid_until_ms:
        raise ProtocolError(f"the proven record was valid until {in_force.valid_until_ms}, before {at_ms}")


# -- consent receipts ----------------------------------------------------------------------------------------------


def _decode_record(raw: bytes) -> consent_pb2.ConsentRecord:
    try:
        return consent_pb2.ConsentRecord.FromString(raw)
    except DecodeError as error:
        raise ProtocolError(f"a consent record does not decode as dcrm.v1.consent.ConsentRecord: {error}") from None


def _check_chain(records: Sequence[consent_pb2.ConsentRecord], raws: Sequence[bytes], error: type[Exception]) -> None:
    for number, record in enumerate(records):
        if record.revision != number:
            raise error(f"revision {number} is numbered {record.revision}")
        expected = sha256(raws[number - 1]) if number else b""
        if record.predecessor_hash != expected:
            raise error(f"revision {number}'s predecessor_hash is not the hash of revision {number - 1}")


def receipt_body(record: consent_pb2.ConsentRecord, revision_bytes: bytes) -> dict[str, Any]:
    """The receipt's readable part, derived from the record alone: Kantara Consent Receipt 1.1 fields, and
    the ISO/IEC TS 27560 record under "record". `verify_consent_receipt` re-derives it from the proven bytes.
    """
    terms = record.terms
    sensitive = [category.id for category in terms.data_categories if category.sensitive]
    third_parties = [party.did for party in terms.parties if party.role == consent_pb2.PARTY_ROLE_THIRD_PARTY]
    consent_type = "EXPLICIT" if terms.consent_type == consent_pb2.CONSENT_TYPE_EXPLICIT else "EXPRESS"
    categories = [category.id for category in terms.data_categories]
    return {
        "version": RECEIPT_VERSION,
        "jurisdiction": terms.jurisdiction,
        "consentTimestamp": record.event_time_ms // 1000,
        "collectionMethod": terms.collection_method,
        "consentReceiptID": record.record_id.hex(),
        "language": terms.notice.language,
        "piiPrincipalId": record.subject,
        "piiControllers": [{"piiController": record.controller, "onBehalf": False}],
        "policyUrl": terms.notice.url,
        "services": [
            {
                "service": terms.collection_channel,
                "purposes": [
                    {
                        "purpose": purpose.id,
                        "purposeCategory": [purpose.category],
                        "consentType": consent_type,
                        "piiCategory": categories,
                        "primaryPurpose": position == 0,
                        "termination": terms.withdrawal_method,
                        "thirdPartyDisclosure": bool(third_parties),
                        "thirdPartyName": " ".join(third_parties),
                    }
                    for position, purpose in enumerate(terms.purposes)
                ],
            }
        ],
        "sensitive": bool(sensitive),
        "spiCat": sensitive,
        "record": _iso_record(record, revision_bytes),
    }


def _iso_record(record: consent_pb2.ConsentRecord, revision_bytes: bytes) -> dict[str, Any]:
    terms = record.terms
    return {
        "record_id": record.record_id.hex(),
        "schema_version": record.schema_version,
        "state": state_name(record.state),
        "valid_for_processing": record.state in VALID_STATES,
        "revision": record.revision,
        "revision_hash": sha256(revision_bytes).hex(),
        "predecessor_hash": record.predecessor_hash.hex(),
        "event_time_ms": record.event_time_ms,
        "event_height": record.event_height,
        "signed_by": record.changed_by.hex(),
        "subject": record.subject,
        "subject_account": record.subject_account.hex(),
        "controller": record.controller,
        "controller_account": record.controller_account.hex(),
        "purposes": [{"id": purpose.id, "category": purpose.category} for purpose in terms.purposes],
        "data_categories": [{"id": item.id, "sensitive": item.sensitive} for item in terms.data_categories],
        "parties": [
            {"role": consent_pb2.PartyRole.Name(party.role).removeprefix("PARTY_ROLE_").lower(), "did": party.did}
            for party in terms.parties
        ],
        "lawful_basis": terms.lawful_basis,
        "notice": {
            "url": terms.notice.url,
            "content_hash": terms.notice.content_hash.hex(),
            "version": terms.notice.version,
            "language": terms.notice.language,
        },
        "collection_method": terms.collection_method,
        "collection_channel": terms.collection_channel,
        "consent_type": consent_pb2.ConsentType.Name(terms.consent_type).removeprefix("CONSENT_TYPE_").lower(),
        "valid_from_ms": record.valid_from_ms,
        "valid_until_ms": record.valid_until_ms,
        "retention_ms": terms.retention_ms,
        "storage_locations": list(terms.storage_locations),
        "jurisdiction": terms.jurisdiction,
        "withdrawal_method": terms.withdrawal_method,
        "ccpa_opt_out": terms.ccpa_opt_out,
        "gpc": terms.gpc,
        "created_ms": record.created_ms,
    }


def build_consent_receipt(
    chain_id: str, response: node_pb2.QueryStateResponse, history: Sequence[bytes] = ()
) -> dict[str, Any]:
    """A receipt from a QueryState answer for a record's state key and the record's earlier revisions (oldest
    first). The result is plain JSON data: `json.dumps` it to hand it over.

    Raises ValueError when the proof does not show a record.
    """
    proof = response.proof
    if not proof.exists or not proof.key.startswith((_RECORD_PREFIX, _REVISION_PREFIX)):
        raise ValueError(f"the proof for {proof.key!r} does not show a consent record")
    header = types_pb2.BlockHeader.FromString(response.header)
    body = receipt_body(_decode_record(proof.value), proof.value)
    body["proof"] = {
        "chain_id": chain_id,
        "height": header.height,
        "state_key": proof.key.hex(),
        "revision": proof.value.hex(),
        "state_proof": proof.SerializeToString(deterministic=True).hex(),
        "header": response.header.hex(),
        "certificate": response.certificate.SerializeToString(deterministic=True).hex(),
        "history": [raw.hex() for raw in history],
    }
    return body


@dataclass(frozen=True)
class VerifiedConsentReceipt:
    """What a receipt proves: the record revision, the final block header whose state held it, and the earlier
    revisions (oldest first) whose hashes chain to it."""

    record: consent_pb2.ConsentRecord
    revision_bytes: bytes
    header: types_pb2.BlockHeader
    history: list[consent_pb2.ConsentRecord]

    @property
    def valid_for_processing(self) -> bool:
        """Whether the revision is given or renewed (check valid_until_ms against the time that matters)."""
        return self.record.state in VALID_STATES


def verify_consent_receipt(
    receipt_json: str | bytes | Mapping[str, Any],
    validators: Sequence[ValidatorKey],
    *,
    chain_id: str | None = None,
) -> VerifiedConsentReceipt:
    """Check a consent receipt offline: the commit certificate proves the header final for `validators` (and
    `chain_id`, by default the receipt's), the state proof shows the revision's exact bytes under the header's
    state root at the record's key, every readable field is what those bytes say, and the earlier revisions'
    hashes chain to it.

    Raises ReceiptInvalid naming the first check that fails.
    """
    receipt = _load_receipt(receipt_json)
    proof_part = receipt.get("proof")
    if not isinstance(proof_part, dict):
        raise ReceiptInvalid('the receipt has no "proof" object')
    claimed_chain = proof_part.get("chain_id")
    if not isinstance(claimed_chain, str):
        raise ReceiptInvalid("proof.chain_id must be a string")
    revision_bytes = _hex_field(proof_part, "revision")
    state_key = _hex_field(proof_part, "state_key")
    header_bytes = _hex_field(proof_part, "header")
    try:
        state_proof = types_pb2.StateProof.FromString(_hex_field(proof_part, "state_proof"))
        certificate = types_pb2.CommitCertificate.FromString(_hex_field(proof_part, "certificate"))
        header = verify_commit_certificate(header_bytes, certificate, validators, chain_id or claimed_chain)
        verify_state_proof(header.state_root, state_proof, key=state_key)
    except (DecodeError, CertificateError, ProofError) as error:
        raise ReceiptInvalid(f"the proof does not verify: {error}") from None
    if not state_proof.exists or state_proof.value != revision_bytes:
        raise ReceiptInvalid("the state proof does not show the receipt's revision bytes")
    try:
        record = consent_pb2.ConsentRecord.FromString(revision_bytes)
    except DecodeError as error:
        raise ReceiptInvalid(f"proof.revision is not a consent record: {error}") from None
    if state_key not in (
        _RECORD_PREFIX + record.record_id,
        _REVISION_PREFIX + record.record_id + _be32(record.revision),
    ):
        raise ReceiptInvalid(f"proof.state_key {state_key!r} is not the key of record {record.record_id.hex()}")
    expected = receipt_body(record, revision_bytes)
    stated = {name: value for name, value in receipt.items() if name != "proof"}
    for name in sorted(expected.keys() | stated.keys()):
        if expected.get(name) != stated.get(name):
            raise ReceiptInvalid(f'receipt field "{name}" does not match the proven record')
    history = _verify_history(proof_part, record, revision_bytes)
    return VerifiedConsentReceipt(record, revision_bytes, header, history)


def _verify_history(
    proof_part: Mapping[str, Any], record: consent_pb2.ConsentRecord, revision_bytes: bytes
) -> list[consent_pb2.ConsentRecord]:
    values = proof_part.get("history", [])
    if not isinstance(values, list) or len(values) != record.revision:
        raise ReceiptInvalid(f"proof.history must list the {record.revision} earlier revisions")
    raws = [_hex_value(value, f"proof.history[{number}]") for number, value in enumerate(values)]
    try:
        history = [consent_pb2.ConsentRecord.FromString(raw) for raw in raws]
    except DecodeError as error:
        raise ReceiptInvalid(f"proof.history holds a revision that does not decode: {error}") from None
    _check_chain([*history, record], [*raws, revision_bytes], ReceiptInvalid)
    for number, earlier in enumerate(history):
        if earlier.record_id != record.record_id:
            raise ReceiptInvalid(f"proof.history[{number}] is a revision of another record")
    return history


def _load_receipt(receipt_json: str | bytes | Mapping[str, Any]) -> Mapping[str, Any]:
    if isinstance(receipt_json, Mapping):
        return receipt_json
    try:
        loaded = json.loads(receipt_json)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ReceiptInvalid(f"the receipt is not JSON: {error}") from None
    if not isinstance(loaded, dict):
        raise ReceiptInvalid("the receipt must be a JSON object")
    return loaded


def _hex_field(part: Mapping[str, Any], name: str) -> bytes:
    return _hex_value(part.get(name), f"proof.{name}")


def _hex_value(value: Any, field: str) -> bytes:
    if isinstance(value, str):
        try:
            return bytes.fromhex(value)
        except ValueError:
            pass
    raise ReceiptInvalid(f"{field} must be a hex string")
