"""W3C Verifiable Credentials 2.0 issued by did:dcrm issuers, and Bitstring Status List 1.0 encoding.

Credentials stay with their holder; the chain holds the issuer's DID document history, schemas and status
lists. The proof is a Data Integrity proof with the cryptosuite `dcrm-es256k-jcs-2025`, specified in
docs/did-method.md ("Credential proofs"):

    proofConfig = the proof object without proofValue, with the credential's "@context"
    hashData    = sha256(JCS(proofConfig)) || sha256(JCS(credential without "proof"))
    proofValue  = "z" + base58btc(ES256K signature of hashData: 64-byte r || s, low s, RFC 6979)

JCS is RFC 8785 canonical JSON. `check_credential` verifies against the issuer's DID document as it was at
the credential's `validFrom`, so a key rotated away later still verifies what it signed before.
"""

from __future__ import annotations

import base64
import enum
import gzip
import hashlib
import re
import uuid
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import coincurve
import coincurve.ecdsa
import rfc8785

from dcrm.client.did import base58btc_decode, base58btc_encode, is_did, iso_time
from dcrm.client.errors import DcrmError
from dcrm.client.keys import SigningKey
from dcrm.v1 import identity_pb2

__all__ = [
    "CREDENTIALS_V2_CONTEXT",
    "CRYPTOSUITE",
    "CredentialInvalid",
    "IdentityReader",
    "StatusEntry",
    "VerificationFailure",
    "VerifiedCredential",
    "check_credential",
    "decode_status_list",
    "encode_status_list",
    "issue_credential",
    "parse_time",
    "proof_hash_data",
    "status_list_credential",
    "status_list_url",
    "time_ms",
]

CREDENTIALS_V2_CONTEXT = "https://www.w3.org/ns/credentials/v2"
CRYPTOSUITE = "dcrm-es256k-jcs-2025"
PROOF_TYPE = "DataIntegrityProof"
SCHEMA_TYPE = "DcrmCredentialSchema"
STATUS_ENTRY_TYPE = "BitstringStatusListEntry"
PURPOSES = ("revocation", "suspension")
SIGNATURE_BYTES = 64
MAX_STATUS_LIST_BYTES = 1_048_576 // 8  # the runtime's largest list
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MILLISECOND = timedelta(milliseconds=1)
_STATUS_URL_RE = re.compile(r"(did:dcrm:[1-9A-HJ-NP-Za-km-z]{1,22})/status/([A-Za-z0-9][A-Za-z0-9._-]{0,63})")


class VerificationFailure(enum.Enum):
    """Why a credential did not verify (the `reason` of CredentialInvalid)."""

    MALFORMED = "malformed"  # not a VC 2.0 credential with a dcrm-es256k-jcs-2025 proof
    ISSUER_NOT_FOUND = "issuer_not_found"  # the issuer DID did not exist at validFrom
    KEY_NOT_VALID = "key_not_valid"  # the proof's key was not an assertionMethod of the issuer at validFrom
    BAD_SIGNATURE = "bad_signature"  # the proof does not match the credential (tampered or wrong key)
    ISSUER_DEACTIVATED = "issuer_deactivated"  # the issuer DID is deactivated now
    ISSUER_NOT_REGISTERED = "issuer_not_registered"  # the issuer DID is not a registered issuer now
    NOT_YET_VALID = "not_yet_valid"  # now is before validFrom
    EXPIRED = "expired"  # now is after validUntil
    STATUS_LIST_NOT_FOUND = "status_list_not_found"  # credentialStatus names a list the issuer does not have
    STATUS_MISMATCH = "status_mismatch"  # the entry's purpose or index does not fit the list
    REVOKED = "revoked"  # the revocation list has the credential's bit set
    SUSPENDED = "suspended"  # the suspension list has the credential's bit set
    SCHEMA_NOT_REGISTERED = "schema_not_registered"  # credentialSchema names no registered schema
    CLAIMS_NOT_IN_SCHEMA = "claims_not_in_schema"  # a claim is not an attribute of the schema


