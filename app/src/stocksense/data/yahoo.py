"""Download daily OHLCV from Yahoo Finance via yfinance (ingest extra only).

yfinance does not raise when offline: it logs to stderr and returns an empty
frame, so emptiness is checked here and turned into FetchError.
"""

from __future__ import annotations

import contextlib
import io
import math
from pathlib import Path

from stocksense.data.prices import PriceRow, validate_rows


class FetchError(RuntimeError):
    pass


def fetch_daily(symbol: str, period: str = "10y", cache_dir: Path | None = None) -> list[PriceRow]:
    try:
        import yfinance as yf
    except ImportError as exc:  # serving install
        raise FetchError("yfinance is not installed; pip install 'stocksense[ingest]'") from exc
    if cache_dir is not None:
        # yfinance keeps a timezone cache; keep it under STOCKSENSE_HOME, not ~/.cache.
        cache_dir.mkdir(parents=True, exist_ok=True)
        yf.set_tz_cache_location(str(cache_dir))
    noise = io.StringIO()
    try:
        # yfinance prints its own errors; capture them to report one clear line.
        with contextlib.redirect_stderr(noise), contextlib.redirect_stdout(noise):
            frame = yf.Ticker(symbol).history(period=period, interval="1d", auto_adjust=False,
                                              actions=False, raise_errors=False)
    except Exception as exc:  # network layers raise many types
        raise FetchError(f"download failed: {type(exc).__name__}: {exc}") from exc
    if frame is None or frame.empty:
        detail = noise.getvalue().strip().splitlines()
        hint = f" ({detail[-1][:200]})" if detail else ""
        raise FetchError(f"no data returned (network down or unknown symbol){hint}")
    rows: list[PriceRow] = []
    for stamp, rec in frame.iterrows():
        values = [rec.get(k) for k in ("Open", "High", "Low", "Close")]
        if any(v is None or (isinstance(v, float) and math.isnan(v)) for v in values):
            continue  # Yahoo sometimes emits a partial row for today
        close = float(rec["Close"])
        adj = rec.get("Adj Close", close)
        rows.append(PriceRow(
            date=stamp.date().isoformat(), open=float(rec["Open"]), high=float(rec["High"]),
            low=float(rec["Low"]), close=close,
            adj_close=float(adj) if adj == adj else close, volume=int(rec.get("Volume") or 0),
        ))
    rows.sort(key=lambda r: r.date)
    return validate_rows(rows)
