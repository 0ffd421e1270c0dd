"""System module storage items."""

from __future__ import annotations

from dcrm.runtime.modules.system.errors import MODULE
from dcrm.runtime.storage import FLAG, U64, StorageMap, StorageValue, proto_codec
from dcrm.v1 import system_pb2

# account id -> next nonce (absent means 0)
NONCES: StorageMap[int] = StorageMap(MODULE, "nonce", U64)
# role + b"/" + account id -> present when the account holds the role
ROLE_MEMBERS: StorageMap[bool] = StorageMap(MODULE, "role", FLAG)
PARAMS: StorageValue[system_pb2.Params] = StorageValue(MODULE, "params", proto_codec(system_pb2.Params))
VALIDATORS: StorageValue[system_pb2.ValidatorSet] = StorageValue(
    MODULE, "validators", proto_codec(system_pb2.ValidatorSet)
)


def role_key(role: str, account: bytes) -> bytes:
    return role.encode() + b"/" + account
