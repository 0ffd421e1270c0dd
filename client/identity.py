"""The identity module (index 1): did:dcrm DIDs, credential issuers, schemas, status lists, and credentials.

Calls (dcrm.v1.identity messages): 0 CreateDid, 1 UpdateDid, 2 DeactivateDid, 3 RegisterIssuer (admin),
4 RemoveIssuer (admin), 5 RegisterSchema, 6 CreateStatusList, 7 UpdateCredentialStatus (5 to 7: a controller
of a registered issuer DID). Queries ("identity" module): resolve, resolve_at, issuer, schema, status_list,
status. Use it as `client.identity`:

```python
did = client.identity.create_did(customer).did                # key-1 = the account's key
print(client.identity.resolve(did)["didDocument"]["verificationMethod"])
vc = issue_credential(issuer_key, issuer_did, did, {"tier": "gold"}, schema_id, 42, valid_from,
                      status_list_id="revocations")
verify_credential(client, vc)                                 # raises CredentialInvalid with a reason
```

DIDs, documents and the proof format are specified in docs/did-method.md.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, TypeVar

from google.protobuf.message import Message

from dcrm.client.credentials import (
    CredentialInvalid,
    StatusEntry,
    VerificationFailure,
    VerifiedCredential,
    check_credential,
    issue_credential,
    status_list_credential,
    time_ms,
)
from dcrm.client.did import KEY_TYPES, MULTIKEY, did_for, render_document, render_metadata
from dcrm.client.errors import ModuleError, NotFound
from dcrm.client.keys import sha256
from dcrm.v1 import identity_pb2, types_pb2

__all__ = [
    "CREATE_DID",
    "CREATE_STATUS_LIST",
    "DEACTIVATE_DID",
    "DEFAULT_STATUS_LIST_SIZE",
    "EVENTS",
    "MODULE_INDEX",
    "MODULE_NAME",
    "REGISTER_ISSUER",
    "REGISTER_SCHEMA",
    "REMOVE_ISSUER",
    "UPDATE_CREDENTIAL_STATUS",
    "UPDATE_DID",
    "BadController",
    "BadDid",
    "BadResolutionPoint",
    "BadSalt",
    "BadSchema",
    "BadService",
    "BadStatusList",
    "BadUpdate",
    "BadVerificationMethod",
    "CreatedDid",
    "CredentialInvalid",
    "DidAlreadyExists",
    "DidDeactivated",
    "DidNotFound",
    "DocumentTooLarge",
    "DuplicateFragment",
    "IdentityApi",
    "IdentityModuleError",
    "IndexOutOfRange",
    "IssuerAlreadyRegistered",
    "IssuerNotFound",
    "NoController",
    "NotDidController",
    "NotIssuer",
    "QueryClient",
    "RevocationPermanent",
    "SchemaAlreadyExists",
    "SchemaNotFound",
    "Signer",
    "StatusEntry",
    "StatusListAlreadyExists",
    "StatusListNotFound",
    "StatusUnchanged",
    "UnknownFragment",
    "VerificationFailure",
    "VerifiedCredential",
    "VersionMismatch",
    "WrongPurpose",
    "add_service",
    "add_verification_method",
    "issue_credential",
    "remove_service",
    "remove_verification_method",
    "schema_id",
    "set_controller_account",
    "set_controllers",
    "verification_method",
    "verify_credential",
]

MODULE_INDEX = 1
MODULE_NAME = "identity"

# Call indices.
CREATE_DID = 0
UPDATE_DID = 1
DEACTIVATE_DID = 2
REGISTER_ISSUER = 3
REMOVE_ISSUER = 4
REGISTER_SCHEMA = 5
CREATE_STATUS_LIST = 6
UPDATE_CREDENTIAL_STATUS = 7

DEFAULT_STATUS_LIST_SIZE = 131_072  # the smallest list Bitstring Status List 1.0 allows (16 KiB)
DEFAULT_SALT_BYTES = 16
# The module's events, for decoding receipts (dcrm.client.transactions.EVENT_TYPES).
EVENTS: tuple[type[Message], ...] = (
    identity_pb2.DidCreated,
    identity_pb2.DidUpdated,
    identity_pb2.DidDeactivated,
    identity_pb2.IssuerRegistered,
    identity_pb2.IssuerRemoved,
    identity_pb2.SchemaRegistered,
    identity_pb2.StatusListCreated,
    identity_pb2.CredentialStatusChanged,
)
_PURPOSES = {"revocation": identity_pb2.REVOCATION, "suspension": identity_pb2.SUSPENSION}

R = TypeVar("R", bound=Message)


# -- errors of the identity module (index 1) ---------------------------------------------------------------


class IdentityModuleError(ModuleError, module=MODULE_INDEX):
    """A call failed with an error of the identity module."""


class BadDid(IdentityModuleError, code=identity_pb2.BAD_DID):
    """A DID is not a well-formed did:dcrm identifier."""


class DidAlreadyExists(IdentityModuleError, code=identity_pb2.DID_ALREADY_EXISTS):
    """A DID with this method-specific id was already created (pick another salt)."""


class DidNotFound(IdentityModuleError, code=identity_pb2.DID_NOT_FOUND):
    """No DID with this id exists."""


class DidDeactivated(IdentityModuleError, code=identity_pb2.DID_DEACTIVATED):
    """The DID is deactivated, permanently; it cannot change or act."""


class NotDidController(IdentityModuleError, code=identity_pb2.NOT_DID_CONTROLLER):
    """The sender is not a controller of the DID."""


class BadVerificationMethod(IdentityModuleError, code=identity_pb2.BAD_VERIFICATION_METHOD):
    """A verification method's fragment, type, key or relationships are invalid."""


