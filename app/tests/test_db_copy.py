"""`stocksense db copy` between SQLite and a real PostgreSQL, in both directions: counts and
checksums, refusal of a non-empty target, --force, idempotence, rollback on a mismatch, the
source left untouched, and clear password-free errors."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from stocksense.cli import cli
from stocksense.data import copy as db_copy
from stocksense.data import queries
from stocksense.data.bundled import load_bundled
from stocksense.data.db import engine_for_url, migrate
from stocksense.data.prices import PriceRow

DATA_TABLES = {"symbols", "prices", "models", "forecasts", "backtests"}


def run_copy(source: str, target: str, *extra: str) -> tuple[int, dict, str]:
    result = CliRunner().invoke(cli, ["db", "copy", "--from", source, "--to", target,
                                      "--json", *extra])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, json.loads(result.stdout), result.stderr


def fill(url: str) -> None:
    """A bit of everything the app stores: bundled prices, awkward floats, JSON, flags, text."""
    engine = engine_for_url(url)
    migrate(engine)
    queries.upsert_prices(engine, "MSFT", load_bundled("MSFT"), name="Microsoft Corporation",
                          source="bundled")
    queries.upsert_prices(engine, "odd", [
        PriceRow("2024-01-02", 0.1 + 0.2, 1e-300 + 1, 1e-300, 2 / 3, 123456789.123456789,
                 9_007_199_254_740_993)], name="Société Générale ✓", source="csv")
    queries.set_watched(engine, "MSFT", True)
    queries.record_model(engine, symbol="MSFT", model_name="lstm", version="20240101T000000Z-ab",
                         created_at="2024-01-01T00:00:00+00:00", data_start="2014-01-02",
                         data_end="2023-12-29", content_hash="sha256:" + "a" * 64,
                         artifact_uri="s3://bucket/models/x", metrics={"mae": 0.1 + 0.2,
                                                                       "ok": True, "n": None})
    queries.record_forecasts(engine, symbol="MSFT", as_of="2023-12-29", entries={
        "lstm": {"model_version": "20240101T000000Z-ab", "predicted_return": -0.0123456789,
                 "predicted_close": 376.04}})
    for refit in (21, 63):
        queries.save_backtest(engine, symbol="MSFT", refit_every=refit,
                              metrics={"lstm": {"mae": refit / 7}},
                              points=[{"date": "2023-12-29", "actual": 1.5, "pred": [1, 2.25]}])
    engine.dispose()


def digests(url: str) -> dict[str, dict]:
    engine = engine_for_url(url)
    with engine.connect() as conn:
        found = {t.name: db_copy.table_digest(conn, t) for t in db_copy.TABLES}
    engine.dispose()
    return found


def count(url: str, table: str) -> int:
    engine = engine_for_url(url)
    with engine.connect() as conn:
        n = conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar()
    engine.dispose()
    return int(n)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/source/stocksense.db"


def test_sqlite_to_postgres_and_back(sqlite_url: str, pg_url: str, tmp_path: Path):
    fill(sqlite_url)
    before = digests(sqlite_url)
    assert before["prices"]["rows"] > 1000 and before["backtests"]["rows"] == 2

    code, out, _ = run_copy(sqlite_url, pg_url)
    assert code == 0 and out["ok"] and not out["replaced"]
    assert out["tables"] == before == digests(pg_url)
    assert set(out["tables"]) == DATA_TABLES
    back = f"sqlite:///{tmp_path}/back/stocksense.db"
    code, out, _ = run_copy(pg_url, back)
    assert code == 0 and digests(back) == before

    # the app reads the PostgreSQL copy as it read SQLite, and its serial ids moved on
    pg = engine_for_url(pg_url)
    assert queries.get_symbol(pg, "ODD")["name"] == "Société Générale ✓"
    assert queries.get_history(pg, "ODD", None)[0]["close"] == 2 / 3
    assert queries.latest_backtest(pg, "MSFT")["refit_every"] == 63
    new_id = queries.save_backtest(pg, symbol="MSFT", refit_every=5, metrics={}, points=[])
    assert new_id == 3
    pg.dispose()


@pytest.fixture
def other_backend(database_url: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """A database on the backend database_url is not on: each direction runs once."""
    if database_url.startswith("postgresql"):
        return f"sqlite:///{tmp_path}/source/stocksense.db"
    return request.getfixturevalue("pg_url")


def test_non_empty_target_is_refused_then_force_replaces_idempotently(
        database_url: str, other_backend: str):
    source = other_backend
    fill(source)
    target = database_url
    engine = engine_for_url(target)
    migrate(engine)
    queries.add_symbol(engine, "OLD", name="stays until --force")
    engine.dispose()

    code, out, err = run_copy(source, target)
    assert code == 2 and not out["ok"] and out["non_empty"] == ["symbols"]
    assert "not empty" in out["error"] and "symbols" in err
    assert count(target, "symbols") == 1 and count(target, "prices") == 0

    code, first, _ = run_copy(source, target, "--force")
    assert code == 0 and first["replaced"]
    code, second, _ = run_copy(source, target, "--force")
    assert code == 0 and second["tables"] == first["tables"] == digests(target)
    assert queries_symbols(target) == ["MSFT", "ODD"]


def queries_symbols(url: str) -> list[str]:
    engine = engine_for_url(url)
    names = [s["symbol"] for s in queries.list_symbols(engine)]
    engine.dispose()
    return names


def test_the_source_is_never_written(sqlite_url: str, pg_url: str, tmp_path: Path):
    fill(sqlite_url)
    db_file = Path(sqlite_url.removeprefix("sqlite:///"))
    hash_before = hashlib.sha256(db_file.read_bytes()).hexdigest()
    assert run_copy(sqlite_url, pg_url)[0] == 0
    assert hashlib.sha256(db_file.read_bytes()).hexdigest() == hash_before
    # a read-only reader of a WAL database may create the -wal/-shm pair, but writes no frame
    wal = db_file.with_name(db_file.name + "-wal")
    assert not wal.exists() or wal.stat().st_size == 0

    pg_before = digests(pg_url)
    assert run_copy(pg_url, f"sqlite:///{tmp_path}/other.db")[0] == 0
    assert digests(pg_url) == pg_before


def test_a_mismatch_rolls_the_target_back(database_url: str, tmp_path: Path, monkeypatch):
    """A row lost on the way (simulated in write_batch) fails the copy with copy_failed naming
    the table; the target keeps nothing of it."""
    source = f"sqlite:///{tmp_path}/src.db"
    fill(source)
    real = db_copy.write_batch

    def lossy(target, table, rows):  # type: ignore[no-untyped-def]
        real(target, table, rows[:-1] if table.name == "prices" else rows)

    monkeypatch.setattr(db_copy, "write_batch", lossy)
    code, out, err = run_copy(source, database_url)
    assert code == 1 and not out["ok"] and out["table"] == "prices"
    assert out["error"].startswith("copy_failed: table prices") and "rolled back" in err
    assert all(count(database_url, t) == 0 for t in DATA_TABLES)


def test_bad_urls_fail_clearly_without_the_password(sqlite_url: str, pg_cluster, pg_url: str):
    from pg import free_port

    fill(sqlite_url)
    closed = f"postgresql://app:hunter2-secret@127.0.0.1:{free_port()}/stocksense"
    right = pg_cluster.add_role("copier", "right-pw", pg_cluster.new_database("copyto"))
    wrong_password = right.replace("right-pw", "hunter2-secret")
    cases = {
        closed: "Connection refused",
        wrong_password: 'password authentication failed for user "copier"',
        "mysql://app:hunter2-secret@127.0.0.1/x": "unsupported database",
        "not a url at all": "not a database URL",
        "sqlite:///:memory:": "needs a file",
        sqlite_url: "same database",
    }
    for target, reason in cases.items():
        code, out, err = run_copy(sqlite_url, target)
        assert code == 2 and reason in out["error"], (target, out)
        assert "hunter2" not in json.dumps(out) + err and "Traceback" not in err
    code, out, _ = run_copy(sqlite_url, right)  # the right password works
    assert code == 0 and out["to"] == right.replace("right-pw", "***")
    code, out, _ = run_copy(pg_url, sqlite_url.replace("source", "x"))  # empty, no schema
    assert code == 2 and "no StockSense schema" in out["error"]
    code, out, _ = run_copy(sqlite_url.replace("source", "missing"), pg_url)
    assert code == 2 and "no SQLite database" in out["error"]


def test_mask_url_hides_passwords_even_unparsed():
    assert db_copy.mask_url("postgresql+psycopg://app:p@ss:w0rd@db:5432/x") == \
        "postgresql+psycopg://app:***@db:5432/x"
    assert db_copy.mask_url("sqlite:////srv/x.db") == "sqlite:////srv/x.db"


def test_a_database_error_mid_copy_rolls_back_in_one_line(database_url: str, tmp_path: Path,
                                                          monkeypatch):
    source = f"sqlite:///{tmp_path}/src.db"
    fill(source)
    real = db_copy.write_batch

    def failing(target, table, rows):  # type: ignore[no-untyped-def]
        if table.name == "backtests":
            raise sa.exc.IntegrityError("INSERT ...", {}, Exception("simulated: disk full"))
        real(target, table, rows)

    monkeypatch.setattr(db_copy, "write_batch", failing)
    code, out, err = run_copy(source, database_url)
    assert code == 1 and out["error"] == \
        "copy failed, the target was rolled back: simulated: disk full"
    assert "Traceback" not in err
    assert all(count(database_url, t) == 0 for t in DATA_TABLES)


def test_to_defaults_to_the_configured_database_with_its_password_file(
        sqlite_url: str, pg_cluster, tmp_path: Path, monkeypatch):
    """The migration's form: --to omitted, the URL without a password, the password in a file."""
    fill(sqlite_url)
    database = pg_cluster.new_database("cfg")
    with_password = pg_cluster.add_role(f"cfg_{database[-6:]}", "s3cret-Pa55", database)
    monkeypatch.setenv("STOCKSENSE_DATABASE_URL", with_password.replace(":s3cret-Pa55@", "@"))
    secret = tmp_path / "database-password"
    secret.write_text("s3cret-Pa55\n")
    monkeypatch.setenv("STOCKSENSE_DATABASE_PASSWORD_FILE", str(secret))
    result = CliRunner().invoke(cli, ["db", "copy", "--from", sqlite_url, "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["tables"] == digests(sqlite_url) == digests(with_password)
    assert "s3cret-Pa55" not in result.output

    secret.unlink()  # an unreadable password file: exit 2, one line, nothing copied
    result = CliRunner().invoke(cli, ["db", "copy", "--from", sqlite_url, "--json"])
    assert result.exit_code == 2
    assert "configured database is unusable" in json.loads(result.stdout)["error"]
