"""DID versions: reading the newest, finding the one in effect at a past height or time, writing the next,
and deciding who controls a DID."""

from __future__ import annotations

from collections.abc import Callable

from dcrm.runtime.crypto import account_id
from dcrm.runtime.errors import DispatchError
from dcrm.runtime.module import CallContext
from dcrm.runtime.modules.identity import did as did_syntax
from dcrm.runtime.modules.identity import errors
from dcrm.runtime.modules.identity.documents import effective_controllers
from dcrm.runtime.modules.identity.storage import DID_HEAD, DID_VERSIONS, version_key
from dcrm.runtime.state.kv import KVReader
from dcrm.v1 import identity_pb2


def latest_version(state: KVReader, msid: str) -> int:
    return DID_HEAD.get(state, msid.encode()) or 0


def version(state: KVReader, msid: str, number: int) -> identity_pb2.DidVersion:
    found = DID_VERSIONS.get(state, version_key(msid, number))
    if found is None:
        raise RuntimeError(f"identity state is inconsistent: did:dcrm:{msid} has no version {number}")
    return found


def current(state: KVReader, did: str, field: str = "did") -> identity_pb2.DidVersion:
    """The newest version of `did`; BadDid for bad syntax, DidNotFound when it was never created."""
    msid = did_syntax.method_specific_id(did, field)
    newest = latest_version(state, msid)
    if newest == 0:
        raise errors.DID_NOT_FOUND(f"{field} {did} does not exist")
    return version(state, msid, newest)


def active(state: KVReader, did: str, field: str = "did") -> identity_pb2.DidVersion:
    """The newest version of `did`, which must not be deactivated."""
    found = current(state, did, field)
    if found.deactivated:
        raise errors.DID_DEACTIVATED(f"{field} {did} was deactivated at height {found.height}")
    return found


def at_point(state: KVReader, did: str, *, height: int | None, timestamp_ms: int | None) -> tuple[int, int]:
    """(version number in effect at the height or time, newest version number); DidNotFound before creation."""
    msid = did_syntax.method_specific_id(did)
    newest = latest_version(state, msid)
    if newest == 0:
        raise errors.DID_NOT_FOUND(f"did {did} does not exist")
    key: Callable[[identity_pb2.DidVersion], int]
    if height is not None:
        limit, key, unit = height, (lambda found: found.height), "height"
    elif timestamp_ms is not None:
        limit, key, unit = timestamp_ms, (lambda found: found.timestamp_ms), "time (ms)"
    else:
        raise errors.BAD_RESOLUTION_POINT("set height or timestamp_ms")
    # Versions take effect at non-decreasing heights and times: find the last one at or before the limit.
    low, high = 0, newest  # invariant: version `low` (0: none) is in effect, versions after `high` are not
    while low < high:
        middle = (low + high + 1) // 2
        if key(version(state, msid, middle)) <= limit:
            low = middle
        else:
            high = middle - 1
    if low == 0:
        raise errors.DID_NOT_FOUND(f"did {did} did not exist yet at {unit} {limit}")
    return low, newest


def write_next(ctx: CallContext, previous: identity_pb2.DidVersion, updated: identity_pb2.DidVersion) -> int:
    """Store `updated` as the version after `previous`, taking effect at this block; returns its number."""
    msid = did_syntax.method_specific_id(updated.document.id)
    updated.version = previous.version + 1
    updated.height = ctx.block.height
    updated.timestamp_ms = ctx.block.timestamp_ms
    updated.created_height = previous.created_height
    updated.created_ms = previous.created_ms
    DID_VERSIONS.put(ctx.state, version_key(msid, updated.version), updated)
    DID_HEAD.put(ctx.state, msid.encode(), updated.version)
    return updated.version


def write_first(ctx: CallContext, first: identity_pb2.DidVersion) -> None:
    msid = did_syntax.method_specific_id(first.document.id)
    DID_VERSIONS.put(ctx.state, version_key(msid, 1), first)
    DID_HEAD.put(ctx.state, msid.encode(), 1)


def controls(state: KVReader, subject: identity_pb2.DidVersion, account: bytes) -> bool:
    """Whether `account` may change `subject`: it is the controlling account, or it is the account of an
    authentication key of one of the subject's (active) controller DIDs, the subject itself included."""
    if subject.controller_account and subject.controller_account == account:
        return True
    for controller in effective_controllers(subject.document):
        if controller == subject.document.id:
            document = subject.document
        else:
            try:
                document = active(state, controller).document
            except DispatchError:
                continue  # a controller DID that is deactivated controls nothing
        for method in document.verification_methods:
            if method.authentication and account_id(method.public_key) == account:
                return True
    return False


def ensure_controller(state: KVReader, subject: identity_pb2.DidVersion, account: bytes, action: str) -> None:
    if not controls(state, subject, account):
        raise errors.NOT_DID_CONTROLLER(
            f"account {account.hex()} does not control {subject.document.id} ({action} needs its controlling "
            "account or an authentication key of a controller DID)"
        )