class DuplicateFragment(IdentityModuleError, code=identity_pb2.DUPLICATE_FRAGMENT):
    """A verification method or service id is already used in the document."""


class UnknownFragment(IdentityModuleError, code=identity_pb2.UNKNOWN_FRAGMENT):
    """No verification method or service with this id is in the document."""


class BadService(IdentityModuleError, code=identity_pb2.BAD_SERVICE):
    """A service's fragment, type or endpoint is invalid or too long."""


class DocumentTooLarge(IdentityModuleError, code=identity_pb2.DOCUMENT_TOO_LARGE):
    """The document would exceed its bound of methods, services or controllers."""


class BadController(IdentityModuleError, code=identity_pb2.BAD_CONTROLLER):
    """A controller DID or account is malformed, repeated, unknown or deactivated."""


class NoController(IdentityModuleError, code=identity_pb2.NO_CONTROLLER):
    """The change would leave no account able to control the DID."""


class VersionMismatch(IdentityModuleError, code=identity_pb2.VERSION_MISMATCH):
    """expected_version is not the DID's current version (someone updated it first)."""


class BadUpdate(IdentityModuleError, code=identity_pb2.BAD_UPDATE):
    """An update has no operations, too many, or an empty operation."""


class IssuerAlreadyRegistered(IdentityModuleError, code=identity_pb2.ISSUER_ALREADY_REGISTERED):
    """The DID is already a registered issuer."""


class IssuerNotFound(IdentityModuleError, code=identity_pb2.ISSUER_NOT_FOUND):
    """The DID is not a registered issuer."""


class NotIssuer(IdentityModuleError, code=identity_pb2.NOT_ISSUER):
    """The DID acting as issuer is not a registered issuer."""


class BadSchema(IdentityModuleError, code=identity_pb2.BAD_SCHEMA):
    """A schema's name, version, attributes or content hash are invalid."""


class SchemaAlreadyExists(IdentityModuleError, code=identity_pb2.SCHEMA_ALREADY_EXISTS):
    """The issuer already registered this schema name and version."""


class SchemaNotFound(IdentityModuleError, code=identity_pb2.SCHEMA_NOT_FOUND):
    """No schema has this id."""


class BadStatusList(IdentityModuleError, code=identity_pb2.BAD_STATUS_LIST):
    """A status list id, purpose, size or status action is invalid."""


class StatusListAlreadyExists(IdentityModuleError, code=identity_pb2.STATUS_LIST_ALREADY_EXISTS):
    """The issuer already has a status list with this id."""


class StatusListNotFound(IdentityModuleError, code=identity_pb2.STATUS_LIST_NOT_FOUND):
    """The issuer has no status list with this id."""


class IndexOutOfRange(IdentityModuleError, code=identity_pb2.INDEX_OUT_OF_RANGE):
    """A status index is not below the list's size."""


