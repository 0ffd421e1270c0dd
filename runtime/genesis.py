"""The genesis document: chain id, start time and each module's configuration.

Its JSON form is what `dcrm node init` writes and what `Runtime.export_genesis` returns, so
`export(build(genesis)) == genesis` can be checked.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["Genesis", "GenesisError", "require_hex", "require_int", "require_keys", "require_list"]


class GenesisError(ValueError):
    """A genesis document is invalid; `field` is the dotted path of the bad value."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


@dataclass(frozen=True)
class Genesis:
    chain_id: str
    timestamp_ms: int
    modules: Mapping[str, Mapping[str, Any]]

    @classmethod
    def from_json(cls, data: Any) -> Genesis:
        require_keys(data, "genesis", required={"chain_id", "timestamp_ms", "modules"})
        chain_id = data["chain_id"]
        if not isinstance(chain_id, str) or not 1 <= len(chain_id) <= 64 or not chain_id.isprintable():
            raise GenesisError("chain_id", "expected a printable string of 1 to 64 characters")
        modules = data["modules"]
        if not isinstance(modules, dict) or not all(isinstance(value, dict) for value in modules.values()):
            raise GenesisError("modules", "expected an object of module name -> configuration object")
        return cls(chain_id, require_int(data["timestamp_ms"], "timestamp_ms"), modules)

    @classmethod
    def from_bytes(cls, raw: bytes) -> Genesis:
        try:
            data = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise GenesisError("genesis", f"not valid JSON: {error}") from None
        return cls.from_json(data)

    def to_json(self) -> dict[str, Any]:
        return {"chain_id": self.chain_id, "timestamp_ms": self.timestamp_ms, "modules": dict(self.modules)}

    def canonical_bytes(self) -> bytes:
        """Sorted-key compact JSON: the bytes the genesis hash covers."""
        return json.dumps(self.to_json(), sort_keys=True, separators=(",", ":")).encode()


def require_keys(value: Any, field: str, *, required: set[str], optional: frozenset[str] = frozenset()) -> None:
    if not isinstance(value, dict):
        raise GenesisError(field, "expected an object")
    missing = sorted(required - value.keys())
    if missing:
        raise GenesisError(f"{field}.{missing[0]}", "is required")
    unknown = sorted(value.keys() - required - optional)
    if unknown:
        raise GenesisError(f"{field}.{unknown[0]}", "is not a known field")


def require_int(value: Any, field: str, *, minimum: int = 0, maximum: int = 2**64 - 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum:
        raise GenesisError(field, f"expected an integer from {minimum} to {maximum}")
    return value


def require_list(value: Any, field: str) -> list[Any]:
    if not isinstance(value, list):
        raise GenesisError(field, "expected a list")
    return value


def require_hex(value: Any, field: str, length: int) -> bytes:
    """Decode a lowercase hex string of exactly `length` bytes."""
    if isinstance(value, str) and len(value) == 2 * length:
        try:
            return bytes.fromhex(value)
        except ValueError:
            pass
    raise GenesisError(field, f"expected {2 * length} hex digits ({length} bytes)")
