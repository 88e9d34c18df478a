"""Download daily OHLCV from Yahoo Finance via yfinance (ingest extra only).

yfinance does not raise when offline: it logs to stderr and returns an empty
frame, so emptiness is checked here and turned into FetchError. Bad rows
(NaN, inf, zero or negative values) are dropped one by one and counted.
"""

from __future__ import annotations

import contextlib
import io
import logging
from pathlib import Path

from stocksense.data.cleaning import clean_rows
from stocksense.data.prices import PriceRow, validate_rows

log = logging.getLogger(__name__)
# yfinance period that covers everything a re-ingest after a split needs.
FULL_PERIOD = "10y"


class FetchError(RuntimeError):
    pass


def _download(symbol: str, period: str, cache_dir: Path | None):  # type: ignore[no-untyped-def]
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
    return frame


def fetch_daily_report(symbol: str, period: str = FULL_PERIOD,
                       cache_dir: Path | None = None) -> tuple[list[PriceRow], dict[str, int]]:
    """Valid rows and the count of dropped rows by reason."""
    frame = _download(symbol, period, cache_dir)
    raws = []
    for stamp, rec in frame.iterrows():
        close = rec.get("Close")
        adj = rec.get("Adj Close")
        raws.append({"date": stamp.date().isoformat(), "open": rec.get("Open"),
                     "high": rec.get("High"), "low": rec.get("Low"), "close": close,
                     "adj_close": close if adj is None or adj != adj else adj,
                     "volume": rec.get("Volume")})
    rows, dropped = clean_rows(raws)
    if dropped:
        log.warning("%s: dropped %d bad downloaded row(s): %s", symbol, sum(dropped.values()),
                    dropped)
    if not rows:
        raise FetchError(f"no usable rows among {len(raws)} downloaded")
    return validate_rows(rows), dropped


def fetch_daily(symbol: str, period: str = FULL_PERIOD,
                cache_dir: Path | None = None) -> list[PriceRow]:
    return fetch_daily_report(symbol, period, cache_dir)[0]
