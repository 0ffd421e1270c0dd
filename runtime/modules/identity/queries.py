"""Identity module queries: DID resolution (now and in the past), issuers, schemas and status lists."""

from __future__ import annotations

from typing import Any

from dcrm.runtime.module import QueryDef
from dcrm.runtime.modules.identity import did as did_syntax
from dcrm.runtime.modules.identity import errors, history, status
from dcrm.runtime.modules.identity.storage import ISSUERS, SCHEMAS, STATUS_LISTS, list_key, schema_key
from dcrm.runtime.state.kv import KVReader
from dcrm.v1 import identity_pb2


def resolve(state: KVReader, request: identity_pb2.ResolveQuery) -> identity_pb2.ResolveResult:
    found = history.current(state, request.did)
    return identity_pb2.ResolveResult(current=found, latest_version=found.version)


def resolve_at(state: KVReader, request: identity_pb2.ResolveAtQuery) -> identity_pb2.ResolveResult:
    point = request.WhichOneof("point")
    number, newest = history.at_point(
        state,
        request.did,
        height=request.height if point == "height" else None,
        timestamp_ms=request.timestamp_ms if point == "timestamp_ms" else None,
    )
    msid = did_syntax.method_specific_id(request.did)
    result = identity_pb2.ResolveResult(current=history.version(state, msid, number), latest_version=newest)
    if number < newest:
        result.next_version = number + 1
        result.next_update_ms = history.version(state, msid, number + 1).timestamp_ms
    return result


def issuer(state: KVReader, request: identity_pb2.IssuerQuery) -> identity_pb2.IssuerResult:
    msid = did_syntax.method_specific_id(request.did)
    found = ISSUERS.get(state, msid.encode())
    if found is None:
        raise errors.ISSUER_NOT_FOUND(f"{request.did} is not a registered issuer")
    return identity_pb2.IssuerResult(issuer=found)


def schema(state: KVReader, request: identity_pb2.SchemaQuery) -> identity_pb2.SchemaResult:
    msid, name, version = did_syntax.parse_schema_id(request.schema_id)
    found = SCHEMAS.get(state, schema_key(msid, name, version))
    if found is None:
        raise errors.SCHEMA_NOT_FOUND(f"schema {request.schema_id} is not registered")
    return identity_pb2.SchemaResult(schema=found)


def _status_list(state: KVReader, issuer_did: str, list_id: str) -> tuple[str, identity_pb2.StatusListRecord]:
    msid = did_syntax.method_specific_id(issuer_did, "issuer_did")
    status.check_list_id(list_id)
    found = STATUS_LISTS.get(state, list_key(msid, list_id))
    if found is None:
        raise errors.STATUS_LIST_NOT_FOUND(f"{issuer_did} has no status list {list_id!r}")
    return msid, found


def status_list(state: KVReader, request: identity_pb2.StatusListQuery) -> identity_pb2.StatusListResult:
    msid, found = _status_list(state, request.issuer_did, request.list_id)
    bits = status.read_bits(state, msid, request.list_id, found.size)
    return identity_pb2.StatusListResult(list=found, bits=bits)


def credential_status(state: KVReader, request: identity_pb2.StatusQuery) -> identity_pb2.StatusResult:
    msid, found = _status_list(state, request.issuer_did, request.list_id)
    if request.index >= found.size:
        raise errors.INDEX_OUT_OF_RANGE(
            f"index {request.index} is not below list {request.list_id!r}'s size {found.size}"
        )
    return identity_pb2.StatusResult(list=found, set=status.get_bit(state, msid, request.list_id, request.index))


QUERIES: tuple[QueryDef[Any, Any], ...] = (
    QueryDef("resolve", identity_pb2.ResolveQuery, identity_pb2.ResolveResult, resolve),
    QueryDef("resolve_at", identity_pb2.ResolveAtQuery, identity_pb2.ResolveResult, resolve_at),
    QueryDef("issuer", identity_pb2.IssuerQuery, identity_pb2.IssuerResult, issuer),
    QueryDef("schema", identity_pb2.SchemaQuery, identity_pb2.SchemaResult, schema),
    QueryDef("status_list", identity_pb2.StatusListQuery, identity_pb2.StatusListResult, status_list),
    QueryDef("status", identity_pb2.StatusQuery, identity_pb2.StatusResult, credential_status),
)
