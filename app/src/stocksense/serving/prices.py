"""Where the forecast reads its prices and backtest choice: the database, or a prices object.

ForecastService needs three things per symbol: how many days are stored, the last N days, and
the latest backtest's metrics (its out-of-sample choice of point and band). `DbPrices` reads
them from the database (the web service); `ObjectPrices` from the prices object the refresh job
writes (`write_prices_object`), so the Lambda predict function needs no database connection.

The prices object (format `stocksense.layout.PRICES_OBJECT_FORMAT`), one JSON document:
    {"format": 1, "written_at": ISO-8601, "days": N,
     "symbols": {SYMBOL: {"prices": [{date, open, high, low, close, adj_close, volume}, ...],
                          "backtest_metrics": {...} | null}}}
holding the last N trading days (oldest first) of each symbol, N >= any model's window plus
SERVING_LOOKBACK, so a forecast from it equals the database's.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy.engine import Engine

from stocksense.data import queries
from stocksense.data.symbols import validate_symbol
from stocksense.layout import PRICES_OBJECT_DAYS, PRICES_OBJECT_FORMAT
from stocksense.registry.errors import RegistryUnavailable
from stocksense.registry.stores import ArtifactStore, LocalStore, S3Store


class PricesSource(Protocol):
    def n_days(self, symbol: str) -> int: ...
    def history(self, symbol: str, days: int) -> list[dict[str, Any]]: ...
    def backtest_metrics(self, symbol: str) -> dict[str, Any] | None: ...


class DbPrices:
    """The database (SQLite or PostgreSQL) as a prices source."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def n_days(self, symbol: str) -> int:
        info = queries.get_symbol(self.engine, symbol)
        return int(info["n_days"] or 0) if info else 0

    def history(self, symbol: str, days: int) -> list[dict[str, Any]]:
        return queries.get_history(self.engine, symbol, days)

    def backtest_metrics(self, symbol: str) -> dict[str, Any] | None:
        return queries.latest_backtest_metrics(self.engine, symbol)


class PricesObjectError(ValueError):
    """The prices object is not one this code can read."""


class ObjectPrices:
    """A prices object (parsed once) as a prices source."""

    def __init__(self, document: Mapping[str, Any]) -> None:
        if not isinstance(document, Mapping) or document.get("format") != PRICES_OBJECT_FORMAT:
            found = document.get("format") if isinstance(document, Mapping) else None
            raise PricesObjectError(
                f"prices object format {found!r}, expected {PRICES_OBJECT_FORMAT}")
        self.written_at = document.get("written_at")
        self._symbols: Mapping[str, Any] = document.get("symbols") or {}

    @classmethod
    def from_bytes(cls, raw: bytes) -> ObjectPrices:
        try:
            return cls(json.loads(raw))
        except (ValueError, UnicodeDecodeError) as exc:
            raise PricesObjectError(f"prices object is not JSON: {exc}") from exc

    def _entry(self, symbol: str) -> Mapping[str, Any]:
        return self._symbols.get(validate_symbol(symbol)) or {}

    def n_days(self, symbol: str) -> int:
        return len(self._entry(symbol).get("prices") or ())

    def history(self, symbol: str, days: int) -> list[dict[str, Any]]:
        rows = list(self._entry(symbol).get("prices") or ())
        return rows[-int(days):] if days else rows

    def backtest_metrics(self, symbol: str) -> dict[str, Any] | None:
        return self._entry(symbol).get("backtest_metrics")


def prices_object(engine: Engine, symbols: Iterable[str] | None = None,
                  days: int = PRICES_OBJECT_DAYS) -> bytes:
    """The prices object of `symbols` (default: every stored symbol) from the database.

    The refresh job writes it where the predict function reads it (STOCKSENSE_PRICES_OBJECT).
    """
    db = DbPrices(engine)
    names = (sorted(validate_symbol(s) for s in symbols) if symbols is not None
             else [s["symbol"] for s in queries.list_symbols(engine)])
    return encode_prices_object({name: {"prices": db.history(name, days),
                                        "backtest_metrics": db.backtest_metrics(name)}
                                 for name in names if db.n_days(name)}, days)


def encode_prices_object(entries: Mapping[str, Mapping[str, Any]],
                         days: int = PRICES_OBJECT_DAYS) -> bytes:
    """The prices object's bytes for {SYMBOL: {"prices": [...], "backtest_metrics": ...}}: the
    database's (prices_object) or the refresh function's (stocksense.lambda_refresh)."""
    document = {
        "format": PRICES_OBJECT_FORMAT,
        "written_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "days": days,
        "symbols": dict(entries),
    }
    return json.dumps(document, separators=(",", ":"), default=str).encode()


def open_object(url: str) -> tuple[ArtifactStore, str]:
    """(store, key) of one object: s3://bucket[/prefix]/name or a file path."""
    if url.startswith("s3://"):
        parent, _, key = url.rpartition("/")
        if not key or parent == "s3:/":
            raise ValueError(f"not an object URL: {url!r} (s3://bucket/key.json)")
        return S3Store(parent), key
    path = Path(url.removeprefix("file://")).expanduser()
    return LocalStore(path.parent), path.name


def _content(raw: bytes | None) -> Any:
    """What a prices object says, without its write time (None when unreadable)."""
    try:
        document = json.loads(raw) if raw else None
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(document, Mapping):
        return None
    return {k: v for k, v in document.items() if k != "written_at"}


class PricesObjectWriteFailed(Exception):
    """The prices object could not be read back or written (S3 or the file system)."""


def write_prices_object(engine: Engine, store: ArtifactStore, key: str,
                        symbols: Iterable[str] | None = None,
                        days: int = PRICES_OBJECT_DAYS) -> dict[str, Any]:
    """Write the prices object to `key` of `store` (open_object) unless the one there already
    says the same (so a refresh that fetched nothing new writes nothing, and the predict function
    re-reads nothing).

    Returns {"to", "symbols", "bytes", "changed"}. An S3 PUT and a local rename are atomic: a
    reader sees the previous object or this one. Raises PricesObjectWriteFailed.
    """
    return store_prices_object(store, key, prices_object(engine, symbols, days))


def store_prices_object(store: ArtifactStore, key: str, data: bytes) -> dict[str, Any]:
    """Write `data` (encode_prices_object) to `key` of `store` unless the object there says the
    same; what write_prices_object returns and raises."""
    try:
        changed = _content(store.read_bytes(key)) != _content(data)
        if changed:
            store.write_bytes(key, data)
    except (RegistryUnavailable, OSError) as exc:
        raise PricesObjectWriteFailed(f"writing the prices object failed: {exc}") from exc
    return {"to": store.uri(key), "symbols": len(json.loads(data)["symbols"]),
            "bytes": len(data), "changed": changed}
