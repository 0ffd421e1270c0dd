"""Consent module calls: thin handlers that check the caller and the record, then revise it and emit.

Subjects and controllers are did:dcrm DIDs; the identity module decides who acts for them (`identity.lookup`).
Who may call: an account that controls an active subject DID grants, accepts, refuses, renews and withdraws for
it; an account with the system role "controller" that controls an active controller DID requests consent, ends
it and logs access under it. Control is checked at each call, so it follows the DID when its keys rotate.
"""

from __future__ import annotations

from typing import Any

from dcrm.runtime.module import CallContext, CallDef
from dcrm.runtime.modules.consent import errors, records, rules
from dcrm.runtime.modules.consent.records import GIVEN, Moment, Stored
from dcrm.runtime.modules.consent.storage import ACCESS, ACCESS_SEQ, RECORDS, access_key
from dcrm.runtime.modules.identity import lookup
from dcrm.runtime.modules.identity.lookup import DidStatus
from dcrm.runtime.modules.system import roles
from dcrm.runtime.state.kv import KVReader
from dcrm.v1 import consent_pb2


def _moment(ctx: CallContext) -> Moment:
    return Moment(ctx.block.timestamp_ms, ctx.block.height, ctx.origin)


def _ensure_active(state: KVReader, did: str, field: str) -> None:
    """UnknownDid or DeactivatedDid unless `did` is an active DID of the identity module."""
    status = lookup.did_status(state, did)
    if status is DidStatus.UNKNOWN:
        raise errors.UNKNOWN_DID(f"{field} {did} does not exist; create it with identity create_did first")
    if status is DidStatus.DEACTIVATED:
        raise errors.DEACTIVATED_DID(f"{field} {did} is deactivated and can no longer act")


def _ensure_subject(state: KVReader, did: str, account: bytes, who: str) -> None:
    """`did` is active and `account` (described by `who`) controls it; else UnknownDid, DeactivatedDid, NotSubject."""
    _ensure_active(state, did, "subject")
    if not lookup.controls(state, did, account):
        raise errors.NOT_SUBJECT(
            f"{who} {account.hex()} does not control subject {did} (its controlling account or an "
            "authentication key of a controller DID does)"
        )


def _ensure_controller(state: KVReader, did: str, account: bytes) -> None:
    """`did` is active and the caller `account` controls it; else UnknownDid, DeactivatedDid, NotController."""
    _ensure_active(state, did, "controller")
    if not lookup.controls(state, did, account):
        raise errors.NOT_CONTROLLER(
            f"the caller {account.hex()} does not control controller {did} (its controlling account or an "
            "authentication key of a controller DID does)"
        )


def _granted_controller_account(state: KVReader, did: str) -> bytes:
    """The account that a grant to controller `did` records: the active DID's controlling account, which must hold
    the role "controller". Raises UnknownDid, DeactivatedDid or ControllerNotRegistered."""
    _ensure_active(state, did, "controller")
    account = lookup.controlling_account(state, did)
    if account is None:
        raise errors.CONTROLLER_NOT_REGISTERED(
            f"controller {did} has no controlling account, so no account with the role 'controller' speaks for it"
        )
    if not roles.has_role(state, account, roles.CONTROLLER):
        raise errors.CONTROLLER_NOT_REGISTERED(
            f"controller {did} is controlled by account {account.hex()}, which does not hold the role 'controller'"
        )
    return account


def _as_subject(ctx: CallContext, record_id: bytes) -> Stored:
    stored = records.require(ctx.state, record_id)
    _ensure_subject(ctx.state, stored.record.subject, ctx.origin, "the caller")
    return stored


def _as_controller(ctx: CallContext, record_id: bytes) -> Stored:
    stored = records.require(ctx.state, record_id)
    _ensure_controller(ctx.state, stored.record.controller, ctx.origin)
    return stored


def _emit_revision(ctx: CallContext, event_type: type[Any], revised: Stored, **extra: int) -> None:
    """Emit a state-change event: the record's ids, its new revision and that revision's hash."""
    record = revised.record
    ctx.emit(
        event_type(
            record_id=record.record_id,
            subject=record.subject,
            controller=record.controller,
            revision=record.revision,
            revision_hash=revised.hash,
            **extra,
        )
    )