class CredentialInvalid(DcrmError):
    """A credential failed verification; `reason` says which check, the message says how."""

    def __init__(self, reason: VerificationFailure, message: str) -> None:
        self.reason = reason
        self.message = message
        super().__init__(f"{reason.value}: {message}")


@dataclass(frozen=True)
class VerifiedCredential:
    """What a successful verification established."""

    issuer: str
    subject: str
    verification_method: str
    issuer_version: int  # the issuer DID version in effect at validFrom, whose key verified the proof
    status_checked: tuple[str, ...]  # the credentialStatus ids that were checked


@dataclass(frozen=True)
class StatusEntry:
    """Where a credential's status bit lives: an issuer's status list and an index in it."""

    list_id: str
    index: int
    purpose: str = "revocation"


class IdentityReader(Protocol):
    """The ledger reads verification needs (IdentityApi provides them)."""

    def resolve_version(
        self, did: str, *, at_height: int | None = None, at_time_ms: int | None = None
    ) -> identity_pb2.ResolveResult | None: ...

    def issuer(self, did: str) -> identity_pb2.IssuerRecord | None: ...

    def schema(self, schema_id: str) -> identity_pb2.SchemaRecord | None: ...

    def status_list(self, issuer_did: str, list_id: str) -> identity_pb2.StatusListResult | None: ...


# --- times ------------------------------------------------------------------------------------------


def parse_time(value: str, field: str) -> int:
    """Milliseconds since the epoch of an XML Schema dateTime with a time zone. Raises ValueError."""
    try:
        parsed = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise ValueError(f"{field} {value!r} is not an ISO 8601 date-time") from None
    if parsed.tzinfo is None:
        raise ValueError(f"{field} {value!r} has no time zone")
    return (parsed - _EPOCH) // _MILLISECOND


def time_ms(value: datetime | int, field: str) -> int:
    """Milliseconds since the epoch of a timezone-aware datetime (or of milliseconds). Raises ValueError."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError(f"{field} must be timezone-aware")
        return (value - _EPOCH) // _MILLISECOND
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{field} must be a datetime or non-negative milliseconds, got {value!r}")
    return value


# --- status lists -----------------------------------------------------------------------------------


def status_list_url(issuer_did: str, list_id: str) -> str:
    """The DID URL of an issuer's status list: the statusListCredential of its entries."""
    return f"{issuer_did}/status/{list_id}"


def encode_status_list(bits: bytes) -> str:
    """`encodedList`: multibase base64url (no padding, prefix "u") of the GZIP of the bitstring."""
    compressed = gzip.compress(bits, mtime=0)  # mtime 0: the same bits always encode the same way
    return "u" + base64.urlsafe_b64encode(compressed).rstrip(b"=").decode()


def decode_status_list(encoded: str) -> bytes:
    """The bitstring of an `encodedList`. Raises ValueError when it is not "u" + base64url(GZIP(bits))."""
    if not encoded.startswith("u"):
        raise ValueError("encodedList must start with 'u' (multibase base64url)")
    body = encoded[1:]
    try:
        compressed = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        bits = inflater.decompress(compressed, MAX_STATUS_LIST_BYTES + 1)
    except (ValueError, zlib.error) as error:
        raise ValueError(f"encodedList is not base64url GZIP data: {error}") from None
    if len(bits) > MAX_STATUS_LIST_BYTES or inflater.unconsumed_tail:
        raise ValueError(f"encodedList expands past {MAX_STATUS_LIST_BYTES} bytes")
    return bits


