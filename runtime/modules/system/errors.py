"""System module errors. Codes are the wire enum dcrm.v1.system.Error; never renumber."""

from __future__ import annotations

from dcrm.runtime.errors import ErrorKind, ModuleErrors
from dcrm.v1 import system_pb2

MODULE = "system"
INDEX = 0


_define = ModuleErrors(MODULE, INDEX).define


MISSING_ROLE = _define(
    system_pb2.MISSING_ROLE,
    "MissingRole",
    "the caller does not hold the role the call requires",
    ErrorKind.PERMISSION_DENIED,
)
UNKNOWN_ROLE = _define(
    system_pb2.UNKNOWN_ROLE,
    "UnknownRole",
    "the role is not one the chain defines",
    ErrorKind.INVALID_ARGUMENT,
)
ROLE_ALREADY_GRANTED = _define(
    system_pb2.ROLE_ALREADY_GRANTED, "RoleAlreadyGranted", "the account already holds the role"
)
ROLE_NOT_HELD = _define(system_pb2.ROLE_NOT_HELD, "RoleNotHeld", "the account does not hold the role")
LAST_ADMIN = _define(system_pb2.LAST_ADMIN, "LastAdmin", "revoking would leave the chain without an admin")
NOTE_TOO_LONG = _define(
    system_pb2.NOTE_TOO_LONG,
    "NoteTooLong",
    "a remark note is longer than 256 bytes",
    ErrorKind.INVALID_ARGUMENT,
)
BAD_ACCOUNT = _define(system_pb2.BAD_ACCOUNT, "BadAccount", "an account id is not 20 bytes", ErrorKind.INVALID_ARGUMENT)
UNKNOWN_CALL = _define(
    system_pb2.UNKNOWN_CALL,
    "UnknownCall",
    "no module or method has the call's index",
    ErrorKind.INVALID_ARGUMENT,
)
BAD_ARGUMENTS = _define(
    system_pb2.BAD_ARGUMENTS,
    "BadArguments",
    "the call's arguments do not decode as the method's message",
    ErrorKind.INVALID_ARGUMENT,
)
CALL_PANICKED = _define(
    system_pb2.CALL_PANICKED, "CallPanicked", "the call raised an unexpected error; nothing was written"
)

ALL = (
    MISSING_ROLE,
    UNKNOWN_ROLE,
    ROLE_ALREADY_GRANTED,
    ROLE_NOT_HELD,
    LAST_ADMIN,
    NOTE_TOO_LONG,
    BAD_ACCOUNT,
    UNKNOWN_CALL,
    BAD_ARGUMENTS,
    CALL_PANICKED,
)