class WrongPurpose(IdentityModuleError, code=identity_pb2.WRONG_PURPOSE):
    """The action does not fit the list's purpose (revoke on a suspension list, ...)."""


class RevocationPermanent(IdentityModuleError, code=identity_pb2.REVOCATION_PERMANENT):
    """A revoked index can never be cleared."""


class StatusUnchanged(IdentityModuleError, code=identity_pb2.STATUS_UNCHANGED):
    """The index already has the status the action sets."""


class BadSalt(IdentityModuleError, code=identity_pb2.BAD_SALT):
    """A DID creation salt is empty or longer than 32 bytes."""


class BadResolutionPoint(IdentityModuleError, code=identity_pb2.BAD_RESOLUTION_POINT):
    """A historical resolution names neither a height nor a time."""


# -- what the API needs from a client and an account ---------------------------------------------------------


class QueryClient(Protocol):
    """Answers module queries (Client does)."""

    def query(
        self, module: str, method: str, request: Message, result_type: type[R], *, timeout: float | None = None
    ) -> R: ...


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


# -- building documents and updates --------------------------------------------------------------------------


def verification_method(
    fragment: str,
    public_key: bytes,
    *,
    authentication: bool = False,
    assertion_method: bool = False,
    key_agreement: bool = False,
    key_type: str = MULTIKEY,
) -> identity_pb2.VerificationMethod:
    """A secp256k1 verification method `<did>#<fragment>` with the relationships that reference it.

    Raises ValueError for a key type other than "Multikey" or "EcdsaSecp256k1VerificationKey2019".
    """
    if key_type not in KEY_TYPES:
        raise ValueError(f"key_type {key_type!r} must be one of {', '.join(KEY_TYPES)}")
    return identity_pb2.VerificationMethod(
        fragment=fragment,
        type=KEY_TYPES[key_type],
        public_key=public_key,
        authentication=authentication,
        assertion_method=assertion_method,
        key_agreement=key_agreement,
    )


def add_verification_method(
    fragment: str,
    public_key: bytes,
    *,
    authentication: bool = False,
    assertion_method: bool = False,
    key_agreement: bool = False,
    key_type: str = MULTIKEY,
) -> identity_pb2.DidOperation:
    """An update operation adding a verification method (see `verification_method`)."""
    method = verification_method(
        fragment,
        public_key,
        authentication=authentication,
        assertion_method=assertion_method,
        key_agreement=key_agreement,
        key_type=key_type,
    )
    return identity_pb2.DidOperation(add_verification_method=identity_pb2.AddVerificationMethod(method=method))


def remove_verification_method(fragment: str) -> identity_pb2.DidOperation:
    """An update operation removing `<did>#<fragment>` and every relationship that references it."""
    return identity_pb2.DidOperation(
        remove_verification_method=identity_pb2.RemoveVerificationMethod(fragment=fragment)
    )


def add_service(fragment: str, service_type: str, endpoint: str) -> identity_pb2.DidOperation:
    """An update operation adding a service (an organisation's https URL or a DID URL; never personal data)."""
    service = identity_pb2.Service(fragment=fragment, type=service_type, endpoint=endpoint)
    return identity_pb2.DidOperation(add_service=identity_pb2.AddService(service=service))


def remove_service(fragment: str) -> identity_pb2.DidOperation:
    return identity_pb2.DidOperation(remove_service=identity_pb2.RemoveService(fragment=fragment))


def set_controllers(controllers: Sequence[str]) -> identity_pb2.DidOperation:
    """An update operation replacing the controller DIDs (an empty list: the DID controls itself)."""
    return identity_pb2.DidOperation(set_controllers=identity_pb2.SetControllers(controllers=controllers))


def set_controller_account(account_id: bytes | None) -> identity_pb2.DidOperation:
    """An update operation replacing the controlling account (None: no account, only controller keys)."""
    return identity_pb2.DidOperation(
        set_controller_account=identity_pb2.SetControllerAccount(account=account_id or b"")
    )


def schema_id(issuer_did: str, name: str, version: str) -> str:
    """The id of a schema: `<issuer did>/schemas/<name>/<version>`."""
    return f"{issuer_did}/schemas/{name}/{version}"


@dataclass(frozen=True)
class CreatedDid:
    did: str
    receipt: types_pb2.Receipt


# -- the API -------------------------------------------------------------------------------------------------


