"""Validation of daily OHLCV rows, shared by every loader (yfinance, CSV, seed)."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass


@dataclass(frozen=True)
class PriceRow:
    date: str  # ISO yyyy-mm-dd
    open: float
    high: float
    low: float
    close: float
    adj_close: float
    volume: int

    def as_dict(self) -> dict[str, object]:
        return {
            "date": self.date, "open": self.open, "high": self.high, "low": self.low,
            "close": self.close, "adj_close": self.adj_close, "volume": self.volume,
        }


class PriceValidationError(ValueError):
    """Raised with a message naming the first bad row."""


def check_row(row: PriceRow, where: str) -> None:
    try:
        day = dt.date.fromisoformat(row.date)
    except ValueError as exc:
        raise PriceValidationError(f"{where}: bad date {row.date!r}") from exc
    if day.weekday() >= 5:
        raise PriceValidationError(f"{where}: {row.date} is a weekend, not a trading day")
    for name in ("open", "high", "low", "close", "adj_close"):
        value = getattr(row, name)
        if not isinstance(value, float) or math.isnan(value) or math.isinf(value):
            raise PriceValidationError(f"{where}: {name} is not a number ({value!r})")
        if value <= 0:
            raise PriceValidationError(f"{where}: {name} must be positive, got {value}")
    if row.high < row.low:
        raise PriceValidationError(f"{where}: high {row.high} is below low {row.low}")
    if row.volume < 0:
        raise PriceValidationError(f"{where}: negative volume {row.volume}")


def validate_rows(rows: list[PriceRow], labels: list[str] | None = None) -> list[PriceRow]:
    """Check every row and that dates are strictly increasing (sorted, unique).

    `labels` names each row for error messages (e.g. "line 7"); defaults to the date.
    """
    if not rows:
        raise PriceValidationError("no price rows")
    previous: str | None = None
    for i, row in enumerate(rows):
        where = labels[i] if labels else f"row {row.date}"
        check_row(row, where)
        if previous is not None and row.date <= previous:
            kind = "duplicate" if row.date == previous else "out-of-order"
            raise PriceValidationError(f"{where}: {kind} date {row.date} (after {previous})")
        previous = row.date
    return rows
