"""Ingest and refresh from Yahoo (offline-tolerant); no pandas at import time.

Yahoo rescales every past price after a split (and adjusted closes after a
dividend), but a refresh downloads only the last month. Stored rows that
overlap the download are compared with it; when they disagree beyond
`RESCALE_TOLERANCE`, the symbol's whole history is downloaded again and
swapped in one transaction, so stored history never mixes two scales.
One symbol's failure is reported in its result and never stops the others.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

from stocksense.config import Settings
from stocksense.data import queries
from stocksense.data.prices import PriceRow

log = logging.getLogger(__name__)

# Relative difference of close or adjusted close on an overlapping day above
# which stored history counts as rescaled. Yahoo repeats its numbers to ~1e-6;
# a 2:1 split is 0.5 and a typical dividend re-adjustment 0.002-0.01.
RESCALE_TOLERANCE = 1e-3

# fetch(symbol, period, cache_dir) -> (rows, dropped counts); yahoo by default.
Fetcher = Callable[[str, str, Path | None], tuple[list[PriceRow], dict[str, int]]]


def _default_fetch(symbol: str, period: str,
                   cache_dir: Path | None) -> tuple[list[PriceRow], dict[str, int]]:
    from stocksense.data.yahoo import fetch_daily_report

    return fetch_daily_report(symbol, period, cache_dir)


def rescaled_days(stored: dict[str, tuple[float, float]], rows: list[PriceRow],
                  tolerance: float = RESCALE_TOLERANCE) -> tuple[int, float]:
    """(overlapping days that disagree, largest relative difference)."""
    worst, bad = 0.0, 0
    for row in rows:
        old = stored.get(row.date)
        if old is None:
            continue
        diff = max(abs(old[0] / row.close - 1.0), abs(old[1] / row.adj_close - 1.0))
        worst = max(worst, diff)
        bad += diff > tolerance
    return bad, worst


def _store(engine: Engine, symbol: str, rows: list[PriceRow], period: str, full_period: str,
           fetch: Fetcher, cache: Path | None) -> dict[str, Any]:
    stored = queries.get_closes_between(engine, symbol, rows[0].date, rows[-1].date)
    bad, worst = rescaled_days(stored, rows)
    if not bad:
        n = queries.upsert_prices(engine, symbol, rows, source="yahoo")
        return {"rows": n, "first": rows[0].date, "last": rows[-1].date, "reingested": False}
    if period != full_period:
        rows, more = fetch(symbol, full_period, cache)
        if more:
            log.warning("%s: dropped %d bad row(s) in the full download: %s", symbol,
                        sum(more.values()), more)
    n = queries.replace_history(engine, symbol, rows, source="yahoo")
    log.warning("%s: %d stored day(s) differ from Yahoo by up to %.1f%% (split or dividend "
                "re-adjustment): re-ingested the full history, %d rows %s..%s", symbol, bad,
                100 * worst, n, rows[0].date, rows[-1].date)
    return {"rows": n, "first": rows[0].date, "last": rows[-1].date, "reingested": True,
            "rescaled_days": bad, "max_rel_diff": worst}


def ingest_symbol(engine: Engine, symbol: str, period: str = "10y",
                  settings: Settings | None = None, fetch: Fetcher | None = None,
                  full_period: str = "10y") -> dict[str, Any]:
    """Fetch and store one symbol. A failure returns ok=False and writes nothing."""
    from stocksense.data.symbols import validate_symbol

    fetch = fetch or _default_fetch
    result: dict[str, Any] = {"symbol": symbol, "ok": False}
    try:
        symbol = result["symbol"] = validate_symbol(symbol)
        cache = settings.home / "cache" / "yfinance" if settings else None
        rows, dropped = fetch(symbol, period, cache)
        if not rows:
            raise ValueError("no usable rows downloaded")
        result.update(_store(engine, symbol, rows, period, full_period, fetch, cache))
        result.update(ok=True, dropped=sum(dropped.values()), dropped_by_reason=dropped)
    except Exception as exc:  # noqa: BLE001 - any failure of one symbol is reported, not raised
        log.warning("ingest %s failed: %s: %s", symbol, type(exc).__name__, exc)
        result["error"] = str(exc) or type(exc).__name__
        return result
    log.info("ingested %s: %d rows %s..%s (%d bad rows dropped)", symbol, result["rows"],
             result["first"], result["last"], result["dropped"])
    return result


def refresh_watched(settings: Settings, engine: Engine, period: str = "1mo",
                    fetch: Fetcher | None = None) -> dict[str, Any]:
    watched = [s["symbol"] for s in queries.list_symbols(engine, watched_only=True)]
    results = [ingest_symbol(engine, s, period, settings, fetch) for s in watched]
    failed = [r["symbol"] for r in results if not r["ok"]]
    return {"ok": not failed, "failed": failed, "results": results}