class IdentityApi:
    """Typed calls and queries of the identity module (available as `client.identity`).

    Every call waits for its commit and returns the receipt; with `check` (the default) a failed call raises
    its IdentityModuleError subclass. Queries answer from the node's committed state (unverified).
    """

    def __init__(self, client: QueryClient) -> None:
        self._client = client

    # -- DIDs ---------------------------------------------------------------------------------------------

    def create_did(
        self,
        account: Signer,
        public_key: bytes | None = None,
        *,
        salt: bytes | None = None,
        verification_methods: Sequence[identity_pb2.VerificationMethod] | None = None,
        services: Sequence[identity_pb2.Service] = (),
        controllers: Sequence[str] = (),
        timeout: float | None = None,
        check: bool = True,
    ) -> CreatedDid:
        """Create a DID controlled by `account`; returns it with the receipt.

        By default the document has one key, `#key-1` = `public_key`, in authentication and assertionMethod;
        pass `verification_methods` for another set. A random 16-byte salt makes a fresh, unlinkable
        identifier; for pairwise DIDs also use a fresh account per relationship, since the creating account
        is recorded as the controlling account. Raises ValueError for a bad salt, with `check` BadSalt,
        DidAlreadyExists, BadVerificationMethod, ... for a failed call.
        """
        salt = os.urandom(DEFAULT_SALT_BYTES) if salt is None else salt
        did = did_for(account.account_id, salt)
        if verification_methods is None:
            if public_key is None:
                raise ValueError("give the public key of #key-1 or the verification_methods")
            verification_methods = [
                verification_method("key-1", public_key, authentication=True, assertion_method=True)
            ]
        args = identity_pb2.CreateDid(
            salt=salt, verification_methods=verification_methods, services=services, controllers=controllers
        )
        receipt = account.submit_and_wait(MODULE_INDEX, CREATE_DID, args, timeout=timeout, check=check)
        return CreatedDid(did, receipt)

    def update_did(
        self,
        account: Signer,
        did: str,
        operations: Sequence[identity_pb2.DidOperation],
        *,
        expected_version: int = 0,
        timeout: float | None = None,
        check: bool = True,
    ) -> types_pb2.Receipt:
        """Apply `operations` (all or none) as one new version; `expected_version` guards against a lost update.

        With `check`, raises NotDidController, DidDeactivated, VersionMismatch, UnknownFragment, NoController, ...
        """
        args = identity_pb2.UpdateDid(did=did, expected_version=expected_version, operations=operations)
        return account.submit_and_wait(MODULE_INDEX, UPDATE_DID, args, timeout=timeout, check=check)

    def rotate_key(
        self,
        account: Signer,
        did: str,
        *,
        old_fragment: str,
        new_fragment: str,
        new_public_key: bytes,
        authentication: bool = True,
        assertion_method: bool = True,
        key_agreement: bool = False,
        expected_version: int = 0,
        timeout: float | None = None,
        check: bool = True,
    ) -> types_pb2.Receipt:
        """Add the new key and remove the old one in one version (DID Core's rotation)."""
        operations = [
            add_verification_method(
                new_fragment,
                new_public_key,
                authentication=authentication,
                assertion_method=assertion_method,
                key_agreement=key_agreement,
            ),
            remove_verification_method(old_fragment),
        ]
        return self.update_did(
            account, did, operations, expected_version=expected_version, timeout=timeout, check=check
        )

    def deactivate_did(
        self, account: Signer, did: str, *, timeout: float | None = None, check: bool = True
    ) -> types_pb2.Receipt:
        """Deactivate `did` for good. With `check`, raises NotDidController or DidDeactivated among others."""
        args = identity_pb2.DeactivateDid(did=did)
        return account.submit_and_wait(MODULE_INDEX, DEACTIVATE_DID, args, timeout=timeout, check=check)

    def resolve_version(
        self, did: str, *, at_height: int | None = None, at_time_ms: int | None = None
    ) -> identity_pb2.ResolveResult | None:
        """The stored version of `did` now, or in effect at a block height or time; None if it did not exist.

        Raises ValueError when both points are given, InvalidArgument for a malformed DID.
        """
        if at_height is not None and at_time_ms is not None:
            raise ValueError("give at_height or at_time, not both")
        try:
            if at_height is None and at_time_ms is None:
                return self._query("resolve", identity_pb2.ResolveQuery(did=did), identity_pb2.ResolveResult)
            request = identity_pb2.ResolveAtQuery(did=did)
            if at_height is not None:
                request.height = at_height
            else:
                request.timestamp_ms = at_time_ms or 0
            return self._query("resolve_at", request, identity_pb2.ResolveResult)
        except NotFound:
            return None

    def resolve(
        self, did: str, *, at_height: int | None = None, at_time: datetime | int | None = None
    ) -> dict[str, Any]:
        """The DID resolution result (DID Core 7.1): didDocument, didDocumentMetadata, didResolutionMetadata.

        `at_height` or `at_time` (a timezone-aware datetime or milliseconds) resolve the version in effect
        then. A DID that does not exist (then) yields didResolutionMetadata {"error": "notFound"}.
        """
        at_time_ms = None if at_time is None else time_ms(at_time, "at_time")
        result = self.resolve_version(did, at_height=at_height, at_time_ms=at_time_ms)
        if result is None:
            return {"didDocument": None, "didDocumentMetadata": {}, "didResolutionMetadata": {"error": "notFound"}}
        return {
            "didDocument": render_document(result.current.document),
            "didDocumentMetadata": render_metadata(result),
            "didResolutionMetadata": {"contentType": "application/did+json"},
        }

    # -- issuers and schemas -----------------------------------------------------------------------------

    def register_issuer(
        self, admin: Signer, did: str, *, timeout: float | None = None, check: bool = True
    ) -> types_pb2.Receipt:
        """An admin registers `did` as a credential issuer. Rejected (PermissionDenied) for non-admins."""
        args = identity_pb2.RegisterIssuer(did=did)
        return admin.submit_and_wait(MODULE_INDEX, REGISTER_ISSUER, args, timeout=timeout, check=check)

    def remove_issuer(
        self, admin: Signer, did: str, *, timeout: float | None = None, check: bool = True
    ) -> types_pb2.Receipt:
        """An admin removes the issuer `did`; its credentials stop verifying (issuer_not_registered)."""
        args = identity_pb2.RemoveIssuer(did=did)
        return admin.submit_and_wait(MODULE_INDEX, REMOVE_ISSUER, args, timeout=timeout, check=check)

    def issuer(self, did: str) -> identity_pb2.IssuerRecord | None:
        """The issuer record of `did`, or None when it is not a registered issuer."""
        try:
            return self._query("issuer", identity_pb2.IssuerQuery(did=did), identity_pb2.IssuerResult).issuer
        except NotFound:
            return None

    def register_schema(
        self,
        account: Signer,
        issuer_did: str,
        name: str,
        version: str,
        attributes: Sequence[str],
        content: bytes | str,
        *,
        timeout: float | None = None,
        check: bool = True,
    ) -> str:
        """Register a schema of `issuer_did`; returns its id. `content` is the schema document (kept off chain;
        its sha256 goes on chain) or, as 32 bytes, that hash. With `check`, raises NotIssuer, BadSchema, ..."""
        content_hash = content if isinstance(content, bytes) and len(content) == 32 else None
        if content_hash is None:
            content_hash = sha256(content.encode() if isinstance(content, str) else content)
        args = identity_pb2.RegisterSchema(
            issuer_did=issuer_did, name=name, version=version, attributes=attributes, content_hash=content_hash
        )
        account.submit_and_wait(MODULE_INDEX, REGISTER_SCHEMA, args, timeout=timeout, check=check)
        return schema_id(issuer_did, name, version)

    def schema(self, schema_id: str) -> identity_pb2.SchemaRecord | None:
        """The registered schema with this id, or None."""
        try:
            request = identity_pb2.SchemaQuery(schema_id=schema_id)
            return self._query("schema", request, identity_pb2.SchemaResult).schema
        except NotFound:
            return None

    # -- status lists ------------------------------------------------------------------------------------

    def create_status_list(
        self,
        account: Signer,
        issuer_did: str,
        list_id: str,
        purpose: str = "revocation",
        size: int = DEFAULT_STATUS_LIST_SIZE,
        *,
        timeout: float | None = None,
        check: bool = True,
    ) -> types_pb2.Receipt:
        """Create the issuer's status list `list_id` for "revocation" or "suspension" with `size` entries."""
        if purpose not in _PURPOSES:
            raise ValueError(f"purpose {purpose!r} must be revocation or suspension")
        args = identity_pb2.CreateStatusList(
            issuer_did=issuer_did, list_id=list_id, purpose=_PURPOSES[purpose], size=size
        )
        return account.submit_and_wait(MODULE_INDEX, CREATE_STATUS_LIST, args, timeout=timeout, check=check)

    def _set_status(
        self,
        account: Signer,
        issuer_did: str,
        list_id: str,
        index: int,
        action: identity_pb2.StatusAction.ValueType,
        timeout: float | None,
        check: bool,
    ) -> types_pb2.Receipt:
        args = identity_pb2.UpdateCredentialStatus(issuer_did=issuer_did, list_id=list_id, index=index, action=action)
        return account.submit_and_wait(MODULE_INDEX, UPDATE_CREDENTIAL_STATUS, args, timeout=timeout, check=check)

    def revoke(
        self,
        account: Signer,
        issuer_did: str,
        list_id: str,
        index: int,
        *,
        timeout: float | None = None,
        check: bool = True,
    ) -> types_pb2.Receipt:
        """Revoke `index` of a revocation list, permanently. With `check`, raises StatusUnchanged when it
        already is, WrongPurpose on a suspension list, NotIssuer / NotDidController for anyone else."""
        return self._set_status(account, issuer_did, list_id, index, identity_pb2.REVOKE, timeout, check)

    def suspend(
        self,
        account: Signer,
        issuer_did: str,
        list_id: str,
        index: int,
        *,
        timeout: float | None = None,
        check: bool = True,
    ) -> types_pb2.Receipt:
        """Suspend `index` of a suspension list."""
        return self._set_status(account, issuer_did, list_id, index, identity_pb2.SUSPEND, timeout, check)

    def unsuspend(
        self,
        account: Signer,
        issuer_did: str,
        list_id: str,
        index: int,
        *,
        timeout: float | None = None,
        check: bool = True,
    ) -> types_pb2.Receipt:
        """Clear `index` of a suspension list (RevocationPermanent on a revocation list)."""
        return self._set_status(account, issuer_did, list_id, index, identity_pb2.UNSUSPEND, timeout, check)

    def status_list(self, issuer_did: str, list_id: str) -> identity_pb2.StatusListResult | None:
        """The list's metadata and raw bits (size / 8 bytes), or None when the issuer has no such list."""
        try:
            request = identity_pb2.StatusListQuery(issuer_did=issuer_did, list_id=list_id)
            return self._query("status_list", request, identity_pb2.StatusListResult)
        except NotFound:
            return None

    def status(self, issuer_did: str, list_id: str, index: int) -> bool:
        """Whether `index` is set (revoked or suspended). Raises NotFound when the list does not exist and
        InvalidArgument for an index past its size. Verifiers should prefer `status_list` (herd privacy)."""
        request = identity_pb2.StatusQuery(issuer_did=issuer_did, list_id=list_id, index=index)
        return self._query("status", request, identity_pb2.StatusResult).set

    def status_list_credential(self, issuer_did: str, list_id: str) -> dict[str, Any] | None:
        """The list as BitstringStatusListCredential-shaped JSON (encodedList = base64url GZIP), or None."""
        found = self.status_list(issuer_did, list_id)
        return None if found is None else status_list_credential(found)

    # -- credentials -------------------------------------------------------------------------------------

    def verify_credential(self, credential: Mapping[str, Any], *, now: datetime | None = None) -> VerifiedCredential:
        """Verify a credential against this chain (see `check_credential`); raises CredentialInvalid."""
        return check_credential(self, credential, now=now)

    def _query(self, method: str, request: Message, result_type: type[R]) -> R:
        return self._client.query(MODULE_NAME, method, request, result_type)


def verify_credential(
    client: QueryClient, credential: Mapping[str, Any], *, now: datetime | None = None
) -> VerifiedCredential:
    """Verify `credential` with the identity queries of `client`: its proof against the issuer's key as of
    validFrom, the issuer, its validity dates at `now`, its status bits and its schema.

    Raises CredentialInvalid whose `reason` (a VerificationFailure) names the check that failed, and RpcError
    subclasses when the node cannot answer.
    """
    return check_credential(IdentityApi(client), credential, now=now)
