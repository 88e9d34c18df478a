"""`stocksense backup`: snapshot, hash, upload the missing blobs, then the manifest, then LATEST."""

from __future__ import annotations

import datetime as dt
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from stocksense import __version__
from stocksense.config import Settings

from .destinations import OBJECTS, Destination, open_destination
from .errors import BackupError
from .hashing import file_digest
from .manifest import Entry, Manifest, new_backup_id
from .sources import database_kind, snapshot_database, snapshot_registry

LATEST = "backups/LATEST"


def manifest_key(backup_id: str) -> str:
    return f"backups/{backup_id}/manifest.json"


def run_backup(dest_url: str, settings: Settings,
               clock: Callable[[], dt.datetime] | None = None) -> dict:
    """Back up the database and the registry of `settings` to `dest_url`; returns the summary."""
    started = time.monotonic()
    clock = clock or (lambda: dt.datetime.now(dt.UTC))
    dest = open_destination(dest_url, create=True)
    kind = database_kind(settings)
    settings.home.mkdir(parents=True, exist_ok=True)
    # staged under home: the same disk as the data, not a small /tmp
    with tempfile.TemporaryDirectory(prefix=".backup-", dir=settings.home) as tmp:
        staged = snapshot_database(settings, Path(tmp)) + snapshot_registry(settings, Path(tmp))
        entries, paths = [], {}
        for item in staged:
            size, digest = file_digest(item.path)
            entries.append(Entry(item.logical, size, digest))
            paths.setdefault(digest, item.path)
        uploaded = _upload_missing(dest, paths, {e.sha256: e.size for e in entries})
    backup_id = _free_id(dest, clock)
    manifest = Manifest(backup_id, clock().isoformat(timespec="seconds").replace("+00:00", "Z"),
                        __version__, kind, tuple(entries))
    dest.put_bytes(manifest_key(backup_id), manifest.to_json())
    dest.put_bytes(LATEST, f"{backup_id}\n".encode())  # last: a partial backup is never latest
    return {"backup": backup_id, "files": len(entries), "bytes": manifest.total_bytes,
            "uploaded_bytes": uploaded[0], "skipped": len(entries) - uploaded[1],
            "seconds": round(time.monotonic() - started, 3)}


def _upload_missing(dest: Destination, paths: dict[str, Path],
                    sizes: dict[str, int]) -> tuple[int, int]:
    """Upload blobs the destination lacks; (bytes uploaded, number of files they cover)."""
    present = dest.object_digests()
    uploaded_bytes = 0
    for digest, path in paths.items():
        if digest not in present:
            dest.put_file(f"{OBJECTS}/{digest}", path)
            uploaded_bytes += sizes[digest]
    fresh = {d for d in paths if d not in present}
    return uploaded_bytes, len(fresh)


def _free_id(dest: Destination, clock: Callable[[], dt.datetime]) -> str:
    """A timestamp id no earlier backup uses (two backups in one second wait for the next)."""
    for _ in range(3):
        backup_id = new_backup_id(clock())
        if not dest.exists(manifest_key(backup_id)):
            return backup_id
        time.sleep(1.0)
    raise BackupError(f"backup {backup_id} already exists at {dest.describe()}")