def _ensure_unexpired(stored: Stored, now_ms: int, action: str) -> None:
    record = stored.record
    if record.valid_until_ms <= now_ms:
        raise errors.RECORD_EXPIRED(
            f"{action}: record {record.record_id.hex()} was valid until {record.valid_until_ms}, "
            f"the block time is {now_ms}"
        )


def _new_record(ctx: CallContext, client_ref: bytes, state: int) -> consent_pb2.ConsentRecord:
    record_id = records.record_id_for(ctx.origin, client_ref)
    if RECORDS.contains(ctx.state, record_id):
        raise errors.RECORD_EXISTS(
            f"account {ctx.origin.hex()} already made record {record_id.hex()} with client_ref {client_ref.hex()}"
        )
    now = ctx.block.timestamp_ms
    return consent_pb2.ConsentRecord(
        record_id=record_id,
        schema_version=records.SCHEMA_VERSION,
        state=state,  # type: ignore[arg-type]
        revision=0,
        event_time_ms=now,
        event_height=ctx.block.height,
        changed_by=ctx.origin,
        created_ms=now,
    )


# --- call 0 (register_controller) is retired: controller DIDs are identity DIDs -----------------------

# --- call 1: request ------------------------------------------------------------------------------


def check_request(args: consent_pb2.RequestConsent) -> None:
    rules.check_client_ref(args.client_ref)
    rules.check_dcrm_did(args.subject, "subject")
    rules.check_account(args.subject_account, "subject_account")
    rules.check_dcrm_did(args.controller, "controller")
    rules.check_terms(args.terms)


def request(ctx: CallContext, args: consent_pb2.RequestConsent) -> None:
    _ensure_controller(ctx.state, args.controller, ctx.origin)
    _ensure_subject(ctx.state, args.subject, args.subject_account, "subject_account")
    rules.check_validity(args.valid_until_ms, ctx.block.timestamp_ms)
    record = _new_record(ctx, args.client_ref, records.REQUESTED)
    record.subject = args.subject
    record.subject_account = args.subject_account
    record.controller = args.controller
    record.controller_account = ctx.origin
    record.terms.CopyFrom(args.terms)
    record.valid_until_ms = args.valid_until_ms
    stored = records.create(ctx.state, record)
    ctx.emit(
        consent_pb2.ConsentRequested(
            record_id=record.record_id,
            subject=record.subject,
            controller=record.controller,
            revision=0,
            revision_hash=stored.hash,
            valid_until_ms=record.valid_until_ms,
        )
    )


# --- call 2: grant --------------------------------------------------------------------------------


def check_grant(args: consent_pb2.GrantConsent) -> None:
    rules.check_client_ref(args.client_ref)
    rules.check_dcrm_did(args.subject, "subject")
    rules.check_dcrm_did(args.controller, "controller")
    rules.check_terms(args.terms)


def grant(ctx: CallContext, args: consent_pb2.GrantConsent) -> None:
    controller_account = _granted_controller_account(ctx.state, args.controller)
    _ensure_subject(ctx.state, args.subject, ctx.origin, "the caller")
    rules.check_validity(args.valid_until_ms, ctx.block.timestamp_ms)
    record = _new_record(ctx, args.client_ref, GIVEN)
    record.subject = args.subject
    record.subject_account = ctx.origin
    record.controller = args.controller
    record.controller_account = controller_account
    record.terms.CopyFrom(args.terms)
    record.valid_from_ms = ctx.block.timestamp_ms
    record.valid_until_ms = args.valid_until_ms
    _emit_given(ctx, records.create(ctx.state, record))


def _emit_given(ctx: CallContext, stored: Stored) -> None:
    _emit_revision(ctx, consent_pb2.ConsentGiven, stored, valid_until_ms=stored.record.valid_until_ms)


# --- call 3: grant_request ------------------------------------------------------------------------


