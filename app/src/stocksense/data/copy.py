"""Copy every table of the schema from one database to another (`stocksense db copy`).

SQLite -> PostgreSQL (moving a single instance onto RDS) and back. The source is opened read-only
(SQLite: mode=ro; PostgreSQL: read-only transactions) and read in one snapshot. The target gets
the schema (data.db.migrate), then every table in one transaction, in batches; before the commit
each table's row count and checksum on the target are compared with the source's, and any
difference rolls the whole copy back. Passwords never appear in a message (mask_url).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import sqlite3
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.pool import NullPool

from stocksense.data import db, schema

BATCH_ROWS = 1000
# schema_version is the target's own record of its migrations (written by migrate), not data.
TABLES: list[sa.Table] = [t for t in schema.metadata.sorted_tables if t.name != "schema_version"]


class CopyError(Exception):
    """A clear, password-free message and the CLI's exit code."""

    exit_code = 2


class BadDatabase(CopyError):
    """A URL that cannot be used: malformed, unsupported, unreachable, no StockSense schema."""


class TargetNotEmpty(CopyError):
    def __init__(self, message: str, tables: list[str]) -> None:
        super().__init__(message)
        self.tables = tables


class CopyFailed(CopyError):
    """Counts or checksums differ after copying: the target transaction was rolled back."""

    exit_code = 1

    def __init__(self, message: str, table: str) -> None:
        super().__init__(message)
        self.table = table


# --- URLs ------------------------------------------------------------------------------------

# greedy up to the last "@": a password may itself contain "@"
_PASSWORD_IN_URL = re.compile(r"(://[^:/@\s]*:)\S*@")


def mask_url(url: str) -> str:
    """The URL with its password replaced by ***, even when it does not parse."""
    return _PASSWORD_IN_URL.sub(r"\1***@", url)


def _parse(url: str, role: str) -> sa.URL:
    try:
        parsed = make_url(url)
    except Exception as exc:  # noqa: BLE001 - SQLAlchemy's message may echo the URL
        raise BadDatabase(f"--{role}: not a database URL: {mask_url(url)}") from exc
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise BadDatabase(f"--{role}: unsupported database {parsed.get_backend_name()!r} "
                          f"({mask_url(url)}); use sqlite:///PATH or postgresql://...")
    if parsed.get_backend_name() == "sqlite" and parsed.database in (None, "", ":memory:"):
        raise BadDatabase(f"--{role}: a SQLite URL needs a file: sqlite:////path/stocksense.db")
    return parsed


def _identity(url: sa.URL) -> tuple[Any, ...]:
    if url.get_backend_name() == "sqlite":
        return ("sqlite", str(Path(url.database or "").expanduser().resolve()))
    return ("postgresql", url.host, url.port or 5432, url.database)


def _source_engine(url: sa.URL) -> Engine:
    if url.get_backend_name() == "sqlite":
        path = Path(url.database or "").expanduser()
        if not path.is_file():
            raise BadDatabase(f"--from: no SQLite database at {path}")
        uri = f"file:{quote(str(path.resolve()))}?mode=ro"
        # autocommit at the driver, so the explicit BEGIN in _snapshot is ours
        return sa.create_engine("sqlite://", poolclass=NullPool, creator=lambda: sqlite3.connect(
            uri, uri=True, isolation_level=None, timeout=10, check_same_thread=False))
    args = {**db.connect_timeout(url), "options": "-c default_transaction_read_only=on"}
    return sa.create_engine(db.postgres_driver(url), poolclass=NullPool, connect_args=args)


# --- checksums -------------------------------------------------------------------------------

def _normaliser(column: sa.Column) -> Callable[[Any], Any]:
    """Map a value to what SQLite and PostgreSQL agree on (JSON-encodable, exact)."""
    kind = column.type
    if isinstance(kind, sa.JSON):
        # the JSON type hands back Python values on both backends; dump them one canonical way
        return lambda v: json.dumps(v, sort_keys=True, separators=(",", ":"))
    if isinstance(kind, sa.Boolean):
        return lambda v: None if v is None else bool(v)
    if isinstance(kind, sa.Float):
        return lambda v: None if v is None else repr(float(v))  # repr: exact, shortest
    if isinstance(kind, sa.Integer):
        return lambda v: None if v is None else int(v)
    return _plain


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    return None if value is None else str(value)


class TableDigest:
    """Row count and sha256 over the rows ordered by primary key. The order is taken in Python,
    not by ORDER BY, because SQLite (binary) and PostgreSQL (the locale) collate text apart."""

    def __init__(self, table: sa.Table) -> None:
        self.columns = list(table.columns)
        self.normalise = [_normaliser(c) for c in self.columns]
        self.key_at = [self.columns.index(c) for c in table.primary_key.columns]
        self.rows: list[tuple[tuple[Any, ...], bytes]] = []

    def add(self, rows: Iterable[sa.Row]) -> None:
        for row in rows:
            values = [f(v) for f, v in zip(self.normalise, row, strict=True)]
            encoded = json.dumps(values, separators=(",", ":"), ensure_ascii=False).encode()
            self.rows.append((tuple(values[i] for i in self.key_at),
                              hashlib.sha256(encoded).digest()))

    def result(self) -> dict[str, Any]:
        total = hashlib.sha256()
        for _key, digest in sorted(self.rows, key=lambda r: r[0]):
            total.update(digest)
        return {"rows": len(self.rows), "sha256": total.hexdigest()}


def table_digest(conn: sa.Connection, table: sa.Table) -> dict[str, Any]:
    digest = TableDigest(table)
    for batch in _batches(conn, table):
        digest.add(batch)
    return digest.result()


