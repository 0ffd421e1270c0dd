"""Identity module calls: thin handlers that check, mutate and emit."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from dcrm.runtime.module import CallContext, CallDef
from dcrm.runtime.modules.identity import did as did_syntax
from dcrm.runtime.modules.identity import documents, errors, history, status
from dcrm.runtime.modules.identity.storage import ISSUERS, SCHEMAS, STATUS_LISTS, list_key, schema_key
from dcrm.runtime.modules.system import roles
from dcrm.runtime.state.kv import KVReader
from dcrm.v1 import identity_pb2

MAX_ATTRIBUTES = 64
ATTRIBUTE_RE = re.compile("[A-Za-z_][A-Za-z0-9_]{0,63}")
RESERVED_ATTRIBUTES = frozenset({"id"})  # credentialSubject.id is the holder's DID, never a claim
CONTENT_HASH_BYTES = 32
ACTIONS = (identity_pb2.REVOKE, identity_pb2.SUSPEND, identity_pb2.UNSUSPEND)

# --- DIDs -------------------------------------------------------------------------------------------


def check_create_did(args: identity_pb2.CreateDid) -> None:
    did_syntax.check_salt(args.salt)
    documents.check_document_parts(args.verification_methods, args.services, args.controllers)


def create_did(ctx: CallContext, args: identity_pb2.CreateDid) -> None:
    did = did_syntax.derive_did(ctx.origin, args.salt)
    if history.latest_version(ctx.state, did_syntax.method_specific_id(did)):
        raise errors.DID_ALREADY_EXISTS(f"{did} (from this sender and salt) already exists; choose another salt")
    _check_controller_dids(ctx.state, args.controllers, did)
    document = identity_pb2.DidDocument(
        id=did,
        controllers=args.controllers,
        verification_methods=args.verification_methods,
        services=args.services,
    )
    first = identity_pb2.DidVersion(
        document=document,
        version=1,
        height=ctx.block.height,
        timestamp_ms=ctx.block.timestamp_ms,
        created_height=ctx.block.height,
        created_ms=ctx.block.timestamp_ms,
        controller_account=ctx.origin,
    )
    history.write_first(ctx, first)
    ctx.emit(identity_pb2.DidCreated(did=did, created_by=ctx.origin, version=1))


def check_update_did(args: identity_pb2.UpdateDid) -> None:
    did_syntax.method_specific_id(args.did)
    documents.check_operations(args.operations)


def update_did(ctx: CallContext, args: identity_pb2.UpdateDid) -> None:
    previous = history.active(ctx.state, args.did)
    if args.expected_version and args.expected_version != previous.version:
        raise errors.VERSION_MISMATCH(
            f"expected_version is {args.expected_version}, {args.did} is at version {previous.version}"
        )
    history.ensure_controller(ctx.state, previous, ctx.origin, "update_did")
    updated = identity_pb2.DidVersion()
    updated.CopyFrom(previous)
    documents.apply_operations(updated, args.operations)
    if any(operation.HasField("set_controllers") for operation in args.operations):
        _check_controller_dids(ctx.state, updated.document.controllers, args.did)
    documents.check_controllable(updated)
    version = history.write_next(ctx, previous, updated)
    ctx.emit(
        identity_pb2.DidUpdated(did=args.did, updated_by=ctx.origin, version=version, operations=len(args.operations))
    )


def check_deactivate_did(args: identity_pb2.DeactivateDid) -> None:
    did_syntax.method_specific_id(args.did)


def deactivate_did(ctx: CallContext, args: identity_pb2.DeactivateDid) -> None:
    previous = history.active(ctx.state, args.did)
    history.ensure_controller(ctx.state, previous, ctx.origin, "deactivate_did")
    # The final version keeps no keys or services: nothing can be verified against a deactivated DID now,
    # while earlier versions still answer "which key was valid then".
    final = identity_pb2.DidVersion(
        document=identity_pb2.DidDocument(id=args.did),
        deactivated=True,
        controller_account=previous.controller_account,
    )
    version = history.write_next(ctx, previous, final)
    ctx.emit(identity_pb2.DidDeactivated(did=args.did, deactivated_by=ctx.origin, version=version))


def _check_controller_dids(state: KVReader, controllers: Sequence[str], own_did: str) -> None:
    for position, controller in enumerate(controllers):
        if controller == own_did:
            continue
        msid = did_syntax.method_specific_id(controller, f"controllers[{position}]")
        newest = history.latest_version(state, msid)
        if newest == 0:
            raise errors.BAD_CONTROLLER(f"controllers[{position}] {controller} does not exist")
        if history.version(state, msid, newest).deactivated:
            raise errors.BAD_CONTROLLER(f"controllers[{position}] {controller} is deactivated")


# --- issuers ----------------------------------------------------------------------------------------


def check_issuer_args(args: identity_pb2.RegisterIssuer | identity_pb2.RemoveIssuer) -> None:
    did_syntax.method_specific_id(args.did)


def register_issuer(ctx: CallContext, args: identity_pb2.RegisterIssuer) -> None:
    history.active(ctx.state, args.did)
    msid = did_syntax.method_specific_id(args.did)
    if ISSUERS.contains(ctx.state, msid.encode()):
        raise errors.ISSUER_ALREADY_REGISTERED(f"{args.did} is already a registered issuer")
    record = identity_pb2.IssuerRecord(
        did=args.did, registered_by=ctx.origin, height=ctx.block.height, timestamp_ms=ctx.block.timestamp_ms
    )
    ISSUERS.put(ctx.state, msid.encode(), record)
    ctx.emit(identity_pb2.IssuerRegistered(did=args.did, registered_by=ctx.origin))


def remove_issuer(ctx: CallContext, args: identity_pb2.RemoveIssuer) -> None:
    msid = did_syntax.method_specific_id(args.did)
    if not ISSUERS.contains(ctx.state, msid.encode()):
        raise errors.ISSUER_NOT_FOUND(f"{args.did} is not a registered issuer")
    ISSUERS.delete(ctx.state, msid.encode())
    ctx.emit(identity_pb2.IssuerRemoved(did=args.did, removed_by=ctx.origin))


def acting_issuer(ctx: CallContext, issuer_did: str, action: str) -> str:
    """The issuer's method-specific id, once the sender is shown to act for an active, registered issuer."""
    subject = history.active(ctx.state, issuer_did, "issuer_did")
    msid = did_syntax.method_specific_id(issuer_did, "issuer_did")
    if not ISSUERS.contains(ctx.state, msid.encode()):
        raise errors.NOT_ISSUER(f"issuer_did {issuer_did} is not a registered issuer; {action} is for issuers")
    history.ensure_controller(ctx.state, subject, ctx.origin, action)
    return msid


