"""What other runtime modules may ask the identity module about a DID: read-only, by name, never by raw keys.

Like `dcrm.runtime.modules.system.roles` for roles, this is the one door through which another module (consent)
reads identity state. Every answer is about the DID's newest version:

- `is_dcrm_did(value)`: the syntax alone (no state);
- `did_status(state, did)`: UNKNOWN (never created), ACTIVE, or DEACTIVATED (permanently);
- `is_active(state, did)`: created and not deactivated;
- `controls(state, did, account)`: the DID is active and `account` controls it, by the rule every identity call
  uses: the DID's controlling account, or the account of an authentication key of one of its (active)
  controller DIDs, the DID itself included (docs/did-method.md, 3.3);
- `controlling_account(state, did)`: the active DID's controlling account, or None.
"""

from __future__ import annotations

import enum

from dcrm.runtime.modules.identity import did as did_syntax
from dcrm.runtime.modules.identity import history
from dcrm.runtime.state.kv import KVReader
from dcrm.v1 import identity_pb2

__all__ = ["DidStatus", "controlling_account", "controls", "did_status", "is_active", "is_dcrm_did"]


class DidStatus(enum.Enum):
    UNKNOWN = "unknown"  # no DID with this id was ever created (or the value is not a did:dcrm DID)
    ACTIVE = "active"
    DEACTIVATED = "deactivated"  # permanent: it can no longer act


def is_dcrm_did(value: str) -> bool:
    """Whether `value` is did:dcrm: followed by 1 to 22 base58btc characters (syntax only)."""
    return did_syntax.is_did(value)


def _newest(state: KVReader, did: str) -> identity_pb2.DidVersion | None:
    if not did_syntax.is_did(did):
        return None
    msid = did_syntax.method_specific_id(did)
    newest = history.latest_version(state, msid)
    return history.version(state, msid, newest) if newest else None


def did_status(state: KVReader, did: str) -> DidStatus:
    newest = _newest(state, did)
    if newest is None:
        return DidStatus.UNKNOWN
    return DidStatus.DEACTIVATED if newest.deactivated else DidStatus.ACTIVE


def is_active(state: KVReader, did: str) -> bool:
    return did_status(state, did) is DidStatus.ACTIVE


def controls(state: KVReader, did: str, account: bytes) -> bool:
    """Whether `did` is active and `account` may act for it (False for an unknown or deactivated DID)."""
    newest = _newest(state, did)
    return newest is not None and not newest.deactivated and history.controls(state, newest, account)


def controlling_account(state: KVReader, did: str) -> bytes | None:
    """The controlling account of the active DID; None when it is unknown, deactivated or has none."""
    newest = _newest(state, did)
    if newest is None or newest.deactivated or not newest.controller_account:
        return None
    return bytes(newest.controller_account)