def _batches(conn: sa.Connection, table: sa.Table) -> Iterable[list[sa.Row]]:
    query = sa.select(*table.columns).order_by(*table.primary_key.columns)
    result = conn.execution_options(yield_per=BATCH_ROWS).execute(query)
    yield from result.partitions()


# --- the copy --------------------------------------------------------------------------------

def copy_database(source_url: str, target_url: str, *, force: bool = False) -> dict[str, Any]:
    """Copy every table; returns {"tables": {name: {rows, sha256}}, "rows", "replaced", ...}."""
    source, target = _parse(source_url, "from"), _parse(target_url, "to")
    if _identity(source) == _identity(target):
        raise BadDatabase("--from and --to name the same database")
    started = time.monotonic()
    with _connected(source_url, "from"):
        source_engine = _source_engine(source)
    with _connected(target_url, "to"):
        target_engine = db.engine_for_url(target_url)
    try:
        with _connected(source_url, "from"):
            source_conn = source_engine.connect()
        with source_conn:
            _snapshot(source_conn)
            _check_source_schema(source_conn)
            with _connected(target_url, "to"):
                db.migrate(target_engine)
                target_conn = target_engine.connect()
            with target_conn:
                tables, replaced = _copy_all(source_conn, target_conn, force)
    finally:
        source_engine.dispose()
        target_engine.dispose()
    return {"tables": tables, "rows": sum(t["rows"] for t in tables.values()),
            "replaced": replaced, "seconds": round(time.monotonic() - started, 3)}


def _snapshot(conn: sa.Connection) -> None:
    """Every table read from one consistent state of the source, even while the app writes."""
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("BEGIN")
    else:
        conn.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")


def _check_source_schema(conn: sa.Connection) -> None:
    inspector = sa.inspect(conn)
    missing = [t.name for t in TABLES if not inspector.has_table(t.name)]
    if missing:
        raise BadDatabase(f"--from has no StockSense schema (missing tables: {', '.join(missing)})")
    version = conn.execute(sa.select(sa.func.max(schema.schema_version.c.version))).scalar()
    if int(version or 0) != len(db.MIGRATIONS):
        raise BadDatabase(f"--from is at schema version {version}, this StockSense at "
                          f"{len(db.MIGRATIONS)}: run this release's stocksense against it first")


def _copy_all(source_conn: sa.Connection, target_conn: sa.Connection,
              force: bool) -> tuple[dict[str, Any], bool]:
    # leaving this block by an exception rolls the target back: nothing half-copied remains
    with target_conn.begin():
        non_empty = [t.name for t in TABLES
                     if target_conn.execute(sa.select(sa.func.count()).select_from(t)).scalar()]
        if non_empty and not force:
            raise TargetNotEmpty(
                f"--to is not empty (tables with rows: {', '.join(non_empty)}); "
                "add --force to replace its rows", non_empty)
        for table in reversed(TABLES):
            target_conn.execute(table.delete())
        copied = {t.name: _copy_table(source_conn, target_conn, t) for t in TABLES}
        _advance_sequences(target_conn)
        for table in TABLES:
            _verify(target_conn, table, copied[table.name])
        return copied, bool(non_empty)


def _copy_table(source: sa.Connection, target: sa.Connection, table: sa.Table) -> dict[str, Any]:
    digest = TableDigest(table)
    for batch in _batches(source, table):
        digest.add(batch)
        write_batch(target, table, [dict(r._mapping) for r in batch])
    return digest.result()


def write_batch(target: sa.Connection, table: sa.Table, rows: list[dict[str, Any]]) -> None:
    if rows:
        target.execute(table.insert(), rows)


def _advance_sequences(target: sa.Connection) -> None:
    """PostgreSQL's serial ids do not move when ids are inserted explicitly: set each sequence
    past the copied ids, or the app's next insert would collide with a copied row."""
    if target.dialect.name != "postgresql":
        return
    for table in TABLES:
        for column in table.primary_key.columns:
            if column.autoincrement is True and isinstance(column.type, sa.Integer):
                target.execute(sa.text(
                    f"SELECT setval(pg_get_serial_sequence('{table.name}', '{column.name}'), "
                    f"COALESCE((SELECT max({column.name}) FROM {table.name}), 0) + 1, false)"))


def _verify(target: sa.Connection, table: sa.Table, expected: dict[str, Any]) -> None:
    found = table_digest(target, table)
    if found != expected:
        raise CopyFailed(
            f"copy_failed: table {table.name} differs on --to after copying (rows "
            f"{expected['rows']} -> {found['rows']}, sha256 {expected['sha256'][:12]} -> "
            f"{found['sha256'][:12]}); the target was rolled back", table.name)


class _connected:
    """Turn a driver's connection error into BadDatabase, without the password or a traceback."""

    def __init__(self, url: str, role: str) -> None:
        self.url, self.role = url, role

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind, exc, _tb) -> bool:  # type: ignore[no-untyped-def]
        if isinstance(exc, ModuleNotFoundError):
            raise BadDatabase(f"--{self.role}: the PostgreSQL driver is missing: "
                              "pip install 'stocksense[postgres]'") from None
        if isinstance(exc, sa.exc.OperationalError | sa.exc.InterfaceError):
            raise BadDatabase(f"--{self.role} {mask_url(self.url)}: "
                              f"{_first_line(exc, self.url)}") from None
        return False


def _first_line(exc: sa.exc.DBAPIError, url: str) -> str:
    lines = str(exc.orig or exc).strip().splitlines()
    line = lines[0] if lines else type(exc.orig or exc).__name__
    password = make_url(url).password
    return line.replace(str(password), "***") if password else line
