"""Identity module genesis: DIDs with their full history, issuers, schemas and status lists.

Normally every list is empty. Entries must come in state-key order (which is what `export` writes), so
`export(build(g)) == g` holds for every valid `g` and duplicates cannot slip in.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from dcrm.runtime.errors import DispatchError
from dcrm.runtime.genesis import GenesisError, require_hex, require_int, require_keys, require_list
from dcrm.runtime.modules.identity import calls, documents, history, status
from dcrm.runtime.modules.identity import did as did_syntax
from dcrm.runtime.modules.identity.storage import (
    DID_HEAD,
    DID_VERSIONS,
    ISSUERS,
    SCHEMAS,
    STATUS_LISTS,
    list_key,
    schema_key,
    version_key,
)
from dcrm.runtime.state.kv import KVReader
from dcrm.runtime.state.overlay import Overlay
from dcrm.v1 import identity_pb2

FIELD = "modules.identity"
SECTIONS = ("dids", "issuers", "schemas", "status_lists")
DEFAULT_CONFIG: dict[str, list[Any]] = {section: [] for section in SECTIONS}
KEY_TYPE_NAMES = {
    identity_pb2.MULTIKEY: "Multikey",
    identity_pb2.ECDSA_SECP256K1_VERIFICATION_KEY_2019: "EcdsaSecp256k1VerificationKey2019",
}
RELATIONSHIPS = ("authentication", "assertionMethod", "keyAgreement")
PURPOSE_NAMES = {identity_pb2.REVOCATION: "revocation", identity_pb2.SUSPENSION: "suspension"}
_VERSION_FIELDS = {
    "height",
    "timestamp_ms",
    "deactivated",
    "controller_account",
    "controllers",
    "verification_methods",
    "services",
}


@contextmanager
def _as_genesis_error(field: str) -> Iterator[None]:
    """Report a module rule broken by a genesis entry as a GenesisError at `field`."""
    try:
        yield
    except DispatchError as error:
        raise GenesisError(field, error.message) from None


def _require_ordered(entries: list[Any], field: str, key: Callable[[Any], bytes], order: str) -> None:
    keys = [key(entry) for entry in entries]
    for position in range(1, len(keys)):
        if keys[position] <= keys[position - 1]:
            raise GenesisError(f"{field}[{position}]", f"entries must be sorted by {order}, without duplicates")


def _require_str(value: Any, field: str) -> str:
    if not isinstance(value, str):
        raise GenesisError(field, "expected a string")
    return value


def _require_bool(value: Any, field: str) -> bool:
    if not isinstance(value, bool):
        raise GenesisError(field, "expected true or false")
    return value


def _require_strings(value: Any, field: str) -> list[str]:
    return [_require_str(item, f"{field}[{n}]") for n, item in enumerate(require_list(value, field))]


# --- build ------------------------------------------------------------------------------------------


def build(state: Overlay, config: Mapping[str, Any]) -> None:
    require_keys(config, FIELD, required=set(SECTIONS))
    dids = require_list(config["dids"], f"{FIELD}.dids")
    known = {_build_did(state, entry, f"{FIELD}.dids[{position}]") for position, entry in enumerate(dids)}
    _require_ordered(dids, f"{FIELD}.dids", lambda entry: entry["did"].encode(), "DID")
    for position, entry in enumerate(dids):
        _check_controller_references(state, entry["did"], known, f"{FIELD}.dids[{position}]")
    for section, builder in (("issuers", _build_issuer), ("schemas", _build_schema), ("status_lists", _build_list)):
        entries = require_list(config[section], f"{FIELD}.{section}")
        order_keys = [builder(state, entry, f"{FIELD}.{section}[{n}]", known) for n, entry in enumerate(entries)]
        _require_ordered(order_keys, f"{FIELD}.{section}", lambda key: key, "state key")


def _build_did(state: Overlay, entry: Any, field: str) -> str:
    require_keys(entry, field, required={"did", "versions"})
    did = _require_str(entry["did"], f"{field}.did")
    with _as_genesis_error(f"{field}.did"):
        msid = did_syntax.method_specific_id(did)
    versions = require_list(entry["versions"], f"{field}.versions")
    if not versions:
        raise GenesisError(f"{field}.versions", "a DID has at least its creation version")
    previous: identity_pb2.DidVersion | None = None
    for number, value in enumerate(versions, start=1):
        where = f"{field}.versions[{number - 1}]"
        if previous is not None and previous.deactivated:
            raise GenesisError(where, "a deactivated DID has no later version")
        version = _parse_version(value, where, did, number, previous)
        DID_VERSIONS.put(state, version_key(msid, number), version)
        previous = version
    DID_HEAD.put(state, msid.encode(), len(versions))
    return did


def _parse_version(
    value: Any, field: str, did: str, number: int, previous: identity_pb2.DidVersion | None
) -> identity_pb2.DidVersion:
    require_keys(value, field, required=_VERSION_FIELDS)
    methods = [
        _parse_method(item, f"{field}.verification_methods[{n}]")
        for n, item in enumerate(require_list(value["verification_methods"], f"{field}.verification_methods"))
    ]
    services = [
        _parse_service(item, f"{field}.services[{n}]")
        for n, item in enumerate(require_list(value["services"], f"{field}.services"))
    ]
    controllers = _require_strings(value["controllers"], f"{field}.controllers")
    account = value["controller_account"]
    version = identity_pb2.DidVersion(
        document=identity_pb2.DidDocument(
            id=did, controllers=controllers, verification_methods=methods, services=services
        ),
        version=number,
        height=require_int(value["height"], f"{field}.height"),
        timestamp_ms=require_int(value["timestamp_ms"], f"{field}.timestamp_ms"),
        deactivated=_require_bool(value["deactivated"], f"{field}.deactivated"),
        controller_account=b"" if account == "" else require_hex(account, f"{field}.controller_account", 20),
    )
    first = previous or version
    version.created_height, version.created_ms = first.height, first.timestamp_ms
    if previous is not None and (version.height < previous.height or version.timestamp_ms < previous.timestamp_ms):
        raise GenesisError(field, "a version cannot take effect before the previous one")
    with _as_genesis_error(field):
        documents.check_document_parts(methods, services, controllers)
        if not version.deactivated:
            documents.check_controllable(version)
    if version.deactivated and (methods or services):
        raise GenesisError(field, "a deactivated version keeps no verification methods or services")
    return version


def _parse_method(value: Any, field: str) -> identity_pb2.VerificationMethod:
    require_keys(value, field, required={"fragment", "type", "public_key", "relationships"})
    types = {name: code for code, name in KEY_TYPE_NAMES.items()}
    type_name = value["type"]
    if type_name not in types:
        raise GenesisError(f"{field}.type", f"expected one of {', '.join(sorted(types))}")
    relationships = _require_strings(value["relationships"], f"{field}.relationships")
    ordered = [name for name in RELATIONSHIPS if name in relationships]
    if relationships != ordered:
        raise GenesisError(f"{field}.relationships", f"expected distinct names in the order {', '.join(RELATIONSHIPS)}")
    return identity_pb2.VerificationMethod(
        fragment=_require_str(value["fragment"], f"{field}.fragment"),
        type=types[type_name],
        public_key=require_hex(value["public_key"], f"{field}.public_key", documents.PUBLIC_KEY_BYTES),
        authentication="authentication" in relationships,
        assertion_method="assertionMethod" in relationships,
        key_agreement="keyAgreement" in relationships,
    )


def _parse_service(value: Any, field: str) -> identity_pb2.Service:
    require_keys(value, field, required={"fragment", "type", "endpoint"})
    return identity_pb2.Service(
        fragment=_require_str(value["fragment"], f"{field}.fragment"),
        type=_require_str(value["type"], f"{field}.type"),
        endpoint=_require_str(value["endpoint"], f"{field}.endpoint"),
    )


def _check_controller_references(state: KVReader, did: str, known: set[str], field: str) -> None:
    msid = did_syntax.method_specific_id(did)
    for number in range(1, history.latest_version(state, msid) + 1):
        for position, controller in enumerate(history.version(state, msid, number).document.controllers):
            if controller not in known:
                raise GenesisError(
                    f"{field}.versions[{number - 1}].controllers[{position}]", f"{controller} is not a genesis DID"
                )


def _issuer_msid(value: Any, field: str, known: set[str]) -> str:
    did = _require_str(value, field)
    with _as_genesis_error(field):
        msid = did_syntax.method_specific_id(did)
    if did not in known:
        raise GenesisError(field, f"{did} is not a genesis DID")
    return msid


def _build_issuer(state: Overlay, entry: Any, field: str, known: set[str]) -> bytes:
    require_keys(entry, field, required={"did", "registered_by", "height", "timestamp_ms"})
    msid = _issuer_msid(entry["did"], f"{field}.did", known)
    registered_by = entry["registered_by"]
    record = identity_pb2.IssuerRecord(
        did=entry["did"],
        registered_by=b"" if registered_by == "" else require_hex(registered_by, f"{field}.registered_by", 20),
        height=require_int(entry["height"], f"{field}.height"),
        timestamp_ms=require_int(entry["timestamp_ms"], f"{field}.timestamp_ms"),
    )
    ISSUERS.put(state, msid.encode(), record)
    return msid.encode()


def _build_schema(state: Overlay, entry: Any, field: str, known: set[str]) -> bytes:
    fields = {"issuer_did", "name", "version", "attributes", "content_hash", "height", "timestamp_ms"}
    require_keys(entry, field, required=fields)
    msid = _issuer_msid(entry["issuer_did"], f"{field}.issuer_did", known)
    args = identity_pb2.RegisterSchema(
        issuer_did=entry["issuer_did"],
        name=_require_str(entry["name"], f"{field}.name"),
        version=_require_str(entry["version"], f"{field}.version"),
        attributes=_require_strings(entry["attributes"], f"{field}.attributes"),
        content_hash=require_hex(entry["content_hash"], f"{field}.content_hash", calls.CONTENT_HASH_BYTES),
    )
    with _as_genesis_error(field):
        calls.check_register_schema(args)
    key = schema_key(msid, args.name, args.version)
    record = identity_pb2.SchemaRecord(
        id=did_syntax.schema_id(args.issuer_did, args.name, args.version),
        issuer_did=args.issuer_did,
        name=args.name,
        version=args.version,
        attributes=args.attributes,
        content_hash=args.content_hash,
        height=require_int(entry["height"], f"{field}.height"),
        timestamp_ms=require_int(entry["timestamp_ms"], f"{field}.timestamp_ms"),
    )
    SCHEMAS.put(state, key, record)
    return key


def _build_list(state: Overlay, entry: Any, field: str, known: set[str]) -> bytes:
    fields = {"issuer_did", "list_id", "purpose", "size", "set", "created_height", "created_ms", "updated_height"}
    require_keys(entry, field, required=fields | {"updated_ms"})
    msid = _issuer_msid(entry["issuer_did"], f"{field}.issuer_did", known)
    purposes = {name: code for code, name in PURPOSE_NAMES.items()}
    if entry["purpose"] not in purposes:
        raise GenesisError(f"{field}.purpose", "expected revocation or suspension")
    record = identity_pb2.StatusListRecord(
        issuer_did=entry["issuer_did"],
        list_id=_require_str(entry["list_id"], f"{field}.list_id"),
        purpose=purposes[entry["purpose"]],
        size=require_int(entry["size"], f"{field}.size", maximum=status.MAX_LIST_SIZE),
        created_height=require_int(entry["created_height"], f"{field}.created_height"),
        created_ms=require_int(entry["created_ms"], f"{field}.created_ms"),
        updated_height=require_int(entry["updated_height"], f"{field}.updated_height"),
        updated_ms=require_int(entry["updated_ms"], f"{field}.updated_ms"),
    )
    with _as_genesis_error(field):
        status.check_list_id(record.list_id)
        status.check_list_shape(record.purpose, record.size)
    indices = [
        require_int(value, f"{field}.set[{n}]", maximum=record.size - 1)
        for n, value in enumerate(require_list(entry["set"], f"{field}.set"))
    ]
    if indices != sorted(set(indices)):
        raise GenesisError(f"{field}.set", "expected distinct indices in ascending order")
    for index in indices:
        status.set_bit(state, msid, record.list_id, index, True)
    key = list_key(msid, record.list_id)
    STATUS_LISTS.put(state, key, record)
    return key


# --- export -----------------------------------------------------------------------------------------


def export(state: KVReader) -> dict[str, Any]:
    dids = []
    for raw_msid, newest in DID_HEAD.items(state):
        msid = raw_msid.decode()
        versions = [_export_version(history.version(state, msid, number)) for number in range(1, newest + 1)]
        dids.append({"did": did_syntax.PREFIX + msid, "versions": versions})
    issuers = [
        {
            "did": record.did,
            "registered_by": record.registered_by.hex(),
            "height": record.height,
            "timestamp_ms": record.timestamp_ms,
        }
        for _, record in ISSUERS.items(state)
    ]
    schemas = [
        {
            "issuer_did": record.issuer_did,
            "name": record.name,
            "version": record.version,
            "attributes": list(record.attributes),
            "content_hash": record.content_hash.hex(),
            "height": record.height,
            "timestamp_ms": record.timestamp_ms,
        }
        for _, record in SCHEMAS.items(state)
    ]
    lists = []
    for _, record in STATUS_LISTS.items(state):
        msid = did_syntax.method_specific_id(record.issuer_did)
        lists.append(
            {
                "issuer_did": record.issuer_did,
                "list_id": record.list_id,
                "purpose": PURPOSE_NAMES[record.purpose],
                "size": record.size,
                "set": status.set_indices(state, msid, record.list_id),
                "created_height": record.created_height,
                "created_ms": record.created_ms,
                "updated_height": record.updated_height,
                "updated_ms": record.updated_ms,
            }
        )
    return {"dids": dids, "issuers": issuers, "schemas": schemas, "status_lists": lists}


def _export_version(version: identity_pb2.DidVersion) -> dict[str, Any]:
    document = version.document
    return {
        "height": version.height,
        "timestamp_ms": version.timestamp_ms,
        "deactivated": version.deactivated,
        "controller_account": version.controller_account.hex(),
        "controllers": list(document.controllers),
        "verification_methods": [
            {
                "fragment": method.fragment,
                "type": KEY_TYPE_NAMES[method.type],
                "public_key": method.public_key.hex(),
                "relationships": [
                    name
                    for name, present in zip(
                        RELATIONSHIPS,
                        (method.authentication, method.assertion_method, method.key_agreement),
                        strict=True,
                    )
                    if present
                ],
            }
            for method in document.verification_methods
        ],
        "services": [
            {"fragment": service.fragment, "type": service.type, "endpoint": service.endpoint}
            for service in document.services
        ],
    }
