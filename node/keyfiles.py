"""The validator key at start: a plain key file (development) or an encrypted one unlocked by a passphrase.

The passphrase comes from `[node] key_passphrase_file` (a file only its owner can read; one trailing
newline is ignored) or, when that is unset, from the environment variable `DCRM_KEY_PASSPHRASE`. It is
never logged or put in an error message.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from pathlib import Path

from dcrm.client.errors import DcrmError, KeyFileError
from dcrm.client.keys import SigningKey, load_key
from dcrm.node.config import NodeConfig

__all__ = ["PASSPHRASE_ENV", "PassphraseFileError", "load_validator_key", "node_passphrase", "read_passphrase_file"]

PASSPHRASE_ENV = "DCRM_KEY_PASSPHRASE"  # noqa: S105 (the variable's name, not a secret)
MAX_PASSPHRASE_BYTES = 4096


class PassphraseFileError(DcrmError):
    """The passphrase file cannot be used; the message names it and says why (never its content)."""

    def __init__(self, path: Path, problem: str) -> None:
        self.path = path
        self.problem = problem
        super().__init__(f"passphrase file {path}: {problem}")


def read_passphrase_file(path: Path) -> bytes:
    """The passphrase in `path`, without one trailing newline.

    Raises PassphraseFileError when the file is missing, not a regular file, accessible to group or others,
    larger than 4 KiB, or empty.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except FileNotFoundError:
        raise PassphraseFileError(path, "does not exist") from None
    except OSError as error:
        raise PassphraseFileError(path, f"cannot be opened: {error.strerror}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise PassphraseFileError(path, "is not a regular file")
        mode = stat.S_IMODE(info.st_mode)
        if mode & 0o077:
            raise PassphraseFileError(path, f"has mode {mode:04o}, which lets group or others access it; chmod 600 it")
        data = os.read(fd, MAX_PASSPHRASE_BYTES + 1)
    finally:
        os.close(fd)
    if len(data) > MAX_PASSPHRASE_BYTES:
        raise PassphraseFileError(path, f"is larger than {MAX_PASSPHRASE_BYTES} bytes")
    if data.endswith(b"\r\n"):
        data = data[:-2]
    elif data.endswith(b"\n"):
        data = data[:-1]
    if not data:
        raise PassphraseFileError(path, "is empty")
    return data


def node_passphrase(config: NodeConfig, env: Mapping[str, str]) -> bytes | None:
    """The passphrase for the validator key: the configured file, else DCRM_KEY_PASSPHRASE, else None."""
    if config.key_passphrase_file is not None:
        return read_passphrase_file(config.key_passphrase_file)
    value = env.get(PASSPHRASE_ENV)
    return value.encode("utf-8") if value else None


def load_validator_key(config: NodeConfig, env: Mapping[str, str]) -> SigningKey:
    """The node's validator key, decrypted when the file is encrypted.

    Raises KeyFileError naming the file: unsafe permissions, malformed, encrypted without a passphrase
    (the message says where one is looked for), or a wrong passphrase.
    """
    try:
        return load_key(config.validator_key_path, passphrase=node_passphrase(config, env))
    except KeyFileError as error:
        if error.problem.startswith("is encrypted; its passphrase"):
            raise KeyFileError(
                config.validator_key_path,
                f"is encrypted: set [node] key_passphrase_file in {config.config_path} or the environment "
                f"variable {PASSPHRASE_ENV}",
            ) from None
        raise
