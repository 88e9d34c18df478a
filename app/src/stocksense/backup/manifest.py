"""The manifest: which files one backup holds, with their sizes and sha256 hashes."""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass
from typing import Any

from .errors import BackupError, NewerSchemaError

# Bump when the layout changes in a way an older restore would misread.
SCHEMA_VERSION = 1

ID_FORMAT = "%Y%m%dT%H%M%SZ"
_ID = re.compile(r"^\d{8}T\d{6}Z$")
_HEX = re.compile(r"^[0-9a-f]{64}$")
# Logical paths: database/<file> or registry/<relative path>, never absolute or with "..".
_PATH = re.compile(r"^(database/[^/]+|registry/[^\0]+)$")


@dataclass(frozen=True)
class Entry:
    path: str
    size: int
    sha256: str


@dataclass(frozen=True)
class Manifest:
    backup_id: str
    created: str
    app_version: str
    database_kind: str
    files: tuple[Entry, ...]

    def to_json(self) -> bytes:
        doc = {
            "schema_version": SCHEMA_VERSION,
            "backup_id": self.backup_id,
            "created": self.created,
            "app_version": self.app_version,
            "database_kind": self.database_kind,
            "files": [{"path": e.path, "size": e.size, "sha256": e.sha256} for e in self.files],
        }
        return (json.dumps(doc, indent=1) + "\n").encode()

    @property
    def total_bytes(self) -> int:
        return sum(e.size for e in self.files)


def new_backup_id(now: dt.datetime | None = None) -> str:
    return (now or dt.datetime.now(dt.UTC)).strftime(ID_FORMAT)


def check_backup_id(backup_id: str) -> str:
    if not _ID.match(backup_id):
        raise BackupError(f"not a backup id: {backup_id!r} (expected e.g. 20261201T173000Z)")
    return backup_id


def parse(raw: bytes, where: str) -> Manifest:
    try:
        doc = json.loads(raw)
        version = doc["schema_version"]
    except (ValueError, KeyError, TypeError) as exc:
        raise BackupError(f"{where}: not a StockSense backup manifest") from exc
    if not isinstance(version, int) or version > SCHEMA_VERSION:
        raise NewerSchemaError(
            f"{where}: manifest schema version {version} is newer than this StockSense "
            f"understands ({SCHEMA_VERSION}); restore it with a newer StockSense")
    try:
        return Manifest(
            backup_id=check_backup_id(str(doc["backup_id"])),
            created=str(doc["created"]),
            app_version=str(doc["app_version"]),
            database_kind=_kind(doc["database_kind"]),
            files=tuple(_entry(f) for f in doc["files"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise BackupError(f"{where}: malformed manifest ({exc})") from exc


def _kind(value: Any) -> str:
    if value not in ("sqlite", "postgresql"):
        raise ValueError(f"unknown database kind {value!r}")
    return str(value)


def _entry(item: dict[str, Any]) -> Entry:
    path, size, digest = str(item["path"]), int(item["size"]), str(item["sha256"])
    parts = path.split("/")
    if not _PATH.match(path) or ".." in parts or "" in parts or "." in parts:
        raise ValueError(f"unsafe path {path!r}")
    if not _HEX.match(digest) or size < 0:
        raise ValueError(f"bad size or sha256 for {path!r}")
    return Entry(path, size, digest)
