"""Files that hold secrets (key files): written new with mode 0600 and synced, read only when they are regular
files that group and others cannot access, and never past a size limit.

Shared by the client's key files (dcrm.client.keys) and the node's peer key files. Each caller passes its own
error class as `error`; it is raised as `error(path, problem)`, the problem a phrase such as "does not exist".
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable

__all__ = ["FileError", "read_private_file", "write_private_file"]

# An exception class (or factory) taking the file's path and what is wrong with it.
FileError = Callable[[str | os.PathLike[str], str], Exception]


def write_private_file(
    path: str | os.PathLike[str],
    data: bytes,
    error: FileError,
    *,
    replace: bool = False,
    missing_directory: str | None = None,
) -> None:
    """Write `data` to a new file at `path` with mode 0600, synced.

    With `replace`, the data goes to a new file beside `path` that then replaces it atomically. Raises `error`
    when the file exists (without `replace`; with it, when the new file is left by an interrupted write) or
    cannot be written; `missing_directory`, when given, is the problem of a directory that does not exist. A
    partly written file is removed.
    """
    target = os.fspath(path)
    written = f"{target}.new" if replace else target
    try:
        fd = os.open(written, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        if replace:
            raise error(written, "already exists (left by an interrupted write?); remove it first") from None
        raise error(path, "already exists; refusing to overwrite it") from None
    except FileNotFoundError as failure:
        if missing_directory is not None:
            raise error(path, missing_directory) from None
        raise error(path, f"cannot be created: {failure.strerror}") from None
    except OSError as failure:
        raise error(path, f"cannot be created: {failure.strerror}") from None
    try:
        try:
            os.fchmod(fd, 0o600)
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        if replace:
            os.replace(written, target)
    except OSError as failure:
        os.unlink(written)
        raise error(path, f"cannot be written: {failure.strerror}") from None


def read_private_file(
    path: str | os.PathLike[str],
    error: FileError,
    *,
    limit: int,
    too_large: Callable[[int], str],
    grew: str,
    access_advice: str,
    permission_denied: str | None = None,
) -> bytes:
    """The bytes of the regular file at `path`, of at most `limit` bytes, that group and others cannot access.

    Raises `error(path, problem)` when the file is missing, cannot be opened or read (`permission_denied`, when
    given, is the problem of a file this process may not open), is not a regular file (a FIFO does not block
    it), has a mode that lets group or others access it (the problem ends with `access_advice`), is larger
    than `limit` (`too_large(size)`) or grows past it while being read (`grew`).
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # a FIFO must not block
    except FileNotFoundError:
        raise error(path, "does not exist") from None
    except PermissionError as failure:
        if permission_denied is not None:
            raise error(path, permission_denied) from None
        raise error(path, f"cannot be opened: {failure.strerror}") from None
    except OSError as failure:
        raise error(path, f"cannot be opened: {failure.strerror}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise error(path, "is not a regular file")
        mode = stat.S_IMODE(info.st_mode)
        if mode & 0o077:
            raise error(path, f"has mode {mode:04o}, which lets group or others {access_advice}")
        if info.st_size > limit:
            raise error(path, too_large(info.st_size))
        data = b""
        while len(data) <= limit and (chunk := os.read(fd, limit + 1 - len(data))):
            data += chunk
        if len(data) > limit:
            raise error(path, grew)
        return data
    except OSError as failure:
        raise error(path, f"cannot be read: {failure.strerror}") from None
    finally:
        os.close(fd)
