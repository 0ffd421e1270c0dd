"""The dCRM load model without locust: who signs what, and the one-time set-up the scenarios need.

Actors, all with keys derived from a seed (`--key-seed`), so a run repeats exactly:

- customers: one per locust user, key ("customer", seed, worker, index). A customer owns a DID (its
  "primary" DID, created at the first run and resolved afterwards), gives and withdraws consent, and earns,
  transfers and redeems loyalty points.
- desks: an enterprise's signing desks, `desks` per locust process, key ("desk", seed, worker, index). A
  desk holds the roles "controller" and "issuer", controls its own did:dcrm DID (the controller DID its
  customers consent to), and owns one loyalty class whose minter it is. It logs data accesses under its
  customers' consent and mints their points. A desk's account is shared by the customers of one process
  only, so nonces never race between processes; at most `DESK_IN_FLIGHT` of its transactions are in flight
  at once, below the chain's nonce window (64).

`prepare_desks` is the set-up: the admin grants the roles, each desk creates its DID and its class.
It skips what is already done, so it is safe to run again on the same chain.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from dcrm.client import Account, Client, NotFound, SigningKey
from dcrm.client.did import did_for
from dcrm.client.system import CONTROLLER, ISSUER
from dcrm.v1 import consent_pb2
from loadtest.signing import derived_key

__all__ = [
    "CATEGORIES",
    "DAY_MS",
    "DESK_IN_FLIGHT",
    "POINTS_EXPIRY_MS",
    "PURPOSES",
    "Desk",
    "consent_terms",
    "customer_key",
    "desk_for",
    "now_ms",
    "prepare_desks",
    "primary_did",
    "primary_did_salt",
    "seed_tag",
]

DAY_MS = 86_400_000
POINTS_EXPIRY_MS = 365 * DAY_MS  # loyalty lots expire a year after they are earned
DESK_IN_FLIGHT = 32
NOTICE_TEXT = b"dcrm loadtest privacy notice, version 1"
# What a retail CRM asks consent for: (purpose id, DPV purpose) and the data categories each covers.
PURPOSES = (
    ("loyalty-program", "dpv:CustomerRelationshipManagement"),
    ("newsletter", "dpv:DirectMarketing"),
    ("personalisation", "dpv:PersonalisedAdvertising"),
)
CATEGORIES = ("dpv-pd:PurchaseHistory", "dpv-pd:EmailAddress", "dpv-pd:Preference")


def seed_tag(seed: str) -> str:
    """Six hex characters naming a seed in DIDs and class ids, so chains shared by several seeds don't clash."""
    return hashlib.sha256(seed.encode()).hexdigest()[:6]


def customer_key(seed: str, worker: int, index: int) -> SigningKey:
    """The key of customer `index` of locust process `worker`."""
    return derived_key("customer", seed, worker, index)


def primary_did_salt(key: SigningKey) -> bytes:
    """The salt of an account's first DID: fixed per key, so the next run finds the DID instead of making one."""
    return hashlib.sha256(b"dcrm-loadtest/primary-did/" + key.account_id).digest()[:16]


def primary_did(key: SigningKey) -> str:
    """The did:dcrm DID that `key`'s account creates with `primary_did_salt`."""
    return did_for(key.account_id, primary_did_salt(key))


@dataclass(frozen=True)
class Desk:
    """An enterprise desk: its key, controller DID and loyalty class."""

    worker: int
    index: int
    key: SigningKey
    did: str
    class_id: str


def desk_for(seed: str, worker: int, index: int) -> Desk:
    """Desk `index` of locust process `worker`."""
    key = derived_key("desk", seed, worker, index)
    return Desk(worker, index, key, primary_did(key), f"lt-{seed_tag(seed)}-w{worker}-d{index}")


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def consent_terms(purpose_count: int = 2) -> consent_pb2.Terms:
    """Terms of a loyalty-program sign-up: the first `purpose_count` purposes over every data category."""
    return consent_pb2.Terms(
        purposes=[consent_pb2.Purpose(id=purpose, category=dpv) for purpose, dpv in PURPOSES[:purpose_count]],
        data_categories=[consent_pb2.DataCategory(id=category) for category in CATEGORIES],
        lawful_basis="dpv-gdpr:A6-1-a",
        notice=consent_pb2.Notice(
            url="https://loadtest.example/privacy",
            content_hash=hashlib.sha256(NOTICE_TEXT).digest(),
            version="v1",
            language="en",
        ),
        collection_method="web-form",
        collection_channel="mobile-app",
        consent_type=consent_pb2.CONSENT_TYPE_EXPRESS,
        retention_ms=2 * 365 * DAY_MS,
        storage_locations=["EU"],
        jurisdiction="EU",
        withdrawal_method="https://loadtest.example/consent",
    )


def prepare_desks(
    client: Client, admin: Account, desks: Sequence[Desk], log: Callable[[str], None] = print
) -> list[str]:
    """Make every desk ready, skipping what is already done; returns what was done.

    Raises the SDK's errors (for example PermissionDenied when `admin` lacks the admin role).
    """
    done: list[str] = []
    for desk in desks:
        held = set(client.system.account_info(desk.key.account_id).roles)
        for role in (CONTROLLER, ISSUER):
            if role not in held:
                client.system.grant_role(admin, desk.key.account_id, role)
                done.append(f"granted {role} to desk {desk.worker}/{desk.index}")
        account = client.account(desk.key)
        if client.identity.resolve_version(desk.did) is None:
            client.identity.create_did(account, desk.key.public_key, salt=primary_did_salt(desk.key))
            done.append(f"created controller DID {desk.did}")
        try:
            client.tokens.class_info(desk.class_id)
        except NotFound:
            client.tokens.create_class(
                account,
                desk.class_id,
                f"Loadtest points {desk.worker}/{desk.index}",
                "LTP",
                transferable=True,
                expiry_ms=POINTS_EXPIRY_MS,
            )
            done.append(f"created class {desk.class_id}")
    for line in done:
        log(line)
    return done
