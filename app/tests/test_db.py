"""The schema, its migrations and every query the app uses, each run on SQLite AND on a real
PostgreSQL (the `database_url` fixture: ids `sqlite` and `postgres`)."""

import pytest
import sqlalchemy as sa

from stocksense.data import db, queries
from stocksense.data.db import MIGRATIONS, current_version, get_engine, migrate
from stocksense.data.prices import PriceRow

TABLES = {"schema_version", "symbols", "prices", "models", "forecasts", "backtests"}
LONG_VERSION = "transformer@20261126T032714Z-5b38542f+lstm@20261126T032754Z-df254454"


def test_migrate_is_idempotent_and_versioned(db_settings) -> None:
    engine = get_engine(db_settings)
    assert current_version(engine) == 0
    assert migrate(engine) == len(MIGRATIONS)
    migrate(engine)
    assert current_version(engine) == len(MIGRATIONS)
    with engine.connect() as conn:
        names = set(sa.inspect(conn).get_table_names())
        rows = conn.execute(sa.text("SELECT count(*) FROM schema_version")).scalar()
    assert TABLES <= names
    assert rows == len(MIGRATIONS)
    engine.dispose()


def test_migration_from_v1_widens_the_forecast_version(db_settings, monkeypatch) -> None:
    """A database left at v1 (model_version VARCHAR(64), as released) is brought to the newest
    version and then stores the ensemble's long combined version."""
    engine = get_engine(db_settings)
    monkeypatch.setattr(db, "MIGRATIONS", MIGRATIONS[:1])
    migrate(engine)
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(sa.text(
                "ALTER TABLE forecasts ALTER COLUMN model_version TYPE VARCHAR(64)"))
    assert current_version(engine) == 1
    monkeypatch.setattr(db, "MIGRATIONS", MIGRATIONS)
    migrate(engine)
    assert current_version(engine) == len(MIGRATIONS)
    queries.add_symbol(engine, "XYZ")
    queries.record_forecasts(engine, symbol="XYZ", as_of="2024-01-02", entries={
        "ensemble": {"model_version": LONG_VERSION, "predicted_return": 0.0,
                     "predicted_close": 10.0}})
    with engine.connect() as conn:
        stored = conn.execute(sa.text("SELECT model_version FROM forecasts")).scalar()
    assert stored == LONG_VERSION
    engine.dispose()


def test_sqlite_file_under_home_in_wal_mode(settings, engine) -> None:
    assert (settings.home / "stocksense.db").exists()
    with engine.connect() as conn:
        assert conn.execute(sa.text("PRAGMA journal_mode")).scalar() == "wal"


def test_plain_postgresql_url_uses_psycopg(pg_url) -> None:
    """`postgresql://` as RDS writes it (no driver) works with the `postgres` extra's psycopg 3."""
    from stocksense.config import load_settings

    url = pg_url.replace("postgresql+psycopg://", "postgresql://")
    engine = get_engine(load_settings({"STOCKSENSE_DATABASE_URL": url}))
    assert engine.dialect.driver == "psycopg"
    assert migrate(engine) == len(MIGRATIONS)
    engine.dispose()


def _row(day: str, close: float) -> PriceRow:
    return PriceRow(day, close, close + 1, close - 1, close, close, 1000)


def test_upsert_is_idempotent_and_updates(db_engine) -> None:
    engine = db_engine
    rows = [_row("2024-01-02", 10.0), _row("2024-01-03", 11.0)]
    assert queries.upsert_prices(engine, "abc", rows) == 2
    queries.upsert_prices(engine, "ABC", rows)
    assert queries.get_symbol(engine, "ABC")["n_days"] == 2
    queries.upsert_prices(engine, "ABC", [_row("2024-01-03", 12.0), _row("2024-01-04", 13.0)])
    hist = queries.get_history(engine, "ABC", None)
    assert [h["date"] for h in hist] == ["2024-01-02", "2024-01-03", "2024-01-04"]
    assert hist[1]["close"] == 12.0 and hist[1]["volume"] == 1000
    assert queries.get_history(engine, "ABC", 2)[0]["date"] == "2024-01-03"
    info = queries.get_symbol(engine, "ABC")
    assert (info["first_date"], info["last_date"], info["n_days"]) == \
        ("2024-01-02", "2024-01-04", 3)
    assert queries.get_closes_between(engine, "ABC", "2024-01-03", "2024-01-04") == \
        {"2024-01-03": (12.0, 12.0), "2024-01-04": (13.0, 13.0)}