def status_list_credential(result: identity_pb2.StatusListResult) -> dict[str, Any]:
    """A BitstringStatusListCredential-shaped JSON of a status list read from the chain.

    It carries no proof: its integrity comes from the ledger (read it with a state proof to check it).
    """
    record = result.list
    url = status_list_url(record.issuer_did, record.list_id)
    return {
        "@context": [CREDENTIALS_V2_CONTEXT],
        "id": url,
        "type": ["VerifiableCredential", "BitstringStatusListCredential"],
        "issuer": record.issuer_did,
        "validFrom": iso_time(record.updated_ms),
        "credentialSubject": {
            "id": f"{url}#list",
            "type": "BitstringStatusList",
            "statusPurpose": "revocation" if record.purpose == identity_pb2.REVOCATION else "suspension",
            "encodedList": encode_status_list(result.bits),
        },
    }


def _status_entry(issuer_did: str, entry: StatusEntry) -> dict[str, Any]:
    if entry.purpose not in PURPOSES:
        raise ValueError(f"status purpose {entry.purpose!r} must be revocation or suspension")
    if isinstance(entry.index, bool) or not isinstance(entry.index, int) or entry.index < 0:
        raise ValueError(f"status index {entry.index!r} must be a non-negative int")
    url = status_list_url(issuer_did, entry.list_id)
    return {
        "id": f"{url}#{entry.index}",
        "type": STATUS_ENTRY_TYPE,
        "statusPurpose": entry.purpose,
        "statusListIndex": str(entry.index),
        "statusListCredential": url,
    }


# --- proofs -----------------------------------------------------------------------------------------


def _canonical(value: Any, what: str) -> bytes:
    try:
        return rfc8785.dumps(value)
    except rfc8785.CanonicalizationError as error:
        raise ValueError(f"{what} cannot be canonicalized (RFC 8785): {error}") from None


def proof_hash_data(credential: Mapping[str, Any], proof: Mapping[str, Any]) -> bytes:
    """The 64 bytes the proof signs: sha256(JCS(proof config)) || sha256(JCS(credential without proof)).

    Raises ValueError when either part is not canonicalizable JSON (for example an integer past 2**53).
    """
    config = {key: value for key, value in proof.items() if key != "proofValue"}
    config["@context"] = credential.get("@context")
    unsecured = {key: value for key, value in credential.items() if key != "proof"}
    config_hash = hashlib.sha256(_canonical(config, "the proof configuration")).digest()
    return config_hash + hashlib.sha256(_canonical(unsecured, "the credential")).digest()


def issue_credential(
    issuer_key: SigningKey,
    issuer_did: str,
    subject_did: str,
    claims: Mapping[str, Any],
    schema_id: str,
    status_list_index: int,
    valid_from: datetime | int,
    valid_until: datetime | int | None = None,
    *,
    status_list_id: str,
    status_purpose: str = "revocation",
    extra_status: Sequence[StatusEntry] = (),
    key_fragment: str = "key-1",
    credential_id: str | None = None,
    types: Sequence[str] = (),
) -> dict[str, Any]:
    """A signed W3C VC 2.0 credential (JSON) about `subject_did`, issued by `issuer_did`.

    `issuer_key` must be the key of the issuer's verification method `key_fragment`, which must be in the
    issuer's assertionMethod when the credential becomes valid. `valid_from` and `valid_until` are
    timezone-aware datetimes or milliseconds since the epoch (whole seconds are kept). The status entry is
    `status_list_index` of the issuer's list `status_list_id` with `status_purpose`; `extra_status` adds
    more (for example a suspension list beside the revocation list). The id defaults to a random urn:uuid.
    Raises ValueError for a malformed DID, an "id" claim, bad times or claims that are not canonical JSON.
    """
    for field, value in (("issuer_did", issuer_did), ("subject_did", subject_did)):
        if not isinstance(value, str) or not value.startswith("did:"):
            raise ValueError(f"{field} must be a DID, got {value!r}")
    if not is_did(issuer_did):
        raise ValueError(f"issuer_did {issuer_did!r} is not a did:dcrm DID")
    if "id" in claims:
        raise ValueError("claims must not contain 'id': credentialSubject.id is the subject DID")
    start = time_ms(valid_from, "valid_from") // 1000 * 1000  # the credential states whole seconds
    statuses = [StatusEntry(status_list_id, status_list_index, status_purpose), *extra_status]
    entries = [_status_entry(issuer_did, entry) for entry in statuses]
    credential: dict[str, Any] = {
        "@context": [CREDENTIALS_V2_CONTEXT],
        "id": credential_id or f"urn:uuid:{uuid.uuid4()}",
        "type": ["VerifiableCredential", *[name for name in types if name != "VerifiableCredential"]],
        "issuer": issuer_did,
        "validFrom": iso_time(start),
    }
    if valid_until is not None:
        end = time_ms(valid_until, "valid_until")
        if end < start:
            raise ValueError("valid_until is before valid_from")
        credential["validUntil"] = iso_time(end)
    credential["credentialSubject"] = {"id": subject_did, **claims}
    credential["credentialSchema"] = {"id": schema_id, "type": SCHEMA_TYPE}
    credential["credentialStatus"] = entries[0] if len(entries) == 1 else entries
    proof: dict[str, Any] = {
        "type": PROOF_TYPE,
        "cryptosuite": CRYPTOSUITE,
        "created": credential["validFrom"],
        "verificationMethod": f"{issuer_did}#{key_fragment}",
        "proofPurpose": "assertionMethod",
    }
    signature = issuer_key.sign_recoverable(proof_hash_data(credential, proof))[:SIGNATURE_BYTES]
    proof["proofValue"] = "z" + base58btc_encode(signature)
    credential["proof"] = proof
    return credential


