"""Consent module errors. Codes are the wire enum dcrm.v1.consent.Error; never renumber.

Code 15 (DidTaken) is retired: DIDs are no longer bound to accounts by this module but resolved through the
identity module. The proto enum keeps it reserved.
"""

from __future__ import annotations

from dcrm.runtime.errors import ErrorKind, ModuleErrors
from dcrm.v1 import consent_pb2

MODULE = "consent"
INDEX = 2

_INVALID = ErrorKind.INVALID_ARGUMENT
_DENIED = ErrorKind.PERMISSION_DENIED


_define = ModuleErrors(MODULE, INDEX).define


BAD_DID = _define(
    consent_pb2.BAD_DID, "BadDid", "a DID is malformed, or a subject or controller is not a did:dcrm DID", _INVALID
)
PERSONAL_DATA = _define(
    consent_pb2.PERSONAL_DATA,
    "PersonalData",
    "a field looks like personal data (an e-mail address, readable text where a hash belongs)",
    _INVALID,
)
BAD_TOKEN = _define(
    consent_pb2.BAD_TOKEN,
    "BadToken",
    "a code (purpose, category, basis, method, ...) is not 1-64 of A-Z a-z 0-9 . _ : -",
    _INVALID,
)
BAD_NOTICE = _define(
    consent_pb2.BAD_NOTICE,
    "BadNotice",
    "the notice URL, content hash, version or language is missing or malformed",
    _INVALID,
)
BAD_URI = _define(
    consent_pb2.BAD_URI, "BadUri", "the withdrawal method is not a URI of at most 512 characters", _INVALID
)
BAD_REGION = _define(
    consent_pb2.BAD_REGION,
    "BadRegion",
    'a jurisdiction or storage location is not a region code like "EU" or "US-CA"',
    _INVALID,
)
BAD_LIST = _define(
    consent_pb2.BAD_LIST,
    "BadList",
    "a list is empty where one item is required, too long, or repeats an item",
    _INVALID,
)
BAD_CONSENT_TYPE = _define(
    consent_pb2.BAD_CONSENT_TYPE,
    "BadConsentType",
    "consent_type is unspecified, or express for a sensitive data category",
    _INVALID,
)
BAD_RETENTION = _define(
    consent_pb2.BAD_RETENTION, "BadRetention", "retention_ms is zero or longer than 100 years", _INVALID
)
BAD_VALIDITY = _define(
    consent_pb2.BAD_VALIDITY,
    "BadValidity",
    "valid_until_ms is not after the block time or the current validity, or too far ahead",
)
BAD_ACCOUNT = _define(consent_pb2.BAD_ACCOUNT, "BadAccount", "an account id is not 20 bytes", _INVALID)
BAD_RECORD_ID = _define(
    consent_pb2.BAD_RECORD_ID,
    "BadRecordId",
    "a record id is not 16 bytes, or a client reference is not 1 to 32 bytes",
    _INVALID,
)
BAD_ACCESSOR = _define(
    consent_pb2.BAD_ACCESSOR, "BadAccessor", "an accessor is not an opaque 16- to 32-byte hash", _INVALID
)
BAD_PAGE = _define(consent_pb2.BAD_PAGE, "BadPage", "a page limit is over 100, or a page start is malformed", _INVALID)
CONTROLLER_NOT_REGISTERED = _define(
    consent_pb2.CONTROLLER_NOT_REGISTERED,
    "ControllerNotRegistered",
    "the controller DID's controlling account does not hold the controller role",
)
RECORD_EXISTS = _define(consent_pb2.RECORD_EXISTS, "RecordExists", "the creator already used this client reference")
RECORD_NOT_FOUND = _define(
    consent_pb2.RECORD_NOT_FOUND, "RecordNotFound", "no consent record has this id", ErrorKind.NOT_FOUND
)
NOT_SUBJECT = _define(
    consent_pb2.NOT_SUBJECT,
    "NotSubject",
    "the caller (or a request's subject_account) does not control the subject DID",
    _DENIED,
)
NOT_CONTROLLER = _define(
    consent_pb2.NOT_CONTROLLER, "NotController", "the caller does not control the controller DID", _DENIED
)
INVALID_TRANSITION = _define(
    consent_pb2.INVALID_TRANSITION, "InvalidTransition", "the record's state does not allow this change"
)
NOT_REQUESTED = _define(
    consent_pb2.NOT_REQUESTED, "NotRequested", "a purpose or data category granted was not in the request"
)
RECORD_EXPIRED = _define(consent_pb2.RECORD_EXPIRED, "RecordExpired", "the record's valid_until has passed")
CONSENT_NOT_VALID = _define(
    consent_pb2.CONSENT_NOT_VALID,
    "ConsentNotValid",
    "the record is not in a state valid for processing (given, renewed)",
)
PURPOSE_NOT_COVERED = _define(
    consent_pb2.PURPOSE_NOT_COVERED, "PurposeNotCovered", "the record does not name the purpose"
)
CATEGORY_NOT_COVERED = _define(
    consent_pb2.CATEGORY_NOT_COVERED, "CategoryNotCovered", "the record does not name the data category"
)
UNKNOWN_DID = _define(
    consent_pb2.UNKNOWN_DID,
    "UnknownDid",
    "a subject or controller DID was never created in the identity module",
    ErrorKind.NOT_FOUND,
)
DEACTIVATED_DID = _define(
    consent_pb2.DEACTIVATED_DID, "DeactivatedDid", "a subject or controller DID is deactivated and can no longer act"
)

ALL = (
    BAD_DID,
    PERSONAL_DATA,
    BAD_TOKEN,
    BAD_NOTICE,
    BAD_URI,
    BAD_REGION,
    BAD_LIST,
    BAD_CONSENT_TYPE,
    BAD_RETENTION,
    BAD_VALIDITY,
    BAD_ACCOUNT,
    BAD_RECORD_ID,
    BAD_ACCESSOR,
    BAD_PAGE,
    CONTROLLER_NOT_REGISTERED,
    RECORD_EXISTS,
    RECORD_NOT_FOUND,
    NOT_SUBJECT,
    NOT_CONTROLLER,
    INVALID_TRANSITION,
    NOT_REQUESTED,
    RECORD_EXPIRED,
    CONSENT_NOT_VALID,
    PURPOSE_NOT_COVERED,
    CATEGORY_NOT_COVERED,
    UNKNOWN_DID,
    DEACTIVATED_DID,
)
