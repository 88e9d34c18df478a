"""The daily refresh on AWS Lambda, run by an EventBridge rule: stocksense.lambda_refresh.handler.

It refreshes the prices object the predict function reads (STOCKSENSE_PRICES_OBJECT,
s3://bucket/key.json or a file) without any database: it reads the object, downloads the last
month of daily prices of each symbol in it from Yahoo Finance (stocksense.data.yahoo, the
ingest extra: this function's zip is not the predict function's), merges them into that symbol's
stored days and writes the whole object back through the same writer as
`stocksense refresh --prices-object` (stocksense.serving.prices.store_prices_object): one S3 PUT,
and only when something changed.

- The symbols refreshed are those in the object: `stocksense prices export` (or the instance's
  refresh) writes the first object and adds a symbol with its backtest; this function only keeps
  the prices current.
- A symbol that fails to download keeps its previous prices: the object is never half written.
- When Yahoo rescaled the overlapping days (a split or a dividend re-adjustment), the symbol's
  whole window is downloaded again and replaces the old one, as `stocksense refresh` does, so one
  series never mixes two scales.
- The handler prints one JSON summary line (CloudWatch Logs) and returns it; it raises when no
  symbol could be refreshed, so the invocation counts in the function's Errors metric and the
  previous object stays as it was.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from stocksense.data.prices import PriceRow
from stocksense.data.refresh import Fetcher, rescaled_days
from stocksense.layout import PRICES_OBJECT_DAYS
from stocksense.serving.prices import (
    ObjectPrices,
    encode_prices_object,
    open_object,
    store_prices_object,
)

LAMBDA_HOME = "/tmp/stocksense"  # the only writable folder on Lambda: yfinance's timezone cache
RECENT_PERIOD = "1mo"  # a daily run overlaps the stored days by weeks: a missed day is caught up
# A rescaled symbol's whole window again: PRICES_OBJECT_DAYS (512 trading days) is about two
# years, so 5 years always covers it.
FULL_PERIOD = "5y"


class NothingRefreshed(RuntimeError):
    """No symbol could be refreshed (or there is no prices object): the invocation fails."""


def _yahoo(
    symbol: str, period: str, cache_dir: Path | None
) -> tuple[list[PriceRow], dict[str, int]]:
    from stocksense.data.yahoo import fetch_daily_report  # yfinance and pandas: first call only

    return fetch_daily_report(symbol, period, cache_dir)


def merged_prices(
    old: list[Mapping[str, Any]], new: list[PriceRow], days: int
) -> list[dict[str, Any]]:
    """The last `days` days of `old` with `new` laid over them (a downloaded day wins)."""
    by_date = {str(row["date"]): dict(row) for row in old}
    by_date.update((row.date, row.as_dict()) for row in new)
    return [by_date[day] for day in sorted(by_date)][-days:]


def refreshed_entry(
    symbol: str, entry: Mapping[str, Any], fetch: Fetcher, cache_dir: Path | None, days: int
) -> tuple[dict[str, Any], bool]:
    """(the symbol's new entry, whether its window was downloaded again). Raises on any failure."""
    old = list(entry.get("prices") or ())
    rows, _ = fetch(symbol, RECENT_PERIOD, cache_dir)
    if not rows:
        raise ValueError("no usable rows downloaded")
    stored = {str(r["date"]): (float(r["close"]), float(r["adj_close"])) for r in old}
    rescaled, _ = rescaled_days(stored, rows)
    if rescaled:
        rows, _ = fetch(symbol, FULL_PERIOD, cache_dir)
        old = []
    return {**entry, "prices": merged_prices(old, rows, days)}, bool(rescaled)


def refresh_prices_object(
    url: str, fetch: Fetcher | None = None, cache_dir: Path | None = None
) -> dict[str, Any]:
    """Refresh every symbol of the prices object at `url` and write it back when it changed.

    Returns the summary {"ok", "to", "refreshed", "reingested", "failed", "symbols", "bytes",
    "changed"}. Raises NothingRefreshed (the object untouched) when no symbol was refreshed.
    """
    fetch = fetch or _yahoo
    store, key = open_object(url)
    raw = store.read_bytes(key)
    if raw is None:
        raise NothingRefreshed(
            f"no prices object at {store.uri(key)}: write the first one with "
            "stocksense prices export --to URL"
        )
    ObjectPrices.from_bytes(raw)  # a format this code reads, or PricesObjectError
    document = json.loads(raw)
    days = int(document.get("days") or PRICES_OBJECT_DAYS)
    entries = dict(document.get("symbols") or {})
    refreshed, reingested, failed = [], [], {}
    for symbol in sorted(entries):
        try:
            entries[symbol], again = refreshed_entry(
                symbol, entries[symbol], fetch, cache_dir, days
            )
        except Exception as exc:  # noqa: BLE001 - one symbol's failure keeps its old prices
            failed[symbol] = f"{type(exc).__name__}: {exc}"[:300]
            continue
        refreshed.append(symbol)
        if again:
            reingested.append(symbol)
    summary: dict[str, Any] = {
        "ok": not failed,
        "to": store.uri(key),
        "refreshed": refreshed,
        "reingested": reingested,
        "failed": failed,
    }
    if not refreshed:
        raise NothingRefreshed(json.dumps({**summary, "ok": False, "changed": False}))
    return {**summary, **store_prices_object(store, key, encode_prices_object(entries, days))}


def handler(event: Any = None, context: Any = None) -> dict[str, Any]:
    """The Lambda entry point (EventBridge's scheduled event is ignored). Prints one JSON line."""
    url = os.environ.get("STOCKSENSE_PRICES_OBJECT")
    if not url:
        raise NothingRefreshed("STOCKSENSE_PRICES_OBJECT is not set (s3://bucket/key.json)")
    home = Path(os.environ.get("STOCKSENSE_HOME") or LAMBDA_HOME)
    try:
        summary = refresh_prices_object(url, cache_dir=home / "cache" / "yfinance")
    except Exception as exc:
        print(
            json.dumps({"ok": False, "to": url, "error": f"{type(exc).__name__}: {exc}"[:2000]}),
            flush=True,
        )
        raise
    print(json.dumps(summary), flush=True)
    return summary
