"""Bring the database in line with a deployment without touching live data (`stocksense data sync`).

- a watched symbol without any prices gets the bundled prices (only when it has none);
- the watched flags follow the deployment's symbols (others are unwatched, their data kept);
- <backtests>/<SYMBOL>.json (a backtest exported on the controller) is stored when it differs from
  the symbol's latest backtest.
Each step returns what it did, so a second run with nothing to change reports no actions.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

from stocksense.data import queries
from stocksense.layout import backtest_file_name

# What makes two backtests the same for the sync (their ids and timestamps differ).
BACKTEST_IDENTITY = ("refit_every", "metrics", "points")


class NothingToSeed(LookupError):
    """A watched symbol has no prices and none are bundled; .actions says what was seeded before."""

    def __init__(self, message: str, actions: list[str]) -> None:
        super().__init__(message)
        self.actions = actions


def sync_deployment(engine: Engine, symbols: Sequence[str], backtests: Path) -> list[str]:
    """All three steps, in order; the actions taken (empty when nothing changed)."""
    actions = seed_missing_prices(engine, symbols)
    actions += apply_watchlist(engine, symbols)
    actions += import_backtests(engine, symbols, backtests)
    return actions


def seed_missing_prices(engine: Engine, symbols: Sequence[str]) -> list[str]:
    from stocksense.data.bundled import BUNDLED, load_bundled

    actions: list[str] = []
    for symbol in symbols:
        row = queries.get_symbol(engine, symbol)
        if row is not None and row.get("n_days"):
            continue
        if symbol not in BUNDLED:
            raise NothingToSeed(f"{symbol} has no prices and none are bundled; "
                                f"load them with `stocksense ingest {symbol}`", actions)
        rows = load_bundled(symbol)
        queries.upsert_prices(engine, symbol, rows, name=BUNDLED[symbol], source="bundled")
        actions.append(f"seeded {symbol}: {len(rows)} bundled rows")
    return actions


def apply_watchlist(engine: Engine, symbols: Sequence[str]) -> list[str]:
    wanted = set(symbols)
    actions: list[str] = []
    for row in queries.list_symbols(engine):
        watch = row["symbol"] in wanted
        if bool(row["watched"]) != watch:
            queries.set_watched(engine, row["symbol"], watch)
            actions.append(f"{'watch' if watch else 'unwatch'} {row['symbol']}")
    return actions


def import_backtests(engine: Engine, symbols: Sequence[str], backtests: Path) -> list[str]:
    actions: list[str] = []
    for symbol in symbols:
        path = backtests / backtest_file_name(symbol)
        if not path.is_file():
            continue
        shipped = json.loads(path.read_text(encoding="utf-8"))
        # check and store in one locked transaction: instances syncing at once store it once
        stored = queries.save_backtest_unless(
            engine, symbol=symbol, refit_every=int(shipped["refit_every"]),
            metrics=shipped["metrics"], points=shipped["points"],
            same=lambda latest, new: _identity(latest) == _identity(new))
        if stored is not None:
            actions.append(f"stored backtest of {symbol} from {shipped.get('created_at')}")
    return actions


def _identity(backtest: dict[str, Any]) -> str:
    return json.dumps([backtest[k] for k in BACKTEST_IDENTITY], sort_keys=True, default=str)