# --- schemas ----------------------------------------------------------------------------------------


def check_register_schema(args: identity_pb2.RegisterSchema) -> None:
    did_syntax.method_specific_id(args.issuer_did, "issuer_did")
    for field, value in (("name", args.name), ("version", args.version)):
        if did_syntax.NAME_RE.fullmatch(value) is None:
            raise errors.BAD_SCHEMA(
                f"{field} {value[:70]!r} must be 1 to 64 of A-Z a-z 0-9 . _ - starting alphanumeric"
            )
    check_attributes(args.attributes)
    if len(args.content_hash) != CONTENT_HASH_BYTES:
        raise errors.BAD_SCHEMA(
            f"content_hash must be the {CONTENT_HASH_BYTES}-byte sha256 of the schema, "
            f"got {len(args.content_hash)} bytes"
        )


def check_attributes(attributes: Sequence[str]) -> None:
    if not 1 <= len(attributes) <= MAX_ATTRIBUTES:
        raise errors.BAD_SCHEMA(f"attributes has {len(attributes)} names, expected 1 to {MAX_ATTRIBUTES}")
    for position, name in enumerate(attributes):
        if ATTRIBUTE_RE.fullmatch(name) is None or name in RESERVED_ATTRIBUTES:
            raise errors.BAD_SCHEMA(
                f"attributes[{position}] {name[:70]!r} must be 1 to 64 of A-Z a-z 0-9 _ not starting with a digit, "
                "and not 'id'"
            )
    if len(set(attributes)) != len(attributes):
        raise errors.BAD_SCHEMA("attributes lists a name twice")


def register_schema(ctx: CallContext, args: identity_pb2.RegisterSchema) -> None:
    msid = acting_issuer(ctx, args.issuer_did, "register_schema")
    key = schema_key(msid, args.name, args.version)
    schema_id = did_syntax.schema_id(args.issuer_did, args.name, args.version)
    if SCHEMAS.contains(ctx.state, key):
        raise errors.SCHEMA_ALREADY_EXISTS(f"{schema_id} is already registered; schemas never change")
    record = identity_pb2.SchemaRecord(
        id=schema_id,
        issuer_did=args.issuer_did,
        name=args.name,
        version=args.version,
        attributes=args.attributes,
        content_hash=args.content_hash,
        height=ctx.block.height,
        timestamp_ms=ctx.block.timestamp_ms,
    )
    SCHEMAS.put(ctx.state, key, record)
    ctx.emit(
        identity_pb2.SchemaRegistered(schema_id=schema_id, issuer_did=args.issuer_did, content_hash=args.content_hash)
    )


# --- status lists -----------------------------------------------------------------------------------


def check_create_status_list(args: identity_pb2.CreateStatusList) -> None:
    did_syntax.method_specific_id(args.issuer_did, "issuer_did")
    status.check_list_id(args.list_id)
    status.check_list_shape(args.purpose, args.size)