# --- verification -----------------------------------------------------------------------------------


def _fail(reason: VerificationFailure, message: str) -> CredentialInvalid:
    return CredentialInvalid(reason, message)


def _malformed(message: str) -> CredentialInvalid:
    return CredentialInvalid(VerificationFailure.MALFORMED, message)


def _as_list(value: Any, field: str) -> list[dict[str, Any]]:
    items = value if isinstance(value, list) else [value]
    if not items or not all(isinstance(item, dict) for item in items):
        raise _malformed(f"{field} must be an object or a non-empty list of objects")
    return items


def _required_str(document: Mapping[str, Any], field: str, where: str = "") -> str:
    value = document.get(field)
    if not isinstance(value, str) or not value:
        raise _malformed(f"{where}{field} must be a non-empty string")
    return value


@dataclass(frozen=True)
class _Parsed:
    issuer: str
    subject: dict[str, Any]
    valid_from_ms: int
    valid_until_ms: int | None
    proof: dict[str, Any]
    key_fragment: str
    signature: bytes
    statuses: list[dict[str, Any]]
    schemas: list[dict[str, Any]]


def _parse(credential: Any) -> _Parsed:
    if not isinstance(credential, dict):
        raise _malformed("a credential is a JSON object")
    context = credential.get("@context")
    if not isinstance(context, list) or not context or context[0] != CREDENTIALS_V2_CONTEXT:
        raise _malformed(f"@context must be a list whose first item is {CREDENTIALS_V2_CONTEXT}")
    types = credential.get("type")
    if not isinstance(types, list) or "VerifiableCredential" not in types:
        raise _malformed("type must be a list that includes VerifiableCredential")
    issuer = _required_str(credential, "issuer")
    if not is_did(issuer):
        raise _malformed(f"issuer {issuer!r} is not a did:dcrm DID")
    subject = credential.get("credentialSubject")
    if not isinstance(subject, dict) or not isinstance(subject.get("id"), str):
        raise _malformed("credentialSubject must be an object with the subject DID as id")
    try:
        valid_from = parse_time(_required_str(credential, "validFrom"), "validFrom")
        until = credential.get("validUntil")
        valid_until = None if until is None else parse_time(until, "validUntil")
    except ValueError as error:
        raise _malformed(str(error)) from None
    proof = credential.get("proof")
    if not isinstance(proof, dict):
        raise _malformed("proof must be an object")
    expected = {"type": PROOF_TYPE, "cryptosuite": CRYPTOSUITE, "proofPurpose": "assertionMethod"}
    for field, value in expected.items():
        if proof.get(field) != value:
            raise _malformed(f"proof.{field} must be {value!r}")
    method = _required_str(proof, "verificationMethod", "proof.")
    if not method.startswith(issuer + "#"):
        raise _malformed(f"proof.verificationMethod {method!r} is not a key of the issuer {issuer}")
    proof_value = _required_str(proof, "proofValue", "proof.")
    try:
        signature = base58btc_decode(proof_value[1:]) if proof_value.startswith("z") else b""
    except ValueError:
        signature = b""
    if len(signature) != SIGNATURE_BYTES:
        raise _malformed(f"proof.proofValue must be 'z' + base58btc of a {SIGNATURE_BYTES}-byte signature")
    return _Parsed(
        issuer=issuer,
        subject=subject,
        valid_from_ms=valid_from,
        valid_until_ms=valid_until,
        proof=proof,
        key_fragment=method[len(issuer) + 1 :],
        signature=signature,
        statuses=_as_list(credential.get("credentialStatus"), "credentialStatus"),
        schemas=_as_list(credential.get("credentialSchema"), "credentialSchema"),
    )


