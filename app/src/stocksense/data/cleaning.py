"""Drop unusable downloaded rows one by one instead of failing the whole symbol.

A download (Yahoo) sometimes carries a NaN volume, an infinite or zero price,
or a partial row for today. Each such row is dropped and counted by reason;
the counts go into the log and the ingest summary, and the rest is kept.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from stocksense.data.prices import PriceRow

PRICE_FIELDS = ("open", "high", "low", "close", "adj_close")


def _finite(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _reason(raw: Mapping[str, Any]) -> str | None:
    """Why a raw row is unusable (None when it is fine)."""
    try:
        if dt.date.fromisoformat(str(raw.get("date"))[:10]).weekday() >= 5:
            return "weekend"
    except ValueError:
        return "bad_date"
    prices = [_finite(raw.get(k)) for k in PRICE_FIELDS]
    if any(p is None for p in prices):
        return "not_finite"
    if any(p <= 0 for p in prices):  # type: ignore[operator]
        return "not_positive"
    if prices[1] < prices[2]:  # type: ignore[operator]
        return "high_below_low"
    volume = _finite(raw.get("volume"))
    if volume is None:
        return "not_finite"
    if volume < 0:
        return "negative_volume"
    return None


def clean_rows(raws: Iterable[Mapping[str, Any]]) -> tuple[list[PriceRow], dict[str, int]]:
    """Valid rows sorted by date (last one wins on a repeated date) and drop counts."""
    dropped: Counter[str] = Counter()
    by_date: dict[str, PriceRow] = {}
    for raw in raws:
        reason = _reason(raw)
        if reason is not None:
            dropped[reason] += 1
            continue
        day = str(raw["date"])[:10]
        if day in by_date:
            dropped["duplicate_date"] += 1
        by_date[day] = PriceRow(
            date=day, **{k: float(raw[k]) for k in PRICE_FIELDS},
            volume=int(round(float(raw["volume"]))),
        )
    return [by_date[d] for d in sorted(by_date)], dict(dropped)
