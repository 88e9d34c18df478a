"""Engine creation (SQLite WAL by default, any SQLAlchemy URL) and migrations."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url

from stocksense.config import Settings
from stocksense.data import schema


def _sqlite_pragmas(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
    cur = dbapi_conn.cursor()
    # WAL lets the web server read while `ingest`/`train` write.
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.close()


def get_engine(settings: Settings) -> Engine:
    settings.home.mkdir(parents=True, exist_ok=True)
    return engine_for_url(settings.database_url)


def engine_for_url(database_url: str) -> Engine:
    """An engine for any URL the app accepts (also `stocksense db copy`'s target)."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            Path(url.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, connect_args={"timeout": 10})
        sa.event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return sa.create_engine(postgres_driver(url), pool_pre_ping=True,
                            connect_args=connect_timeout(url))


def postgres_driver(url: sa.URL) -> sa.URL:
    """`postgresql://` (as RDS and libpq write it) means psycopg 3, the driver the `postgres`
    extra installs; SQLAlchemy would otherwise look for psycopg2."""
    if url.drivername == "postgresql":
        return url.set(drivername="postgresql+psycopg")
    return url


def connect_timeout(url: sa.URL) -> dict[str, int]:
    # libpq waits forever for a host that drops packets; readiness and the CLI must not hang.
    if url.get_backend_name() == "postgresql" and "connect_timeout" not in url.query:
        return {"connect_timeout": 5}
    return {}


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def _v1_initial(conn: sa.Connection) -> None:
    for table in (schema.symbols, schema.prices, schema.models, schema.forecasts,
                  schema.backtests):
        table.create(conn, checkfirst=True)


def _v2_widen_forecast_version(conn: sa.Connection) -> None:
    # v1 had VARCHAR(64), too short for the ensemble's combined version on
    # PostgreSQL. SQLite does not enforce VARCHAR lengths, so nothing to do there.
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text(
            "ALTER TABLE forecasts ALTER COLUMN model_version TYPE VARCHAR(200)"))


# Append-only: each step moves the schema from version i to i+1. Never edit a
# released step; add a new one (ALTER TABLE ...) instead. Step 1 creates the
# tables from the current definitions, so later steps must be idempotent.
MIGRATIONS: list[Callable[[sa.Connection], None]] = [_v1_initial, _v2_widen_forecast_version]


def current_version(engine: Engine) -> int:
    with engine.connect() as conn:
        if not sa.inspect(conn).has_table("schema_version"):
            return 0
        value = conn.execute(sa.select(sa.func.max(schema.schema_version.c.version))).scalar()
        return int(value or 0)


# Any constant: the PostgreSQL advisory lock all StockSense processes take to migrate.
MIGRATE_LOCK = 0x5704_5E45


def _one_migrator_at_a_time(conn: sa.Connection) -> None:
    """Instances starting together on a fresh database migrate one after the other, each then
    seeing what the previous one did (else: "table schema_version already exists")."""
    if conn.dialect.name == "sqlite":
        # pysqlite runs DDL outside any transaction; take SQLite's write lock up front
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    elif conn.dialect.name == "postgresql":
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATE_LOCK})


def migrate(engine: Engine) -> int:
    """Bring the schema to the newest version; safe to call on every start."""
    if current_version(engine) >= len(MIGRATIONS):
        return len(MIGRATIONS)  # the common case: no lock taken
    with engine.begin() as conn:
        _one_migrator_at_a_time(conn)
        schema.schema_version.create(conn, checkfirst=True)
        applied = conn.execute(sa.select(sa.func.max(schema.schema_version.c.version))).scalar()
        applied = int(applied or 0)
        for number, step in enumerate(MIGRATIONS, start=1):
            if number <= applied:
                continue
            step(conn)
            conn.execute(schema.schema_version.insert().values(version=number, applied_at=_now()))
    return len(MIGRATIONS)