def _verify_signature(ledger: IdentityReader, credential: dict[str, Any], parsed: _Parsed) -> int:
    """Check the proof against the issuer's key as of validFrom; returns that issuer version."""
    # validFrom states whole seconds while blocks carry milliseconds: a DID version that took effect within
    # validFrom's second was in effect "at validFrom" (so a credential issued right after the issuer's DID was
    # created verifies).
    resolve_at_ms = parsed.valid_from_ms // 1000 * 1000 + 999
    resolved = ledger.resolve_version(parsed.issuer, at_time_ms=resolve_at_ms)
    when = iso_time(parsed.valid_from_ms)
    if resolved is None:
        raise _fail(VerificationFailure.ISSUER_NOT_FOUND, f"{parsed.issuer} did not exist at validFrom {when}")
    version = resolved.current
    key = next(
        (
            method.public_key
            for method in version.document.verification_methods
            if method.fragment == parsed.key_fragment and method.assertion_method
        ),
        None,
    )
    if key is None:
        raise _fail(
            VerificationFailure.KEY_NOT_VALID,
            f"{parsed.issuer}#{parsed.key_fragment} was not an assertionMethod of the issuer at validFrom {when} "
            f"(DID version {version.version})",
        )
    try:
        hash_data = proof_hash_data(credential, parsed.proof)
    except ValueError as error:
        raise _malformed(str(error)) from None
    der = coincurve.ecdsa.cdata_to_der(coincurve.ecdsa.deserialize_compact(parsed.signature))
    if not coincurve.PublicKey(key).verify(der, hash_data, hasher=lambda data: hashlib.sha256(data).digest()):
        raise _fail(
            VerificationFailure.BAD_SIGNATURE,
            f"the proof does not verify with {parsed.issuer}#{parsed.key_fragment}: the credential was altered "
            "or signed with another key",
        )
    return version.version


def _check_issuer(ledger: IdentityReader, issuer: str) -> None:
    resolved = ledger.resolve_version(issuer)
    if resolved is not None and resolved.current.deactivated:
        raise _fail(
            VerificationFailure.ISSUER_DEACTIVATED,
            f"{issuer} was deactivated at {iso_time(resolved.current.timestamp_ms)}",
        )
    if ledger.issuer(issuer) is None:
        raise _fail(VerificationFailure.ISSUER_NOT_REGISTERED, f"{issuer} is not a registered issuer")


def _check_dates(parsed: _Parsed, now_ms: int) -> None:
    if now_ms < parsed.valid_from_ms:
        raise _fail(VerificationFailure.NOT_YET_VALID, f"validFrom is {iso_time(parsed.valid_from_ms)}")
    if parsed.valid_until_ms is not None and now_ms > parsed.valid_until_ms:
        raise _fail(VerificationFailure.EXPIRED, f"validUntil was {iso_time(parsed.valid_until_ms)}")