def test_upsert_of_many_rows_is_batched_and_exact(db_engine) -> None:
    rows = [_row(f"20{y:02d}-{m:02d}-{d:02d}", 1.0 + y + m / 100 + d / 10_000)
            for y in range(10, 14) for m in range(1, 13) for d in range(1, 29)]
    assert queries.upsert_prices(db_engine, "BIG", rows, source="csv") == len(rows) > 500
    hist = queries.get_history(db_engine, "BIG", None)
    assert [(h["date"], h["close"]) for h in hist] == [(r.date, r.close) for r in rows]


def test_replace_history_swaps_everything(db_engine) -> None:
    queries.upsert_prices(db_engine, "ABC", [_row("2024-01-02", 10.0), _row("2024-01-03", 11.0)])
    assert queries.replace_history(db_engine, "ABC", [_row("2024-01-03", 5.5)]) == 1
    assert [(h["date"], h["close"]) for h in queries.get_history(db_engine, "ABC", None)] == \
        [("2024-01-03", 5.5)]
    with pytest.raises(ValueError, match="nothing"):
        queries.replace_history(db_engine, "ABC", [])


def test_symbols_watch_and_backtest_roundtrip(db_engine) -> None:
    engine = db_engine
    queries.add_symbol(engine, "xyz", name="Xyz Corp")
    queries.add_symbol(engine, "XYZ")  # no name: keeps the one stored
    queries.set_watched(engine, "XYZ", True)
    queries.set_watched(engine, "OTHER", False)
    listed = queries.list_symbols(engine, watched_only=True)
    assert listed == [{"symbol": "XYZ", "name": "Xyz Corp", "watched": True, "first_date": None,
                       "last_date": None, "n_days": 0}]
    assert [s["symbol"] for s in queries.list_symbols(engine)] == ["OTHER", "XYZ"]
    assert queries.latest_backtest(engine, "XYZ") is None
    assert queries.latest_backtest_id(engine, "XYZ") is None
    queries.save_backtest(engine, symbol="XYZ", refit_every=5, metrics={"a": {"mae": 1.0}},
                          points=[{"date": "2024-01-02", "actual": 1.0}])
    bid = queries.save_backtest(engine, symbol="XYZ", refit_every=7, metrics={"a": {"mae": 2.0}},
                                points=[])
    latest = queries.latest_backtest(engine, "XYZ")
    assert latest["refit_every"] == 7 and latest["metrics"]["a"]["mae"] == 2.0
    assert latest["points"] == []
    assert queries.latest_backtest_id(engine, "XYZ") == bid
    assert queries.latest_backtest_metrics(engine, "XYZ") == {"a": {"mae": 2.0}}


def test_models_are_recorded_once_per_version(db_engine) -> None:
    fields = dict(symbol="XYZ", model_name="lstm", version="v1", created_at="2024-01-02T00:00:00",
                  data_start="2020-01-01", data_end="2024-01-01", content_hash="sha256:ab",
                  artifact_uri="file:///x", metrics={"mae": 0.5, "nested": [1, 2]})
    queries.record_model(db_engine, **fields)
    with pytest.raises(sa.exc.IntegrityError):
        queries.record_model(db_engine, **fields)
    with db_engine.connect() as conn:
        metrics = conn.execute(sa.text("SELECT metrics FROM models")).scalar()
    assert (metrics if isinstance(metrics, dict) else __import__("json").loads(metrics)) == \
        {"mae": 0.5, "nested": [1, 2]}


def test_forecasts_are_recorded_together(db_engine) -> None:
    engine = db_engine
    queries.add_symbol(engine, "XYZ")
    entries = {"lstm": {"model_version": "v1", "predicted_return": 0.01, "predicted_close": 10.1},
               "ensemble": {"model_version": LONG_VERSION, "predicted_return": 0.0,
                            "predicted_close": 10.0}}
    queries.record_forecasts(engine, symbol="XYZ", as_of="2024-01-02", entries=entries)
    with engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT model_name, model_version FROM forecasts ORDER BY model_name")).all()
    assert rows == [("ensemble", LONG_VERSION), ("lstm", "v1")]


def test_forecast_for_an_unknown_symbol_is_refused(db_engine) -> None:
    """The foreign key holds on both backends (SQLite: PRAGMA foreign_keys=ON)."""
    with pytest.raises(sa.exc.IntegrityError):
        queries.record_forecasts(db_engine, symbol="NOPE", as_of="2024-01-02", entries={
            "lstm": {"model_version": "v1", "predicted_return": 0.0, "predicted_close": 1.0}})
