"""System module genesis: validators, roles, nonces and chain parameters."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dcrm.runtime.genesis import GenesisError, require_hex, require_int, require_keys, require_list
from dcrm.runtime.modules.system import roles
from dcrm.runtime.modules.system.storage import NONCES, PARAMS, ROLE_MEMBERS, VALIDATORS, role_key
from dcrm.runtime.state.kv import KVReader
from dcrm.runtime.state.overlay import Overlay
from dcrm.v1 import system_pb2

FIELD = "modules.system"
PUBLIC_KEY_LENGTH = 33
DEFAULT_PARAMS = {"max_future_nonces": 64, "max_validity_blocks": 100_000, "max_call_bytes": 65_536}


def build(state: Overlay, config: Mapping[str, Any]) -> None:
    require_keys(config, FIELD, required={"validators", "roles"}, optional=frozenset({"params", "nonces"}))
    validators = _parse_validators(config["validators"])
    VALIDATORS.put(state, system_pb2.ValidatorSet(public_keys=validators))
    PARAMS.put(state, _parse_params(config.get("params", DEFAULT_PARAMS)))
    role_table = config["roles"]
    require_keys(role_table, f"{FIELD}.roles", required={roles.ADMIN}, optional=frozenset(roles.KNOWN_ROLES))
    for role in sorted(role_table):
        accounts = require_list(role_table[role], f"{FIELD}.roles.{role}")
        if role == roles.ADMIN and not accounts:
            raise GenesisError(f"{FIELD}.roles.admin", "at least one admin is required")
        for position, value in enumerate(accounts):
            account = require_hex(value, f"{FIELD}.roles.{role}[{position}]", roles.ACCOUNT_LENGTH)
            ROLE_MEMBERS.put(state, role_key(role, account), True)
    nonces = config.get("nonces", {})
    if not isinstance(nonces, dict):
        raise GenesisError(f"{FIELD}.nonces", "expected an object of account -> nonce")
    for value in sorted(nonces):
        field = f"{FIELD}.nonces.{value}"
        NONCES.put(state, require_hex(value, field, roles.ACCOUNT_LENGTH), require_int(nonces[value], field))


def export(state: KVReader) -> dict[str, Any]:
    validators = VALIDATORS.get(state) or system_pb2.ValidatorSet()
    params = PARAMS.get(state) or system_pb2.Params()
    role_table = {
        role: [account.hex() for account in roles.members(state, role)]
        for role in roles.KNOWN_ROLES
        if roles.members(state, role)
    }
    config: dict[str, Any] = {
        "validators": [key.hex() for key in validators.public_keys],
        "roles": role_table,
        "params": {
            "max_future_nonces": params.max_future_nonces,
            "max_validity_blocks": params.max_validity_blocks,
            "max_call_bytes": params.max_call_bytes,
        },
    }
    nonces = {account.hex(): nonce for account, nonce in NONCES.items(state) if nonce}
    if nonces:
        config["nonces"] = nonces
    return config


def _parse_validators(value: Any) -> list[bytes]:
    keys = [
        require_hex(item, f"{FIELD}.validators[{position}]", PUBLIC_KEY_LENGTH)
        for position, item in enumerate(require_list(value, f"{FIELD}.validators"))
    ]
    if not keys:
        raise GenesisError(f"{FIELD}.validators", "at least one validator is required")
    if len(set(keys)) != len(keys):
        raise GenesisError(f"{FIELD}.validators", "a validator key is listed twice")
    for position, key in enumerate(keys):
        if key[0] not in (2, 3):
            raise GenesisError(f"{FIELD}.validators[{position}]", "expected a compressed secp256k1 public key")
    return keys


def _parse_params(value: Any) -> system_pb2.Params:
    field = f"{FIELD}.params"
    require_keys(value, field, required=set(DEFAULT_PARAMS))
    return system_pb2.Params(
        max_future_nonces=require_int(
            value["max_future_nonces"], f"{field}.max_future_nonces", minimum=1, maximum=10_000
        ),
        max_validity_blocks=require_int(
            value["max_validity_blocks"], f"{field}.max_validity_blocks", minimum=1, maximum=10_000_000
        ),
        max_call_bytes=require_int(value["max_call_bytes"], f"{field}.max_call_bytes", minimum=64, maximum=4 << 20),
    )
