"""Bring the database in line with a deployment without touching live data (`stocksense data sync`).

- a watched symbol without any prices gets the bundled prices (only when it has none);
- the watched flags follow the deployment's symbols (others are unwatched, their data kept);
- <backtests>/<SYMBOL>.json (a backtest exported on the controller) is stored when it differs from
  the symbol's latest backtest.
Each step returns what it did, so a second run with nothing to change reports no actions. The
backtest files are read and checked first: a bad one (BadBacktests) stops the sync before it writes.
"""

from __future__ import annotations

import json
import stat
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


class BadBacktests(ValueError):
    """The backtests folder or a <SYMBOL>.json in it cannot be read or is not a backtest; the
    message names the path."""


def sync_deployment(engine: Engine, symbols: Sequence[str], backtests: Path) -> list[str]:
    """All three steps, in order; the actions taken (empty when nothing changed)."""
    shipped = read_backtests(symbols, backtests)  # before any write: bad input changes nothing
    actions = seed_missing_prices(engine, symbols)
    actions += apply_watchlist(engine, symbols)
    actions += import_backtests(engine, shipped)
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


def read_backtests(symbols: Sequence[str], folder: Path) -> dict[str, dict[str, Any]]:
    """The shipped backtest of each symbol that has a file; a symbol without one is a gap the
    release reported, not an error. Raises BadBacktests naming the path."""
    _check_folder(folder)
    shipped: dict[str, dict[str, Any]] = {}
    for symbol in symbols:
        path = folder / backtest_file_name(symbol)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            continue
        except OSError as exc:  # permission denied, a folder where the file belongs, I/O error
            raise BadBacktests(f"backtest {path}: cannot read it ({exc.strerror or exc})") from exc
        except UnicodeDecodeError as exc:
            raise BadBacktests(f"backtest {path}: not UTF-8 text ({exc.reason})") from exc
        shipped[symbol] = _parse_backtest(path, text)
    return shipped


def _check_folder(folder: Path) -> None:
    try:
        mode = folder.stat().st_mode
    except FileNotFoundError as exc:
        raise BadBacktests(f"backtests folder {folder} does not exist") from exc
    except OSError as exc:
        raise BadBacktests(f"backtests folder {folder}: cannot read it ({exc.strerror})") from exc
    if not stat.S_ISDIR(mode):
        raise BadBacktests(f"backtests folder {folder} is not a folder")


def _parse_backtest(path: Path, text: str) -> dict[str, Any]:
    try:
        shipped = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadBacktests(f"backtest {path}: not JSON ({exc})") from exc
    if not isinstance(shipped, dict):
        raise BadBacktests(f"backtest {path}: not a JSON object")
    missing = [key for key in BACKTEST_IDENTITY if key not in shipped]
    if missing:
        raise BadBacktests(f"backtest {path}: missing {', '.join(missing)}")
    refit_every = shipped["refit_every"]
    if isinstance(refit_every, bool) or not isinstance(refit_every, int):
        raise BadBacktests(f"backtest {path}: refit_every must be an integer")
    if not isinstance(shipped["metrics"], dict) or not isinstance(shipped["points"], list):
        raise BadBacktests(f"backtest {path}: metrics must be an object and points a list")
    return shipped


def import_backtests(engine: Engine, shipped: dict[str, dict[str, Any]]) -> list[str]:
    """Store each read backtest (read_backtests) that differs from the symbol's latest."""
    actions: list[str] = []
    for symbol, backtest in shipped.items():
        # check and store in one locked transaction: instances syncing at once store it once
        stored = queries.save_backtest_unless(
            engine, symbol=symbol, refit_every=backtest["refit_every"],
            metrics=backtest["metrics"], points=backtest["points"],
            same=lambda latest, new: _identity(latest) == _identity(new))
        if stored is not None:
            actions.append(f"stored backtest of {symbol} from {backtest.get('created_at')}")
    return actions


def _identity(backtest: dict[str, Any]) -> str:
    return json.dumps([backtest[k] for k in BACKTEST_IDENTITY], sort_keys=True, default=str)
