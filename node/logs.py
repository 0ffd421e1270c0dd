"""Logging for the node process: one readable line per record, or one JSON object per line.

Text (the default):

```
2025-01-31T12:00:00.123Z INFO  dcrm.node.service: node 1f2e... listening on 127.0.0.1:50051 height=0
```

JSON (`[log] format = "json"`): `{"ts": "...", "level": "info", "logger": "...", "message": "...", ...}`
with every `extra={...}` field of the record as a key of its own, and `exc` holding a traceback.

Key material never reaches the output: `extra` fields whose names suggest a secret (`private_key`,
`secret`, `seed`, `password`, `mnemonic`, `signing_key`) are written as "[redacted]", and so is any
value that is a signing key object (anything with a `secret` attribute, such as dcrm.client.keys.SigningKey).
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

from dcrm.node.config import LogConfig

__all__ = ["REDACTED", "JsonFormatter", "TextFormatter", "configure_logging", "record_extras"]

REDACTED = "[redacted]"
_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}
_SECRET_NAME = re.compile(r"private|secret|seed|password|passphrase|mnemonic|signing_key", re.IGNORECASE)
# The attributes every LogRecord has; anything else on a record came from `extra=`.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "taskName"}
_HANDLER_NAME = "dcrm"


def _is_secret(name: str, value: object) -> bool:
    return bool(_SECRET_NAME.search(name)) or hasattr(value, "secret")


def _plain(value: object) -> object:
    """A JSON-friendly form of an extra value: bytes as hex, unknown objects as their str()."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {str(key): REDACTED if _is_secret(str(key), item) else _plain(item) for key, item in value.items()}
    return str(value)


def record_extras(record: logging.LogRecord) -> dict[str, object]:
    """The record's `extra=` fields, in the order given, with secrets redacted and bytes as hex."""
    return {
        name: REDACTED if _is_secret(name, value) else _plain(value)
        for name, value in vars(record).items()
        if name not in _STANDARD and not name.startswith("_")
    }


def _timestamp(record: logging.LogRecord) -> str:
    moment = datetime.fromtimestamp(record.created, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{int(record.msecs):03d}Z"


def _one_line(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\r", "\\r").replace("\n", "\\n")


class TextFormatter(logging.Formatter):
    """`<UTC time> <LEVEL> <logger>: <message> key=value ...` on a single line (newlines escaped)."""

    def format(self, record: logging.LogRecord) -> str:
        parts = [_timestamp(record), f"{record.levelname:<5}", f"{record.name}:", record.getMessage()]
        for name, value in record_extras(record).items():
            shown = value if isinstance(value, str) and value and " " not in value else json.dumps(value)
            parts.append(f"{name}={shown}")
        if record.exc_info:
            parts.append("| " + self.formatException(record.exc_info))
        if record.stack_info:
            parts.append("| " + record.stack_info)
        return _one_line(" ".join(parts))


class JsonFormatter(logging.Formatter):
    """One JSON object per record: ts, level, logger, message, then the record's extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        document: dict[str, Any] = {
            "ts": _timestamp(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name, value in record_extras(record).items():
            document.setdefault(name, value)
        if record.exc_info:
            document["exc"] = self.formatException(record.exc_info)
        if record.stack_info:
            document["stack"] = record.stack_info
        return json.dumps(document, ensure_ascii=False, default=str)


def configure_logging(config: LogConfig, stream: TextIO | None = None) -> None:
    """Send every log record at `config.level` or above to `stream` (stderr by default) in `config.format`.

    Calling it again replaces the handler it installed before; other handlers are left alone.
    Raises ValueError for an unknown level or format (load_config never produces one).
    """
    if config.level not in _LEVELS:
        raise ValueError(f"log level must be one of {', '.join(_LEVELS)}, got {config.level!r}")
    if config.format not in ("text", "json"):
        raise ValueError(f'log format must be "text" or "json", got {config.format!r}')
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(JsonFormatter() if config.format == "json" else TextFormatter())
    root = logging.getLogger()
    for old in [existing for existing in root.handlers if existing.get_name() == _HANDLER_NAME]:
        root.removeHandler(old)
        old.close()
    root.addHandler(handler)
    root.setLevel(_LEVELS[config.level])
