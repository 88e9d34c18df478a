"""Refresh robustness on the bundled real prices: splits, bad values, per-symbol failures.

The download is a stand-in for Yahoo (no network in tests): it serves a copy of the
bundled prices with a synthetic 2:1 split applied, the way Yahoo rescales history.
"""

from __future__ import annotations

import logging
import math
from dataclasses import replace

import numpy as np

from stocksense.data import queries
from stocksense.data.bundled import load_bundled
from stocksense.data.cleaning import clean_rows
from stocksense.data.prices import PriceRow
from stocksense.data.refresh import ingest_symbol, refresh_watched

PERIOD_DAYS = {"1mo": 21, "10y": None}


def _split_copy(rows: list[PriceRow], ratio: float = 2.0) -> list[PriceRow]:
    """What Yahoo serves after a ratio:1 split: every price divided, volume multiplied."""
    return [replace(r, open=r.open / ratio, high=r.high / ratio, low=r.low / ratio,
                    close=r.close / ratio, adj_close=r.adj_close / ratio,
                    volume=int(r.volume * ratio)) for r in rows]


def _fetcher(series: dict[str, list[PriceRow]], calls: list[tuple[str, str]]):
    def fetch(symbol, period, _cache):  # type: ignore[no-untyped-def]
        calls.append((symbol, period))
        if symbol not in series:
            raise RuntimeError(f"simulated outage for {symbol}")
        rows = series[symbol]
        days = PERIOD_DAYS[period]
        return (rows[-days:] if days else rows), {}
    return fetch


def _max_daily_drop(engine, symbol: str) -> float:  # type: ignore[no-untyped-def]
    close = np.array([r["close"] for r in queries.get_history(engine, symbol, None)])
    return float(np.min(close[1:] / close[:-1] - 1.0))


def test_split_triggers_full_reingest_in_one_go(seeded_engine, caplog) -> None:
    real = load_bundled("MSFT")
    before_split = len(real) - 5  # the split happens 5 trading days before the end
    queries.replace_history(seeded_engine, "MSFT", real[:before_split])
    calls: list[tuple[str, str]] = []
    fetch = _fetcher({"MSFT": _split_copy(real)}, calls)
    with caplog.at_level(logging.WARNING, logger="stocksense.data.refresh"):
        result = ingest_symbol(seeded_engine, "MSFT", "1mo", fetch=fetch)
    assert result["ok"] and result["reingested"] is True
    assert result["rescaled_days"] == 16 and math.isclose(result["max_rel_diff"], 1.0)
    assert calls == [("MSFT", "1mo"), ("MSFT", "10y")]
    assert "re-ingested the full history" in caplog.text
    stored = queries.get_history(seeded_engine, "MSFT", None)
    assert len(stored) == len(real)
    assert math.isclose(stored[0]["close"], real[0].close / 2)
    # No fake -50% jump anywhere: the worst real day of MSFT is about -15%.
    assert _max_daily_drop(seeded_engine, "MSFT") > -0.2


def test_without_detection_the_split_would_leave_a_fake_crash(seeded_engine) -> None:
    """The guard's counterpart: upserting the last month alone mixes two scales."""
    real = load_bundled("MSFT")
    queries.replace_history(seeded_engine, "MSFT", real[:-5])
    queries.upsert_prices(seeded_engine, "MSFT", _split_copy(real)[-21:])
    assert _max_daily_drop(seeded_engine, "MSFT") < -0.45


def test_unchanged_overlap_is_a_plain_upsert(seeded_engine) -> None:
    real = load_bundled("NVDA")
    queries.replace_history(seeded_engine, "NVDA", real[:-3])
    calls: list[tuple[str, str]] = []
    result = ingest_symbol(seeded_engine, "NVDA", "1mo", fetch=_fetcher({"NVDA": real}, calls))
    assert result["ok"] and result["reingested"] is False and result["rows"] == 21
    assert calls == [("NVDA", "1mo")]
    assert len(queries.get_history(seeded_engine, "NVDA", None)) == len(real)


def test_bad_values_dropped_per_row_and_counted() -> None:
    good = {"date": "2024-01-02", "open": 1.0, "high": 2.0, "low": 0.5, "close": 1.5,
            "adj_close": 1.5, "volume": 100}
    raws = [good,
            {**good, "date": "2024-01-03", "volume": float("nan")},
            {**good, "date": "2024-01-04", "close": float("inf")},
            {**good, "date": "2024-01-05", "low": 0.0},
            {**good, "date": "2024-01-08", "open": -1.0},
            {**good, "date": "2024-01-09", "close": None},
            {**good, "date": "2024-01-10"}]
    rows, dropped = clean_rows(raws)
    assert [r.date for r in rows] == ["2024-01-02", "2024-01-10"]
    assert dropped == {"not_finite": 3, "not_positive": 2}


def test_one_failing_symbol_never_stops_the_others(settings, seeded_engine) -> None:
    for symbol in ("AMZN", "MSFT", "NVDA"):
        queries.set_watched(seeded_engine, symbol, True)
    real = load_bundled("NVDA")
    calls: list[tuple[str, str]] = []
    # AMZN: outage; MSFT: a row whose NaN volume used to abort the whole refresh.
    msft = load_bundled("MSFT")

    def fetch(symbol, period, cache):  # type: ignore[no-untyped-def]
        if symbol == "MSFT":
            raws = [r.as_dict() for r in msft[-21:]]
            raws[3]["volume"] = float("nan")
            return clean_rows(raws)
        return _fetcher({"NVDA": real}, calls)(symbol, period, cache)

    summary = refresh_watched(settings, seeded_engine, fetch=fetch)
    by_symbol = {r["symbol"]: r for r in summary["results"]}
    assert summary["ok"] is False and summary["failed"] == ["AMZN"]
    assert "simulated outage" in by_symbol["AMZN"]["error"]
    assert by_symbol["MSFT"]["ok"] and by_symbol["MSFT"]["dropped"] == 1
    assert by_symbol["NVDA"]["ok"]