def _check_statuses(ledger: IdentityReader, parsed: _Parsed) -> tuple[str, ...]:
    checked: list[str] = []
    for position, entry in enumerate(parsed.statuses):
        where = f"credentialStatus[{position}]."
        if entry.get("type") != STATUS_ENTRY_TYPE:
            raise _malformed(f"{where}type must be {STATUS_ENTRY_TYPE}")
        purpose = entry.get("statusPurpose")
        if purpose not in PURPOSES:
            raise _malformed(f"{where}statusPurpose must be revocation or suspension")
        index_text = _required_str(entry, "statusListIndex", where)
        if not index_text.isdigit():
            raise _malformed(f"{where}statusListIndex must be a decimal string")
        index = int(index_text)
        url = _required_str(entry, "statusListCredential", where)
        match = _STATUS_URL_RE.fullmatch(url)
        if match is None or match.group(1) != parsed.issuer:
            raise _malformed(f"{where}statusListCredential {url!r} is not a status list of the issuer")
        found = ledger.status_list(parsed.issuer, match.group(2))
        if found is None:
            raise _fail(VerificationFailure.STATUS_LIST_NOT_FOUND, f"{url} does not exist")
        list_purpose = "revocation" if found.list.purpose == identity_pb2.REVOCATION else "suspension"
        if purpose != list_purpose or index >= found.list.size:
            raise _fail(
                VerificationFailure.STATUS_MISMATCH,
                f"{where[:-1]} says {purpose} index {index}; {url} is a {list_purpose} list of {found.list.size}",
            )
        if found.bits[index // 8] & (0x80 >> (index % 8)):
            reason = VerificationFailure.REVOKED if purpose == "revocation" else VerificationFailure.SUSPENDED
            raise _fail(reason, f"index {index} of {url} is set: the credential is {reason.value}")
        checked.append(f"{url}#{index}")
    return tuple(checked)


def _check_schemas(ledger: IdentityReader, parsed: _Parsed) -> None:
    attributes: set[str] = set()
    for position, entry in enumerate(parsed.schemas):
        schema_id = _required_str(entry, "id", f"credentialSchema[{position}].")
        found = ledger.schema(schema_id)
        if found is None:
            raise _fail(VerificationFailure.SCHEMA_NOT_REGISTERED, f"schema {schema_id} is not registered")
        attributes.update(found.attributes)
    extra = sorted(set(parsed.subject) - {"id"} - attributes)
    if extra:
        raise _fail(VerificationFailure.CLAIMS_NOT_IN_SCHEMA, f"claims {', '.join(extra)} are not schema attributes")


def check_credential(
    ledger: IdentityReader, credential: Mapping[str, Any], *, now: datetime | None = None
) -> VerifiedCredential:
    """Verify `credential` against the ledger; returns what was established or raises CredentialInvalid.

    In order: its shape; the proof, with the issuer's assertionMethod key as of validFrom (resolved at that
    time); the issuer is active and registered now; `now` (default: the current time) is within
    validFrom..validUntil; no status entry is set (the whole list is fetched, so the node does not learn
    which credential is checked); every claim is an attribute of a registered schema.
    """
    document = dict(credential)
    parsed = _parse(document)
    issuer_version = _verify_signature(ledger, document, parsed)
    _check_issuer(ledger, parsed.issuer)
    _check_dates(parsed, time_ms(now or datetime.now(UTC), "now"))
    checked = _check_statuses(ledger, parsed)
    _check_schemas(ledger, parsed)
    return VerifiedCredential(
        issuer=parsed.issuer,
        subject=parsed.subject["id"],
        verification_method=f"{parsed.issuer}#{parsed.key_fragment}",
        issuer_version=issuer_version,
        status_checked=checked,
    )
