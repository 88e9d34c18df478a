"""Refresh watched symbols from Yahoo (offline-tolerant); no pandas at import time."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.engine import Engine

from stocksense.config import Settings
from stocksense.data import queries

log = logging.getLogger(__name__)


def ingest_symbol(engine: Engine, symbol: str, period: str = "10y",
                  settings: Settings | None = None) -> dict[str, Any]:
    """Fetch and upsert one symbol. Failures return ok=False and write nothing."""
    from stocksense.data.prices import PriceValidationError
    from stocksense.data.symbols import InvalidSymbol, validate_symbol
    from stocksense.data.yahoo import FetchError, fetch_daily

    try:
        symbol = validate_symbol(symbol)
        cache = settings.home / "cache" / "yfinance" if settings else None
        rows = fetch_daily(symbol, period=period, cache_dir=cache)
    except (InvalidSymbol, FetchError, PriceValidationError) as exc:
        log.warning("ingest %s failed: %s", symbol, exc)
        return {"symbol": symbol, "ok": False, "error": str(exc)}
    n = queries.upsert_prices(engine, symbol, rows, source="yahoo")
    log.info("ingested %s: %d rows %s..%s", symbol, n, rows[0].date, rows[-1].date)
    return {"symbol": symbol, "ok": True, "rows": n, "first": rows[0].date, "last": rows[-1].date}


def refresh_watched(settings: Settings, engine: Engine, period: str = "1mo") -> dict[str, Any]:
    watched = [s["symbol"] for s in queries.list_symbols(engine, watched_only=True)]
    results = [ingest_symbol(engine, s, period, settings) for s in watched]
    return {"ok": all(r["ok"] for r in results), "results": results}
