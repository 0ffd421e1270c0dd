"""Stateless rules on consent arguments: DID syntax, codes, bounds, and refusing what looks like personal data.

Subjects and controllers must be did:dcrm DIDs (`check_dcrm_did`), since the identity module decides who acts for
them; the DIDs of parties (recipients, processors, third parties) may be of any method (`check_did`).

Every check raises the module error naming the field and the rule; none reads state, so calls run them at
admission (`CallDef.check_args`) and genesis runs them on imported records.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from dcrm.runtime.modules.consent import errors
from dcrm.runtime.modules.consent.storage import RECORD_ID_LENGTH
from dcrm.runtime.modules.identity import lookup
from dcrm.v1 import consent_pb2

MAX_DID_CHARS = 200
MAX_URI_CHARS = 512
MAX_PURPOSES = 16
MAX_DATA_CATEGORIES = 32
MAX_COVERAGE = 64  # purposes x data categories: the index entries one record may write
MAX_PARTIES = 16
MAX_STORAGE_LOCATIONS = 8
MAX_CLIENT_REF_BYTES = 32
MIN_ACCESSOR_BYTES = 16
MAX_ACCESSOR_BYTES = 32
ACCOUNT_LENGTH = 20
HASH_LENGTH = 32
DAY_MS = 86_400_000
MAX_VALIDITY_MS = 3_653 * DAY_MS  # ten years ahead of the block time
MAX_RETENTION_MS = 36_525 * DAY_MS  # a hundred years

_ID_CHAR = r"(?:[A-Za-z0-9._-]|%[0-9A-Fa-f]{2})"
_DID = re.compile(rf"did:[a-z0-9]+:(?:{_ID_CHAR}*:)*{_ID_CHAR}+")
_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}")
_LANGUAGE = re.compile(r"[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8}){0,4}")
_REGION = re.compile(r"[A-Z]{2}(?:-[A-Z0-9]{1,3})?")
_URL = re.compile(r"https?://[!-~]+")
_URI = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:[!-~]+")
_EMAIL_MARKS = ("@", "%40")
_PRINTABLE = frozenset(range(0x20, 0x7F))

VALID_STATES = frozenset({consent_pb2.STATE_GIVEN, consent_pb2.STATE_RENEWED})


def state_name(state: int) -> str:
    """ "given", "withdrawn", ...: the DPV state without the enum prefix."""
    return consent_pb2.State.Name(state).removeprefix("STATE_").lower()  # type: ignore[arg-type]


def check_not_email(value: str, field: str) -> None:
    lowered = value.lower()
    if any(mark in lowered for mark in _EMAIL_MARKS):
        raise errors.PERSONAL_DATA(f"{field} contains '@' and looks like an e-mail address; use a pseudonymous id")


def check_did(value: str, field: str) -> None:
    check_not_email(value, field)
    if len(value) > MAX_DID_CHARS:
        raise errors.BAD_DID(f"{field} is {len(value)} characters, at most {MAX_DID_CHARS} allowed")
    if _DID.fullmatch(value) is None:
        raise errors.BAD_DID(f"{field} {value!r} is not a DID (did:<method>:<method-specific-id>)")


def check_dcrm_did(value: str, field: str) -> None:
    """A DID of the identity module: BadDid unless it is did:dcrm: and 1 to 22 base58btc characters."""
    check_did(value, field)
    if not lookup.is_dcrm_did(value):
        raise errors.BAD_DID(
            f"{field} {value!r} is not a did:dcrm DID (did:dcrm: and 1 to 22 base58btc characters); "
            "subjects and controllers are DIDs of the identity module"
        )


def check_token(value: str, field: str) -> None:
    check_not_email(value, field)
    if _TOKEN.fullmatch(value) is None:
        raise errors.BAD_TOKEN(
            f"{field} {value!r} is not 1-64 characters of A-Z a-z 0-9 . _ : - (starting alphanumeric)"
        )


def check_region(value: str, field: str) -> None:
    if _REGION.fullmatch(value) is None:
        raise errors.BAD_REGION(f"{field} {value!r} is not a region code like 'EU', 'DE' or 'US-CA'")


def check_account(value: bytes, field: str) -> None:
    if len(value) != ACCOUNT_LENGTH:
        raise errors.BAD_ACCOUNT(f"{field} must be {ACCOUNT_LENGTH} bytes, got {len(value)}")


def check_record_id(value: bytes, field: str = "record_id") -> None:
    if len(value) != RECORD_ID_LENGTH:
        raise errors.BAD_RECORD_ID(f"{field} must be {RECORD_ID_LENGTH} bytes, got {len(value)}")


def check_client_ref(value: bytes) -> None:
    if not 1 <= len(value) <= MAX_CLIENT_REF_BYTES:
        raise errors.BAD_RECORD_ID(f"client_ref must be 1 to {MAX_CLIENT_REF_BYTES} bytes, got {len(value)}")


def check_accessor(value: bytes) -> None:
    if not MIN_ACCESSOR_BYTES <= len(value) <= MAX_ACCESSOR_BYTES:
        raise errors.BAD_ACCESSOR(
            f"accessor must be an opaque hash of {MIN_ACCESSOR_BYTES} to {MAX_ACCESSOR_BYTES} bytes, got {len(value)}"
        )
    if all(byte in _PRINTABLE for byte in value):
        raise errors.PERSONAL_DATA(
            "accessor is readable text; pass an opaque hash (e.g. a salted sha256 of a staff id)"
        )


def check_list_length(items: Iterable[object], field: str, *, minimum: int, maximum: int) -> None:
    count = sum(1 for _ in items)
    if not minimum <= count <= maximum:
        raise errors.BAD_LIST(f"{field} has {count} items, {minimum} to {maximum} allowed")


def check_unique(values: list[str], field: str) -> None:
    seen: set[str] = set()
    for position, value in enumerate(values):
        if value in seen:
            raise errors.BAD_LIST(f"{field}[{position}] repeats {value!r}")
        seen.add(value)


def check_codes(values: Iterable[str], field: str, *, minimum: int, maximum: int) -> None:
    """A list of distinct codes."""
    listed = list(values)
    check_list_length(listed, field, minimum=minimum, maximum=maximum)
    for position, value in enumerate(listed):
        check_token(value, f"{field}[{position}]")
    check_unique(listed, field)


def check_validity(valid_until_ms: int, now_ms: int, field: str = "valid_until_ms") -> None:
    """Stateful only in the block time it is given."""
    if valid_until_ms <= now_ms:
        raise errors.BAD_VALIDITY(f"{field} {valid_until_ms} is not after the block time {now_ms}")
    if valid_until_ms > now_ms + MAX_VALIDITY_MS:
        raise errors.BAD_VALIDITY(
            f"{field} {valid_until_ms} is more than {MAX_VALIDITY_MS // DAY_MS} days after the block time {now_ms}"
        )


def check_notice(notice: consent_pb2.Notice, field: str) -> None:
    check_not_email(notice.url, f"{field}.url")
    if len(notice.url) > MAX_URI_CHARS or _URL.fullmatch(notice.url) is None:
        raise errors.BAD_NOTICE(f"{field}.url must be an http(s) URL of at most {MAX_URI_CHARS} characters")
    if len(notice.content_hash) != HASH_LENGTH:
        raise errors.BAD_NOTICE(
            f"{field}.content_hash must be the {HASH_LENGTH}-byte sha256 of the notice, got {len(notice.content_hash)}"
        )
    if _TOKEN.fullmatch(notice.version) is None:
        raise errors.BAD_NOTICE(f"{field}.version {notice.version!r} is not a code of 1-64 characters")
    if len(notice.language) > 35 or _LANGUAGE.fullmatch(notice.language) is None:
        raise errors.BAD_NOTICE(f"{field}.language {notice.language!r} is not a BCP 47 tag like 'en' or 'de-CH'")


def check_terms(terms: consent_pb2.Terms, field: str = "terms") -> None:
    """Everything a record's terms must satisfy, in field order."""
    check_list_length(terms.purposes, f"{field}.purposes", minimum=1, maximum=MAX_PURPOSES)
    for position, purpose in enumerate(terms.purposes):
        check_token(purpose.id, f"{field}.purposes[{position}].id")
        check_token(purpose.category, f"{field}.purposes[{position}].category")
    check_unique([purpose.id for purpose in terms.purposes], f"{field}.purposes")
    categories = terms.data_categories
    check_list_length(categories, f"{field}.data_categories", minimum=1, maximum=MAX_DATA_CATEGORIES)
    for position, category in enumerate(categories):
        check_token(category.id, f"{field}.data_categories[{position}].id")
    check_unique([category.id for category in categories], f"{field}.data_categories")
    if len(terms.purposes) * len(categories) > MAX_COVERAGE:
        raise errors.BAD_LIST(
            f"{field} covers {len(terms.purposes)} purposes x {len(categories)} data categories, "
            f"at most {MAX_COVERAGE} pairs allowed; split it into several records"
        )
    check_list_length(terms.parties, f"{field}.parties", minimum=0, maximum=MAX_PARTIES)
    for position, party in enumerate(terms.parties):
        if party.role == consent_pb2.PARTY_ROLE_UNSPECIFIED or party.role not in consent_pb2.PartyRole.values():
            raise errors.BAD_LIST(f"{field}.parties[{position}].role must be recipient, processor or third party")
        check_did(party.did, f"{field}.parties[{position}].did")
    check_unique([f"{party.role}/{party.did}" for party in terms.parties], f"{field}.parties")
    check_token(terms.lawful_basis, f"{field}.lawful_basis")
    if not terms.HasField("notice"):
        raise errors.BAD_NOTICE(f"{field}.notice is required")
    check_notice(terms.notice, f"{field}.notice")
    check_token(terms.collection_method, f"{field}.collection_method")
    check_token(terms.collection_channel, f"{field}.collection_channel")
    _check_consent_type(terms, field)
    if not 1 <= terms.retention_ms <= MAX_RETENTION_MS:
        raise errors.BAD_RETENTION(f"{field}.retention_ms must be 1 to {MAX_RETENTION_MS}, got {terms.retention_ms}")
    check_list_length(terms.storage_locations, f"{field}.storage_locations", minimum=0, maximum=MAX_STORAGE_LOCATIONS)
    for position, location in enumerate(terms.storage_locations):
        check_region(location, f"{field}.storage_locations[{position}]")
    check_unique(list(terms.storage_locations), f"{field}.storage_locations")
    check_region(terms.jurisdiction, f"{field}.jurisdiction")
    check_not_email(terms.withdrawal_method, f"{field}.withdrawal_method")
    if len(terms.withdrawal_method) > MAX_URI_CHARS or _URI.fullmatch(terms.withdrawal_method) is None:
        raise errors.BAD_URI(
            f"{field}.withdrawal_method must be a URI (scheme:...) of at most {MAX_URI_CHARS} characters"
        )


def _check_consent_type(terms: consent_pb2.Terms, field: str) -> None:
    if terms.consent_type not in (consent_pb2.CONSENT_TYPE_EXPRESS, consent_pb2.CONSENT_TYPE_EXPLICIT):
        raise errors.BAD_CONSENT_TYPE(f"{field}.consent_type must be express or explicit")
    sensitive = [category.id for category in terms.data_categories if category.sensitive]
    if sensitive and terms.consent_type != consent_pb2.CONSENT_TYPE_EXPLICIT:
        raise errors.BAD_CONSENT_TYPE(
            f"{field}.consent_type must be explicit: data category {sensitive[0]!r} is a special category"
        )