def check_grant_request(args: consent_pb2.GrantRequest) -> None:
    rules.check_record_id(args.record_id)
    rules.check_codes(args.purposes, "purposes", minimum=0, maximum=rules.MAX_PURPOSES)
    rules.check_codes(args.data_categories, "data_categories", minimum=0, maximum=rules.MAX_DATA_CATEGORIES)


def grant_request(ctx: CallContext, args: consent_pb2.GrantRequest) -> None:
    stored = _as_subject(ctx, args.record_id)
    records.ensure_transition(stored.record, GIVEN, "grant_request")
    now = ctx.block.timestamp_ms
    _ensure_unexpired(stored, now, "grant_request")
    requested = stored.record.valid_until_ms
    valid_until = args.valid_until_ms or requested
    if valid_until > requested:
        raise errors.BAD_VALIDITY(f"valid_until_ms {valid_until} is later than the requested {requested}")
    rules.check_validity(valid_until, now)
    terms = _accepted_terms(stored.record.terms, args)
    given = records.revise(
        ctx.state, stored, GIVEN, _moment(ctx), action="grant_request", valid_until_ms=valid_until, terms=terms
    )
    _emit_given(ctx, given)


def _accepted_terms(requested: consent_pb2.Terms, args: consent_pb2.GrantRequest) -> consent_pb2.Terms:
    """The requested terms narrowed to the purposes and data categories the subject accepts."""
    terms = consent_pb2.Terms()
    terms.CopyFrom(requested)
    if args.purposes:
        by_id = {purpose.id: purpose for purpose in requested.purposes}
        for position, purpose_id in enumerate(args.purposes):
            if purpose_id not in by_id:
                raise errors.NOT_REQUESTED(f"purposes[{position}] {purpose_id!r} was not requested")
        del terms.purposes[:]
        terms.purposes.extend(by_id[purpose_id] for purpose_id in args.purposes)
    if args.data_categories:
        by_id_category = {category.id: category for category in requested.data_categories}
        for position, category_id in enumerate(args.data_categories):
            if category_id not in by_id_category:
                raise errors.NOT_REQUESTED(f"data_categories[{position}] {category_id!r} was not requested")
        del terms.data_categories[:]
        terms.data_categories.extend(by_id_category[category_id] for category_id in args.data_categories)
    return terms


# --- calls 4-8: refuse, renew, withdraw, terminate, invalidate ----------------------------------------


def check_record_args(
    args: consent_pb2.RefuseRequest
    | consent_pb2.WithdrawConsent
    | consent_pb2.TerminateConsent
    | consent_pb2.InvalidateConsent
    | consent_pb2.RenewConsent,
) -> None:
    rules.check_record_id(args.record_id)


def refuse(ctx: CallContext, args: consent_pb2.RefuseRequest) -> None:
    stored = _as_subject(ctx, args.record_id)
    refused = records.revise(ctx.state, stored, records.REFUSED, _moment(ctx), action="refuse")
    _emit_revision(ctx, consent_pb2.ConsentRefused, refused)


def renew(ctx: CallContext, args: consent_pb2.RenewConsent) -> None:
    stored = _as_subject(ctx, args.record_id)
    records.ensure_transition(stored.record, records.RENEWED, "renew")
    now = ctx.block.timestamp_ms
    _ensure_unexpired(stored, now, "renew")
    current = stored.record.valid_until_ms
    if args.valid_until_ms <= current:
        raise errors.BAD_VALIDITY(f"valid_until_ms {args.valid_until_ms} does not extend the current {current}")
    rules.check_validity(args.valid_until_ms, now)
    renewed = records.revise(
        ctx.state, stored, records.RENEWED, _moment(ctx), action="renew", valid_until_ms=args.valid_until_ms
    )
    _emit_revision(ctx, consent_pb2.ConsentRenewed, renewed, valid_until_ms=renewed.record.valid_until_ms)


def withdraw(ctx: CallContext, args: consent_pb2.WithdrawConsent) -> None:
    stored = _as_subject(ctx, args.record_id)
    withdrawn = records.revise(ctx.state, stored, records.WITHDRAWN, _moment(ctx), action="withdraw")
    _emit_revision(ctx, consent_pb2.ConsentWithdrawn, withdrawn)


