"""What a backup copies: a consistent database snapshot and the model registry's files.

Both are first copied into a private staging folder, then hashed and uploaded from there, so a
service writing at the same time never changes a file between its hash and its upload.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import URL, make_url

from stocksense.config import Settings

from .errors import BackupError

SQLITE_NAME = "database/stocksense.sqlite"
PGDUMP_NAME = "database/stocksense.pgdump"
# The registry writes a version's files first and its `latest` pointer last (registry/stores.py),
# so copying the pointers before everything else never yields a pointer to a missing version.
POINTER_NAME = "latest"


@dataclass(frozen=True)
class Staged:
    logical: str
    path: Path


def database_kind(settings: Settings) -> str:
    backend = _url(settings).get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise BackupError(f"database backend {backend!r} is not supported by backup "
                          "(sqlite or postgresql)")
    return backend


def sqlite_path(settings: Settings) -> Path:
    database = _url(settings).database
    if not database or database == ":memory:":
        raise BackupError("the SQLite database is in memory: nothing to back up")
    return Path(database).expanduser()


def registry_root(settings: Settings) -> Path | None:
    """The local registry folder; None for a remote (s3://) registry.

    A remote registry is not the instance's to back up: S3 keeps every published version itself
    (and the bucket's versioning is the place for more copies), so the backup holds the database.
    """
    if "://" in settings.registry_url:
        return None
    return Path(settings.registry_url).expanduser()


def snapshot_database(settings: Settings, staging: Path) -> list[Staged]:
    if database_kind(settings) == "sqlite":
        return [Staged(SQLITE_NAME, _sqlite_snapshot(sqlite_path(settings), staging))]
    return [Staged(PGDUMP_NAME, _pg_dump(settings, staging))]


def _sqlite_snapshot(source: Path, staging: Path) -> Path:
    """SQLite's online backup API: a consistent copy while the service reads and writes."""
    if not source.is_file():
        raise BackupError(f"database file {source} does not exist")
    target = staging / "stocksense.sqlite"
    src = sqlite3.connect(source, timeout=30)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)
    except sqlite3.Error as exc:
        raise BackupError(f"SQLite online backup of {source} failed: {exc}") from exc
    finally:
        dst.close()
        src.close()
    return target


def _pg_dump(settings: Settings, staging: Path) -> Path:
    target = staging / "stocksense.pgdump"
    argv, env = pg_dump_command(settings.database_url, target)
    _run(argv, env, "pg_dump")
    return target


def pg_dump_command(database_url: str, target: Path) -> tuple[list[str], dict[str, str]]:
    """pg_dump's argv and environment: the password travels in PGPASSWORD, never in argv."""
    conninfo, env = libpq_target(database_url)
    argv = ["pg_dump", "--format=custom", "--no-owner", "--no-privileges",
            f"--file={target}", f"--dbname={conninfo}"]
    return argv, env


def pg_restore_command(database_url: str, dump: Path) -> tuple[list[str], dict[str, str]]:
    """One transaction: the database is either fully restored or left as it was."""
    conninfo, env = libpq_target(database_url)
    argv = ["pg_restore", "--clean", "--if-exists", "--single-transaction", "--exit-on-error",
            "--no-owner", "--no-privileges", f"--dbname={conninfo}", str(dump)]
    return argv, env


def libpq_target(database_url: str) -> tuple[str, dict[str, str]]:
    url = make_url(database_url)
    # URL.set(password=None) keeps the password: build the URL again without it
    plain = URL.create("postgresql", username=url.username, host=url.host, port=url.port,
                       database=url.database, query=url.query)
    env = {"PGPASSWORD": url.password} if url.password else {}
    return plain.render_as_string(hide_password=False), env


def _run(argv: list[str], env: dict[str, str], what: str) -> None:
    try:
        proc = subprocess.run(argv, env={**os.environ, **env}, capture_output=True, text=True,
                              check=False)
    except FileNotFoundError as exc:
        raise BackupError(f"{what} is not installed (Debian: postgresql-client)") from exc
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise BackupError(f"{what} failed (exit {proc.returncode}): {last}")


def restore_postgres(database_url: str, dump: Path) -> None:
    argv, env = pg_restore_command(database_url, dump)
    _run(argv, env, "pg_restore")


def snapshot_registry(settings: Settings, staging: Path) -> list[Staged]:
    root = registry_root(settings)
    if root is None or not root.is_dir():
        return []
    files = sorted(p for p in root.rglob("*") if p.is_file() and not p.name.startswith(".tmp-"))
    pointers = [p for p in files if p.name == POINTER_NAME]
    others = [p for p in files if p.name != POINTER_NAME]
    staged: list[Staged] = []
    for path in pointers + others:
        rel = path.relative_to(root).as_posix()
        copy = staging / "registry" / rel
        copy.parent.mkdir(parents=True, exist_ok=True)
        try:
            shutil.copyfile(path, copy)
        except FileNotFoundError:
            continue  # pruned while we copied: no pointer we hold refers to it
        staged.append(Staged(f"registry/{rel}", copy))
    return staged


def _url(settings: Settings) -> URL:
    try:
        return make_url(settings.database_url)
    except Exception as exc:  # sqlalchemy raises ArgumentError; the URL may hold a password
        raise BackupError("STOCKSENSE_DATABASE_URL is not a database URL") from exc
