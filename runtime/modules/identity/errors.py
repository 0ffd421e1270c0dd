"""Identity module errors. Codes are the wire enum dcrm.v1.identity.Error; never renumber."""

from __future__ import annotations

from dcrm.runtime.errors import ErrorKind, ModuleErrors
from dcrm.v1 import identity_pb2

MODULE = "identity"
INDEX = 1

_INVALID = ErrorKind.INVALID_ARGUMENT


_define = ModuleErrors(MODULE, INDEX).define


BAD_DID = _define(identity_pb2.BAD_DID, "BadDid", "a DID is not a well-formed did:dcrm identifier", _INVALID)
DID_ALREADY_EXISTS = _define(
    identity_pb2.DID_ALREADY_EXISTS, "DidAlreadyExists", "a DID with this method-specific id was already created"
)
DID_NOT_FOUND = _define(
    identity_pb2.DID_NOT_FOUND,
    "DidNotFound",
    "no DID with this id exists (at the height or time asked)",
    ErrorKind.NOT_FOUND,
)
DID_DEACTIVATED = _define(
    identity_pb2.DID_DEACTIVATED, "DidDeactivated", "the DID is deactivated, permanently; it cannot change or act"
)
NOT_DID_CONTROLLER = _define(
    identity_pb2.NOT_DID_CONTROLLER,
    "NotDidController",
    "the sender is not a controller of the DID",
    ErrorKind.PERMISSION_DENIED,
)
BAD_VERIFICATION_METHOD = _define(
    identity_pb2.BAD_VERIFICATION_METHOD,
    "BadVerificationMethod",
    "a verification method's fragment, type, key or relationships are invalid",
    _INVALID,
)
DUPLICATE_FRAGMENT = _define(
    identity_pb2.DUPLICATE_FRAGMENT,
    "DuplicateFragment",
    "a verification method or service id is already used in the document",
)
UNKNOWN_FRAGMENT = _define(
    identity_pb2.UNKNOWN_FRAGMENT,
    "UnknownFragment",
    "no verification method or service with this id is in the document",
)
BAD_SERVICE = _define(
    identity_pb2.BAD_SERVICE,
    "BadService",
    "a service's fragment, type or endpoint is invalid or too long",
    _INVALID,
)
DOCUMENT_TOO_LARGE = _define(
    identity_pb2.DOCUMENT_TOO_LARGE,
    "DocumentTooLarge",
    "the document would exceed its bound of methods, services or controllers",
)
BAD_CONTROLLER = _define(
    identity_pb2.BAD_CONTROLLER,
    "BadController",
    "a controller DID or account is malformed, repeated, unknown or deactivated",
)
NO_CONTROLLER = _define(
    identity_pb2.NO_CONTROLLER, "NoController", "the change would leave no account able to control the DID"
)
VERSION_MISMATCH = _define(
    identity_pb2.VERSION_MISMATCH, "VersionMismatch", "expected_version is not the DID's current version"
)
BAD_UPDATE = _define(
    identity_pb2.BAD_UPDATE,
    "BadUpdate",
    "an update has no operations, too many, or an empty operation",
    _INVALID,
)
ISSUER_ALREADY_REGISTERED = _define(
    identity_pb2.ISSUER_ALREADY_REGISTERED, "IssuerAlreadyRegistered", "the DID is already a registered issuer"
)
ISSUER_NOT_FOUND = _define(
    identity_pb2.ISSUER_NOT_FOUND,
    "IssuerNotFound",
    "the DID is not a registered issuer (remove or query)",
    ErrorKind.NOT_FOUND,
)
NOT_ISSUER = _define(
    identity_pb2.NOT_ISSUER,
    "NotIssuer",
    "the DID acting as issuer is not a registered issuer",
    ErrorKind.PERMISSION_DENIED,
)
BAD_SCHEMA = _define(
    identity_pb2.BAD_SCHEMA,
    "BadSchema",
    "a schema's name, version, attributes or content hash are invalid",
    _INVALID,
)
SCHEMA_ALREADY_EXISTS = _define(
    identity_pb2.SCHEMA_ALREADY_EXISTS,
    "SchemaAlreadyExists",
    "the issuer already registered this schema name and version",
)
SCHEMA_NOT_FOUND = _define(
    identity_pb2.SCHEMA_NOT_FOUND, "SchemaNotFound", "no schema has this id", ErrorKind.NOT_FOUND
)
BAD_STATUS_LIST = _define(
    identity_pb2.BAD_STATUS_LIST,
    "BadStatusList",
    "a status list id, purpose, size or status action is invalid",
    _INVALID,
)
STATUS_LIST_ALREADY_EXISTS = _define(
    identity_pb2.STATUS_LIST_ALREADY_EXISTS,
    "StatusListAlreadyExists",
    "the issuer already has a status list with this id",
)
STATUS_LIST_NOT_FOUND = _define(
    identity_pb2.STATUS_LIST_NOT_FOUND,
    "StatusListNotFound",
    "the issuer has no status list with this id",
    ErrorKind.NOT_FOUND,
)
INDEX_OUT_OF_RANGE = _define(
    identity_pb2.INDEX_OUT_OF_RANGE, "IndexOutOfRange", "a status index is not below the list's size", _INVALID
)
WRONG_PURPOSE = _define(
    identity_pb2.WRONG_PURPOSE,
    "WrongPurpose",
    "the action does not fit the list's purpose (revoke on a suspension list, ...)",
)
REVOCATION_PERMANENT = _define(
    identity_pb2.REVOCATION_PERMANENT, "RevocationPermanent", "a revoked index can never be cleared"
)
STATUS_UNCHANGED = _define(
    identity_pb2.STATUS_UNCHANGED, "StatusUnchanged", "the index already has the status the action sets"
)
BAD_SALT = _define(identity_pb2.BAD_SALT, "BadSalt", "a DID creation salt is empty or longer than 32 bytes", _INVALID)
BAD_RESOLUTION_POINT = _define(
    identity_pb2.BAD_RESOLUTION_POINT,
    "BadResolutionPoint",
    "a historical resolution names neither a height nor a time",
    _INVALID,
)

ALL = (
    BAD_DID,
    DID_ALREADY_EXISTS,
    DID_NOT_FOUND,
    DID_DEACTIVATED,
    NOT_DID_CONTROLLER,
    BAD_VERIFICATION_METHOD,
    DUPLICATE_FRAGMENT,
    UNKNOWN_FRAGMENT,
    BAD_SERVICE,
    DOCUMENT_TOO_LARGE,
    BAD_CONTROLLER,
    NO_CONTROLLER,
    VERSION_MISMATCH,
    BAD_UPDATE,
    ISSUER_ALREADY_REGISTERED,
    ISSUER_NOT_FOUND,
    NOT_ISSUER,
    BAD_SCHEMA,
    SCHEMA_ALREADY_EXISTS,
    SCHEMA_NOT_FOUND,
    BAD_STATUS_LIST,
    STATUS_LIST_ALREADY_EXISTS,
    STATUS_LIST_NOT_FOUND,
    INDEX_OUT_OF_RANGE,
    WRONG_PURPOSE,
    REVOCATION_PERMANENT,
    STATUS_UNCHANGED,
    BAD_SALT,
    BAD_RESOLUTION_POINT,
)
