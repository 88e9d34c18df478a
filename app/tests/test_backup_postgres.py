"""`stocksense backup` / `restore` against a real Debian PostgreSQL 15 (pg_dump / pg_restore).

A throw-away cluster (initdb, trust auth, 127.0.0.1 on a free port, its socket in its own folder)
runs as the `postgres` user when the tests run as root. The data is written with psql, so the
test needs no Python driver: the backup commands only shell out to pg_dump and pg_restore.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest

from stocksense.backup import run_backup, run_restore
from stocksense.backup.sources import pg_dump_command, pg_restore_command
from stocksense.config import load_settings

PG_BIN = Path("/usr/lib/postgresql/15/bin")


def _as_pg(argv: list[str], **kw) -> subprocess.CompletedProcess[str]:
    prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    return subprocess.run(prefix + argv, capture_output=True, text=True, check=True, **kw)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def cluster():
    if not (PG_BIN / "initdb").exists():
        pytest.skip("Debian's PostgreSQL 15 server is not installed here")
    # not under pytest's tmp folder: that one is private to root, and the server runs as postgres
    data = Path(tempfile.mkdtemp(prefix="stocksense-pg-"))
    if os.geteuid() == 0:
        shutil.chown(data, "postgres", "postgres")
    port = _free_port()
    _as_pg([str(PG_BIN / "initdb"), "-D", str(data / "db"), "--auth=trust", "-U", "postgres"])
    _as_pg([str(PG_BIN / "pg_ctl"), "-D", str(data / "db"), "-w", "-l", str(data / "log"),
            "-o", f"-p {port} -k {data} -c listen_addresses=127.0.0.1", "start"])
    url = f"postgresql://postgres@127.0.0.1:{port}/stocksense"
    try:
        _psql(port, "postgres", "CREATE DATABASE stocksense")
        yield port, url
    finally:
        _as_pg([str(PG_BIN / "pg_ctl"), "-D", str(data / "db"), "-m", "fast", "stop"])
        shutil.rmtree(data, ignore_errors=True)


def _psql(port: int, db: str, sql: str) -> str:
    return subprocess.run([str(PG_BIN / "psql"), "-h", "127.0.0.1", "-p", str(port), "-U",
                           "postgres", "-d", db, "-At", "-v", "ON_ERROR_STOP=1", "-c", sql],
                          capture_output=True, text=True, check=True).stdout


def test_postgres_round_trip(cluster, tmp_path: Path):
    port, url = cluster
    _psql(port, "stocksense", "CREATE TABLE prices (symbol text, day date, close float8); "
          "INSERT INTO prices SELECT 'MSFT', DATE '2020-01-01' + i, i * 1.5 "
          "FROM generate_series(1, 500) AS i")
    settings = load_settings({"STOCKSENSE_HOME": str(tmp_path / "home"),
                              "STOCKSENSE_DATABASE_URL": url})
    (tmp_path / "home" / "registry").mkdir(parents=True)
    (tmp_path / "home" / "registry" / "x.bin").write_bytes(b"model")
    summary = run_backup(str(tmp_path / "dest"), settings)
    manifest = (tmp_path / "dest" / "backups" / summary["backup"] / "manifest.json").read_text()
    assert '"database_kind": "postgresql"' in manifest and "stocksense.pgdump" in manifest

    _psql(port, "stocksense", "DELETE FROM prices WHERE day > DATE '2020-06-01'")
    assert _psql(port, "stocksense", "SELECT count(*) FROM prices").strip() != "500"
    run_restore(str(tmp_path / "dest"), settings)
    assert _psql(port, "stocksense", "SELECT count(*), sum(close) FROM prices").strip() == \
        "500|187875"


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
