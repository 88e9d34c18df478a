"""`stocksense backup` / `restore` against a real Debian PostgreSQL (pg_dump / pg_restore).

The run's throwaway cluster (tests/pg.py, the `pg_cluster` fixture) gives each test a fresh
database. The data is written with psql, so the backup commands are checked on their own: they
only shell out to pg_dump and pg_restore. A missing server fails these tests (never a skip).
"""

from __future__ import annotations

from pathlib import Path

from stocksense.backup import run_backup, run_restore
from stocksense.backup.sources import pg_dump_command, pg_restore_command
from stocksense.config import load_settings


def test_postgres_round_trip(pg_cluster, tmp_path: Path):
    name = pg_cluster.new_database("backup")
    url = pg_cluster.url(name, driver="postgresql")

    def psql(sql: str) -> str:
        return pg_cluster.psql(name, sql)

    psql("CREATE TABLE prices (symbol text, day date, close float8); "
         "INSERT INTO prices SELECT 'MSFT', DATE '2020-01-01' + i, i * 1.5 "
         "FROM generate_series(1, 500) AS i")
    settings = load_settings({"STOCKSENSE_HOME": str(tmp_path / "home"),
                              "STOCKSENSE_DATABASE_URL": url})
    (tmp_path / "home" / "registry").mkdir(parents=True)
    (tmp_path / "home" / "registry" / "x.bin").write_bytes(b"model")
    summary = run_backup(str(tmp_path / "dest"), settings)
    manifest = (tmp_path / "dest" / "backups" / summary["backup"] / "manifest.json").read_text()
    assert '"database_kind": "postgresql"' in manifest and "stocksense.pgdump" in manifest

    psql("DELETE FROM prices WHERE day > DATE '2020-06-01'")
    assert psql("SELECT count(*) FROM prices").strip() != "500"
    run_restore(str(tmp_path / "dest"), settings)
    assert psql("SELECT count(*), sum(close) FROM prices").strip() == "500|187875"


def test_pg_commands_keep_the_password_out_of_argv():
    url = "postgresql+psycopg://app:s3cret@db.internal:5433/stocksense?sslmode=require"
    argv, env = pg_dump_command(url, Path("/x/dump"))
    assert argv == ["pg_dump", "--format=custom", "--no-owner", "--no-privileges",
                    "--file=/x/dump",
                    "--dbname=postgresql://app@db.internal:5433/stocksense?sslmode=require"]
    assert env == {"PGPASSWORD": "s3cret"}
    argv, env = pg_restore_command(url, Path("/x/dump"))
    assert "--single-transaction" in argv and "--clean" in argv
    assert not any("s3cret" in a for a in argv)
