"""`stocksense restore`: download into staging, verify every hash, then swap into place.

Nothing under the live paths changes until every object has been downloaded and matched its size
and sha256. The swap renames the live database and registry to *.before-restore, renames the
staged copies into place, and only then deletes the *.before-restore copies; a failed swap puts
the previous ones back. Run it with the service stopped.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

from stocksense.config import Settings

from .create import LATEST, manifest_key
from .destinations import OBJECTS, Destination, open_destination
from .errors import BackupError
from .hashing import file_digest
from .manifest import Entry, Manifest, check_backup_id, parse
from .sources import (
    PGDUMP_NAME,
    SQLITE_NAME,
    database_kind,
    registry_root,
    restore_postgres,
    sqlite_path,
)

BEFORE = ".before-restore"
SQLITE_SIDECARS = ("-wal", "-shm", "-journal")


def run_restore(dest_url: str, settings: Settings, backup: str = "latest") -> dict:
    started = time.monotonic()
    dest = open_destination(dest_url, create=False)
    manifest = read_manifest(dest, backup)
    kind = database_kind(settings)
    if manifest.database_kind != kind:
        raise BackupError(f"backup {manifest.backup_id} holds a {manifest.database_kind} database "
                          f"but STOCKSENSE_DATABASE_URL is {kind}")
    targets = _Targets(settings, kind, manifest.backup_id)
    targets.refuse_leftovers()
    try:
        for entry in manifest.files:
            _fetch_verified(dest, entry, targets.staged_path(entry.path))
        targets.swap()
    finally:
        targets.clean_staging()
    return {"restored": manifest.backup_id, "files": len(manifest.files),
            "bytes": manifest.total_bytes, "seconds": round(time.monotonic() - started, 3)}


def read_manifest(dest: Destination, backup: str) -> Manifest:
    if backup == "latest":
        raw = dest.get_bytes(LATEST)
        if raw is None:
            raise BackupError(f"no backup at {dest.describe()} ({dest.describe(LATEST)} missing)")
        backup = raw.decode("ascii", "replace").strip()
    key = manifest_key(check_backup_id(backup))
    raw = dest.get_bytes(key)
    if raw is None:
        raise BackupError(f"backup {backup} not found: {dest.describe(key)} missing")
    return parse(raw, dest.describe(key))


def _fetch_verified(dest: Destination, entry: Entry, target: Path) -> None:
    key = f"{OBJECTS}/{entry.sha256}"
    target.parent.mkdir(parents=True, exist_ok=True)
    dest.download(key, target)
    size, digest = file_digest(target)
    if (size, digest) != (entry.size, entry.sha256):
        raise BackupError(f"object {dest.describe(key)} ({entry.path}) is corrupt: expected "
                          f"{entry.size} bytes sha256 {entry.sha256}, got {size} bytes sha256 "
                          f"{digest}; nothing was restored")


class _Targets:
    """The live paths, their staging folders (beside them: renames stay on one file system)."""

    def __init__(self, settings: Settings, kind: str, backup_id: str) -> None:
        self.kind = kind
        self.database_url = settings.database_url
        self.registry_url = settings.registry_url
        self.registry = registry_root(settings)  # None: a remote registry, left alone
        self.database = sqlite_path(settings) if kind == "sqlite" else None
        self.registry_stage = (None if self.registry is None
                               else self.registry.parent / f".restore-{backup_id}-registry")
        self.database_stage = (self.database or settings.home).parent / f".restore-{backup_id}-db"

    def staged_path(self, logical: str) -> Path:
        if logical in (SQLITE_NAME, PGDUMP_NAME):
            return self.database_stage / Path(logical).name
        if logical.startswith("database/"):
            raise BackupError(f"manifest names an unknown database file {logical!r}")
        if self.registry_stage is None:
            raise BackupError(f"the backup holds model files but the registry is "
                              f"{self.registry_url}, not a local folder; nothing was restored "
                              "(publish the models there with `stocksense models push`, or "
                              "restore with a local registry)")
        return self.registry_stage / logical.removeprefix("registry/")

    def live_paths(self) -> list[Path]:
        paths = [] if self.registry is None else [self.registry]
        if self.database is not None:
            paths += [self.database] + [Path(f"{self.database}{s}") for s in SQLITE_SIDECARS]
        return paths

    def refuse_leftovers(self) -> None:
        for path in self.live_paths():
            old = _before(path)
            if old.exists():
                raise BackupError(f"{old} is left from an interrupted restore: move it away "
                                  "after checking which copy is good, then restore again")

    def swap(self) -> None:
        moved: list[Path] = []
        try:
            if self.registry is not None:
                self.registry_stage.mkdir(parents=True, exist_ok=True)  # a backup with no models
                self._swap_into(self.registry, self.registry_stage, moved)
            if self.database is not None:
                for sidecar in SQLITE_SIDECARS:  # a stale WAL must never replay on the new file
                    _move_aside(Path(f"{self.database}{sidecar}"), moved)
                self._swap_into(self.database, self.database_stage / "stocksense.sqlite", moved)
            else:
                restore_postgres(self.database_url, self.database_stage / "stocksense.pgdump")
        except (OSError, BackupError) as exc:
            _roll_back(moved)
            if isinstance(exc, BackupError):
                raise
            raise BackupError(f"swapping the restored files into place failed: {exc}") from exc
        for path in moved:
            _remove(_before(path))

    def _swap_into(self, live: Path, staged: Path, moved: list[Path]) -> None:
        live.parent.mkdir(parents=True, exist_ok=True)
        _match_owner(staged, live)
        _move_aside(live, moved)
        os.replace(staged, live)

    def clean_staging(self) -> None:
        for stage in (self.registry_stage, self.database_stage):
            if stage is not None:
                shutil.rmtree(stage, ignore_errors=True)


def _before(path: Path) -> Path:
    return path.with_name(path.name + BEFORE)


def _move_aside(path: Path, moved: list[Path]) -> None:
    if path.exists():
        os.replace(path, _before(path))
        moved.append(path)


def _roll_back(moved: list[Path]) -> None:
    for path in reversed(moved):
        if path.exists():
            _remove(path)
        os.replace(_before(path), path)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def _match_owner(staged: Path, live: Path) -> None:
    """Run as root, restored files get the owner of what they replace (or of its folder), so
    the service user can still open them."""
    if os.geteuid() != 0:
        return
    ref = live if live.exists() else live.parent
    st = ref.stat()
    for path in [staged, *staged.rglob("*")] if staged.is_dir() else [staged]:
        os.chown(path, st.st_uid, st.st_gid)
