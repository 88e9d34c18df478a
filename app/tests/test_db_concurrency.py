"""Concurrent writers on SQLite and on PostgreSQL: two instances (each with its own engine, as two
processes would have) syncing or refreshing at the same moment end with consistent rows and no
duplicates."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path

import sqlalchemy as sa

from stocksense.data import queries
from stocksense.data.db import get_engine
from stocksense.data.prices import PriceRow
from stocksense.data.sync import sync_deployment
from stocksense.layout import backtest_file_name

WRITERS = 4


def _at_once(settings, work: Callable[[sa.Engine], object]) -> list[object]:
    """Run `work` in WRITERS threads, each with its own engine, released together."""
    barrier = threading.Barrier(WRITERS)
    results: list[object] = [None] * WRITERS

    def run(i: int) -> None:
        engine = get_engine(settings)
        try:
            barrier.wait()
            results[i] = work(engine)
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            results[i] = exc
        finally:
            engine.dispose()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(WRITERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not [r for r in results if isinstance(r, Exception)], results
    return results


def _count(engine: sa.Engine, sql: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.text(sql)).scalar())


def test_concurrent_syncs_store_each_backtest_once(db_settings, db_engine, tmp_path: Path):
    backtests = tmp_path / "backtests"
    backtests.mkdir()
    for symbol in ("MSFT", "NVDA"):
        (backtests / backtest_file_name(symbol)).write_text(json.dumps({
            "symbol": symbol, "created_at": "2026-11-30T00:00:00+00:00", "refit_every": 21,
            "metrics": {"lstm": {"mae": 0.01}}, "points": [{"date": "2024-01-02", "y": 1.0}]}))
    for _ in range(3):  # several rounds: the race needs the writers to overlap
        _at_once(db_settings, lambda e: sync_deployment(e, ["MSFT", "NVDA"], backtests))
    assert _count(db_engine, "SELECT count(*) FROM backtests") == 2
    assert _count(db_engine, "SELECT count(*) FROM symbols WHERE watched = true") == 2
    n_days = _count(db_engine, "SELECT count(*) FROM prices WHERE symbol = 'MSFT'")
    assert n_days > 1000
    assert _count(db_engine, "SELECT count(DISTINCT date) FROM prices WHERE symbol = 'MSFT'") \
        == n_days
    # and a later sync finds nothing to do
    assert sync_deployment(db_engine, ["MSFT", "NVDA"], backtests) == []


def test_concurrent_refreshes_of_overlapping_prices(db_settings, db_engine):
    """Refresh jobs upserting overlapping windows of a new symbol: one row per date, last value
    of any writer, no errors (ON CONFLICT on both backends, SQLite's busy timeout)."""
    def rows(offset: int) -> list[PriceRow]:
        return [PriceRow(f"2024-{m:02d}-{d:02d}", 10.0 + offset, 12.0, 9.0, 10.0, 10.0, 100)
                for m in range(1 + offset, 8 + offset) for d in range(1, 29)]

    counter = iter(range(WRITERS))
    lock = threading.Lock()

    def refresh(engine: sa.Engine) -> int:
        with lock:
            offset = next(counter)
        return queries.upsert_prices(engine, "NEWCO", rows(offset), name="New Co", source="yahoo")

    _at_once(db_settings, refresh)
    expected_dates = {r.date for i in range(WRITERS) for r in rows(i)}
    history = queries.get_history(db_engine, "NEWCO", None)
    assert [h["date"] for h in history] == sorted(expected_dates)
    assert queries.list_symbols(db_engine)[0]["name"] == "New Co"
    assert _count(db_engine, "SELECT count(*) FROM symbols") == 1


def test_instances_starting_together_migrate_a_fresh_database_once(db_settings):
    """N web instances (or a sync and the service) starting at once on an empty database."""
    from stocksense.data.db import MIGRATIONS, current_version, migrate

    for _ in range(3):
        _at_once(db_settings, migrate)
    engine = get_engine(db_settings)
    assert current_version(engine) == len(MIGRATIONS)
    assert _count(engine, "SELECT count(*) FROM schema_version") == len(MIGRATIONS)
    engine.dispose()