def create_status_list(ctx: CallContext, args: identity_pb2.CreateStatusList) -> None:
    msid = acting_issuer(ctx, args.issuer_did, "create_status_list")
    key = list_key(msid, args.list_id)
    if STATUS_LISTS.contains(ctx.state, key):
        raise errors.STATUS_LIST_ALREADY_EXISTS(f"{args.issuer_did} already has status list {args.list_id!r}")
    height, now = ctx.block.height, ctx.block.timestamp_ms
    record = identity_pb2.StatusListRecord(
        issuer_did=args.issuer_did,
        list_id=args.list_id,
        purpose=args.purpose,
        size=args.size,
        created_height=height,
        created_ms=now,
        updated_height=height,
        updated_ms=now,
    )
    STATUS_LISTS.put(ctx.state, key, record)
    ctx.emit(
        identity_pb2.StatusListCreated(
            issuer_did=args.issuer_did, list_id=args.list_id, purpose=args.purpose, size=args.size
        )
    )


def check_update_credential_status(args: identity_pb2.UpdateCredentialStatus) -> None:
    did_syntax.method_specific_id(args.issuer_did, "issuer_did")
    status.check_list_id(args.list_id)
    if args.action not in ACTIONS:
        raise errors.BAD_STATUS_LIST(f"action {args.action} must be REVOKE (1), SUSPEND (2) or UNSUSPEND (3)")


def update_credential_status(ctx: CallContext, args: identity_pb2.UpdateCredentialStatus) -> None:
    msid = acting_issuer(ctx, args.issuer_did, "update_credential_status")
    key = list_key(msid, args.list_id)
    record = STATUS_LISTS.get(ctx.state, key)
    if record is None:
        raise errors.STATUS_LIST_NOT_FOUND(f"{args.issuer_did} has no status list {args.list_id!r}")
    if args.index >= record.size:
        raise errors.INDEX_OUT_OF_RANGE(f"index {args.index} is not below list {args.list_id!r}'s size {record.size}")
    is_set = status.get_bit(ctx.state, msid, args.list_id, args.index)
    target = _check_transition(record, args.index, args.action, is_set)
    status.set_bit(ctx.state, msid, args.list_id, args.index, target)
    record.updated_height = ctx.block.height
    record.updated_ms = ctx.block.timestamp_ms
    STATUS_LISTS.put(ctx.state, key, record)
    ctx.emit(
        identity_pb2.CredentialStatusChanged(
            issuer_did=args.issuer_did,
            list_id=args.list_id,
            index=args.index,
            action=args.action,
            changed_by=ctx.origin,
        )
    )


def _check_transition(
    record: identity_pb2.StatusListRecord, index: int, action: identity_pb2.StatusAction.ValueType, is_set: bool
) -> bool:
    """The bit's new value; raises when the action does not fit the list or changes nothing."""
    name = identity_pb2.StatusAction.Name(action)
    revocation = record.purpose == identity_pb2.REVOCATION
    if action == identity_pb2.UNSUSPEND and revocation:
        raise errors.REVOCATION_PERMANENT(
            f"list {record.list_id!r} is a revocation list: its entries are never cleared"
        )
    if (action == identity_pb2.REVOKE) != revocation:
        kind = "revocation" if revocation else "suspension"
        raise errors.WRONG_PURPOSE(f"{name} does not apply to {record.list_id!r}, which is a {kind} list")
    target = action != identity_pb2.UNSUSPEND
    if is_set == target:
        state = {identity_pb2.REVOKE: "revoked", identity_pb2.SUSPEND: "suspended"}.get(action, "not suspended")
        raise errors.STATUS_UNCHANGED(f"index {index} of list {record.list_id!r} is already {state}")
    return target


CALLS: tuple[CallDef[Any], ...] = (
    CallDef(0, "create_did", identity_pb2.CreateDid, create_did, None, check_create_did),
    CallDef(1, "update_did", identity_pb2.UpdateDid, update_did, None, check_update_did),
    CallDef(2, "deactivate_did", identity_pb2.DeactivateDid, deactivate_did, None, check_deactivate_did),
    CallDef(3, "register_issuer", identity_pb2.RegisterIssuer, register_issuer, roles.ADMIN, check_issuer_args),
    CallDef(4, "remove_issuer", identity_pb2.RemoveIssuer, remove_issuer, roles.ADMIN, check_issuer_args),
    CallDef(5, "register_schema", identity_pb2.RegisterSchema, register_schema, None, check_register_schema),
    CallDef(6, "create_status_list", identity_pb2.CreateStatusList, create_status_list, None, check_create_status_list),
    CallDef(
        7,
        "update_credential_status",
        identity_pb2.UpdateCredentialStatus,
        update_credential_status,
        None,
        check_update_credential_status,
    ),
)