def terminate(ctx: CallContext, args: consent_pb2.TerminateConsent) -> None:
    stored = _as_controller(ctx, args.record_id)
    terminated = records.revise(ctx.state, stored, records.TERMINATED, _moment(ctx), action="terminate")
    _emit_revision(ctx, consent_pb2.ConsentTerminated, terminated)


def invalidate(ctx: CallContext, args: consent_pb2.InvalidateConsent) -> None:
    stored = _as_controller(ctx, args.record_id)
    invalidated = records.revise(ctx.state, stored, records.INVALIDATED, _moment(ctx), action="invalidate")
    _emit_revision(ctx, consent_pb2.ConsentInvalidated, invalidated)


# --- call 9: log_access ---------------------------------------------------------------------------


def check_log_access(args: consent_pb2.LogAccess) -> None:
    rules.check_record_id(args.record_id)
    rules.check_token(args.purpose, "purpose")
    rules.check_codes(args.data_categories, "data_categories", minimum=1, maximum=rules.MAX_DATA_CATEGORIES)
    rules.check_accessor(args.accessor)


def log_access(ctx: CallContext, args: consent_pb2.LogAccess) -> None:
    stored = _as_controller(ctx, args.record_id)
    record = stored.record
    if record.state not in rules.VALID_STATES:
        raise errors.CONSENT_NOT_VALID(
            f"record {record.record_id.hex()} is {rules.state_name(record.state)}; "
            "personal data may be used only under a given or renewed consent"
        )
    _ensure_unexpired(stored, ctx.block.timestamp_ms, "log_access")
    if all(purpose.id != args.purpose for purpose in record.terms.purposes):
        raise errors.PURPOSE_NOT_COVERED(f"record {record.record_id.hex()} does not name purpose {args.purpose!r}")
    named = {category.id for category in record.terms.data_categories}
    for position, category in enumerate(args.data_categories):
        if category not in named:
            raise errors.CATEGORY_NOT_COVERED(
                f"data_categories[{position}]: record {record.record_id.hex()} does not name {category!r}"
            )
    seq = ACCESS_SEQ.get(ctx.state) or 0
    entry = consent_pb2.AccessEntry(
        seq=seq,
        record_id=record.record_id,
        subject=record.subject,
        controller=record.controller,
        purpose=args.purpose,
        data_categories=args.data_categories,
        accessor=args.accessor,
        time_ms=ctx.block.timestamp_ms,
        height=ctx.block.height,
        logged_by=ctx.origin,
    )
    ACCESS.put(ctx.state, access_key(record.subject, seq), entry)
    ACCESS_SEQ.put(ctx.state, seq + 1)
    ctx.emit(
        consent_pb2.AccessLogged(
            seq=seq,
            record_id=record.record_id,
            subject=record.subject,
            controller=record.controller,
            purpose=args.purpose,
            data_categories=args.data_categories,
            accessor=args.accessor,
        )
    )


CONTROLLER = roles.CONTROLLER
CALLS: tuple[CallDef[Any], ...] = (  # index 0 (register_controller) is retired, never reused
    CallDef(1, "request", consent_pb2.RequestConsent, request, CONTROLLER, check_request),
    CallDef(2, "grant", consent_pb2.GrantConsent, grant, None, check_grant),
    CallDef(3, "grant_request", consent_pb2.GrantRequest, grant_request, None, check_grant_request),
    CallDef(4, "refuse", consent_pb2.RefuseRequest, refuse, None, check_record_args),
    CallDef(5, "renew", consent_pb2.RenewConsent, renew, None, check_record_args),
    CallDef(6, "withdraw", consent_pb2.WithdrawConsent, withdraw, None, check_record_args),
    CallDef(7, "terminate", consent_pb2.TerminateConsent, terminate, CONTROLLER, check_record_args),
    CallDef(8, "invalidate", consent_pb2.InvalidateConsent, invalidate, CONTROLLER, check_record_args),
    CallDef(9, "log_access", consent_pb2.LogAccess, log_access, CONTROLLER, check_log_access),
)
