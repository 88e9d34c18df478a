import sqlalchemy as sa

from stocksense.data import queries
from stocksense.data.db import MIGRATIONS, current_version, get_engine, migrate
from stocksense.data.prices import PriceRow


def test_migrate_is_idempotent_and_versioned(settings) -> None:
    engine = get_engine(settings)
    assert current_version(engine) == 0
    assert migrate(engine) == len(MIGRATIONS)
    migrate(engine)
    assert current_version(engine) == len(MIGRATIONS)
    with engine.connect() as conn:
        names = set(sa.inspect(conn).get_table_names())
        rows = conn.execute(sa.text("SELECT count(*) FROM schema_version")).scalar()
    assert {"symbols", "prices", "models", "forecasts", "backtests"} <= names
    assert rows == len(MIGRATIONS)


def test_sqlite_file_under_home_in_wal_mode(settings, engine) -> None:
    assert (settings.home / "stocksense.db").exists()
    with engine.connect() as conn:
        assert conn.execute(sa.text("PRAGMA journal_mode")).scalar() == "wal"


def _row(day: str, close: float) -> PriceRow:
    return PriceRow(day, close, close + 1, close - 1, close, close, 1000)


def test_upsert_is_idempotent_and_updates(engine) -> None:
    rows = [_row("2024-01-02", 10.0), _row("2024-01-03", 11.0)]
    assert queries.upsert_prices(engine, "abc", rows) == 2
    queries.upsert_prices(engine, "ABC", rows)
    assert queries.get_symbol(engine, "ABC")["n_days"] == 2
    queries.upsert_prices(engine, "ABC", [_row("2024-01-03", 12.0), _row("2024-01-04", 13.0)])
    hist = queries.get_history(engine, "ABC", None)
    assert [h["date"] for h in hist] == ["2024-01-02", "2024-01-03", "2024-01-04"]
    assert hist[1]["close"] == 12.0
    assert queries.get_history(engine, "ABC", 2)[0]["date"] == "2024-01-03"


def test_symbols_watch_and_backtest_roundtrip(engine) -> None:
    queries.add_symbol(engine, "xyz", name="Xyz Corp")
    queries.set_watched(engine, "XYZ", True)
    listed = queries.list_symbols(engine, watched_only=True)
    assert listed == [{"symbol": "XYZ", "name": "Xyz Corp", "watched": True, "first_date": None,
                       "last_date": None, "n_days": 0}]
    assert queries.latest_backtest(engine, "XYZ") is None
    queries.save_backtest(engine, symbol="XYZ", refit_every=5, metrics={"a": {"mae": 1.0}},
                          points=[{"date": "2024-01-02", "actual": 1.0}])
    bid = queries.save_backtest(engine, symbol="XYZ", refit_every=7, metrics={"a": {"mae": 2.0}},
                                points=[])
    latest = queries.latest_backtest(engine, "XYZ")
    assert latest["refit_every"] == 7 and latest["metrics"]["a"]["mae"] == 2.0
    assert queries.latest_backtest_id(engine, "XYZ") == bid


def test_forecasts_are_recorded_together(engine) -> None:
    queries.add_symbol(engine, "XYZ")
    long_version = "transformer@20261126T032714Z-5b38542f+lstm@20261126T032754Z-df254454"
    entries = {"lstm": {"model_version": "v1", "predicted_return": 0.01, "predicted_close": 10.1},
               "ensemble": {"model_version": long_version, "predicted_return": 0.0,
                            "predicted_close": 10.0}}
    queries.record_forecasts(engine, symbol="XYZ", as_of="2024-01-02", entries=entries)
    with engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT model_name, model_version FROM forecasts ORDER BY model_name")).all()
    assert rows == [("ensemble", long_version), ("lstm", "v1")]
