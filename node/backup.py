"""Backups of a running node's database, and restoring one as a node's data.

LevelDB lets only one process open a database, so a backup is taken through the running node: the Admin
service's `Backup` streams every entry of one LevelDB snapshot (consistent: one head, its state, its
receipts), and `write_backup` writes them into a fresh LevelDB at `OUT/db` with `OUT/backup.json`:

```
{"format": "dcrm-leveldb/1", "chain_id": ..., "height": ..., "head_hash": hex, "state_root": hex,
 "genesis_hash": hex, "entries": N, "digest": hex}
```

`restore_backup` checks the manifest, the digest over every entry and that the backup is of the chain the
node's genesis file describes, then places a copy as the node's `data_dir/db` (atomically: copied beside
it, then renamed). The node must be stopped.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

from dcrm.node.api.admin import BACKUP_FORMAT, entry_digest_update
from dcrm.node.storage.chain_store import ChainStore
from dcrm.node.storage.leveldb_kv import LevelDBKV
from dcrm.v1 import admin_pb2

__all__ = ["MANIFEST_FILE", "BackupError", "BackupManifest", "restore_backup", "write_backup"]

MANIFEST_FILE = "backup.json"
DB_FOLDER = "db"
WRITE_BATCH_ENTRIES = 10_000


class BackupError(RuntimeError):
    """A backup cannot be written, read or restored; the message says why."""


@dataclass(frozen=True)
class BackupManifest:
    format: str
    chain_id: str
    height: int
    head_hash: str
    state_root: str
    genesis_hash: str
    entries: int
    digest: str

    @classmethod
    def read(cls, folder: Path) -> BackupManifest:
        path = folder / MANIFEST_FILE
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
            manifest = cls(**document)
        except FileNotFoundError:
            raise BackupError(f"{folder} is not a backup: {MANIFEST_FILE} is missing") from None
        except (OSError, ValueError, TypeError) as error:
            raise BackupError(f"{path} is not a backup manifest: {error}") from None
        if manifest.format != BACKUP_FORMAT:
            raise BackupError(f"{path}: format {manifest.format!r} is not {BACKUP_FORMAT!r}")
        return manifest


def write_backup(chunks: Iterable[admin_pb2.BackupChunk], out: Path) -> BackupManifest:
    """Write a Backup stream into a new folder `out` (db/ and backup.json); returns the manifest.

    Raises BackupError when `out` exists and is not empty, or the stream is incomplete or does not match
    its trailer; nothing is left at `out` then.
    """
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise BackupError(f"{out} already exists and is not an empty folder; choose a new --out")
    out.mkdir(parents=True, exist_ok=True)
    try:
        return _write(chunks, out)
    except BaseException:
        shutil.rmtree(out, ignore_errors=True)
        raise


def _write(chunks: Iterable[admin_pb2.BackupChunk], out: Path) -> BackupManifest:
    stream = iter(chunks)
    first = next(stream, None)
    if first is None or first.WhichOneof("part") != "header":
        raise BackupError("the node's backup stream did not start with a header")
    header = first.header
    if header.format != BACKUP_FORMAT:
        raise BackupError(f"the node sends backup format {header.format!r}; this dcrm reads {BACKUP_FORMAT!r}")
    digest = hashlib.sha256()
    count = 0
    kv = LevelDBKV(out / DB_FOLDER)
    try:
        trailer: admin_pb2.BackupTrailer | None = None
        batch: dict[bytes, bytes | None] = {}
        for chunk in stream:
            part = chunk.WhichOneof("part")
            if part == "entries":
                for entry in chunk.entries.entries:
                    batch[entry.key] = entry.value
                    entry_digest_update(digest, entry.key, entry.value)
                    count += 1
                if len(batch) >= WRITE_BATCH_ENTRIES:
                    kv.write(batch, sync=False)
                    batch = {}
            elif part == "trailer":
                trailer = chunk.trailer
                break
            else:
                raise BackupError(f"unexpected {part!r} part in the backup stream")
        if batch:
            kv.write(batch, sync=False)
        if trailer is None:
            raise BackupError(f"the backup stream ended after {count} entries without its trailer")
        if trailer.entries != count or trailer.digest != digest.digest():
            same = "match" if trailer.digest == digest.digest() else "differ"
            raise BackupError(
                f"the backup does not match its trailer: {count} entries received, {trailer.entries} sent, "
                f"digests {same}"
            )
        kv.write({}, sync=True)
    finally:
        kv.close()
    manifest = BackupManifest(
        format=header.format,
        chain_id=header.chain_id,
        height=header.height,
        head_hash=header.head_hash.hex(),
        state_root=header.state_root.hex(),
        genesis_hash=header.genesis_hash.hex(),
        entries=count,
        digest=digest.hexdigest(),
    )
    temporary = out / f".{MANIFEST_FILE}.tmp"
    temporary.write_text(json.dumps(asdict(manifest), indent=2) + "\n", encoding="utf-8")
    os.replace(temporary, out / MANIFEST_FILE)  # written last: a manifest means a complete backup
    return manifest


def restore_backup(source: Path, data_dir: Path, genesis_bytes: bytes, *, force: bool = False) -> BackupManifest:
    """Check the backup in `source` and place a copy of it as `data_dir/db`.

    `genesis_bytes` is the canonical genesis of the node being restored: the backup must be of that chain.
    Raises BackupError when the backup is incomplete or corrupt, of another chain, or when `data_dir/db`
    exists and `force` is false (with `force` the old database is replaced).
    """
    manifest = BackupManifest.read(source)
    database = source / DB_FOLDER
    if not database.is_dir():
        raise BackupError(f"{source} is not a complete backup: {DB_FOLDER}/ is missing")
    target = data_dir / DB_FOLDER
    if target.exists() and not force:
        raise BackupError(
            f"{target} already exists: stop the node and pass --force to replace its database, "
            "or point --config at a node with an empty data folder"
        )
    _verify(database, manifest, genesis_bytes)
    data_dir.mkdir(parents=True, exist_ok=True)
    staging = data_dir / f".{DB_FOLDER}.restoring"
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(database, staging)
    old = data_dir / f".{DB_FOLDER}.replaced"
    if target.exists():
        shutil.rmtree(old, ignore_errors=True)
        target.rename(old)
    staging.rename(target)
    shutil.rmtree(old, ignore_errors=True)
    return manifest


def _verify(database: Path, manifest: BackupManifest, genesis_bytes: bytes) -> None:
    try:
        kv = LevelDBKV(database)
    except Exception as error:
        raise BackupError(f"{database} cannot be opened as LevelDB: {error}") from None
    try:
        stored_genesis = ChainStore(kv).genesis_bytes()
        if stored_genesis != genesis_bytes:
            raise BackupError(
                f"the backup is of chain {manifest.chain_id!r} with another genesis than the node's genesis file"
            )
        digest = hashlib.sha256()
        count = 0
        for key, value in kv.iterate(b""):
            entry_digest_update(digest, key, value)
            count += 1
        if count != manifest.entries or digest.hexdigest() != manifest.digest:
            raise BackupError(
                f"the backup is corrupt: {count} entries with digest {digest.hexdigest()[:16]}..., "
                f"the manifest says {manifest.entries} with {manifest.digest[:16]}..."
            )
    finally:
        kv.close()
