#!/usr/bin/env python3
"""Helpers the app role runs on the instance (installed into <app_install_dir>/libexec).

  <release>/venv/bin/python helper.py check-config settings|secrets FILE
      Check an env file with the app's own parser before it is installed (never prints values).
  <release>/venv/bin/python helper.py sync-data --backtests DIR SYMBOL...   (as the service user)
      Bring the database in line with the deployment without touching live data:
      - a watched symbol without any prices gets the bundled prices (only when it has none);
      - the watched flags follow SYMBOL... (others are unwatched, their data kept);
      - DIR/<SYMBOL>.json (a backtest exported on the controller) is stored when it differs from
        the symbol's latest backtest.
      Prints one JSON line {"changed": bool, "actions": [...]}; exits 2 on a watched symbol with
      no prices and no bundled data.
  python3 helper.py wait-healthy URL TIMEOUT
      Poll URL every half second until it answers 200 or TIMEOUT seconds pass; prints one JSON
      line with the last status and body; exits 1 when it never turned healthy.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

SECRET_KEYS = {"STOCKSENSE_SECRET_KEY", "STOCKSENSE_ADMIN_PASSWORD_HASH"}
PLACEHOLDER = {"STOCKSENSE_SECRET_KEY": "placeholder-for-validation-only-0123456789"}


def check_config(kind: str, path: str) -> int:
    from stocksense.config import load_settings
    from stocksense.web.config import ConfigError, load_web_config, parse_env_file

    try:
        values = parse_env_file(path)
        if kind == "secrets":
            unknown = set(values) - SECRET_KEYS
            if unknown:
                raise ConfigError(f"unexpected keys in the secrets file: {sorted(unknown)}")
            digest = values.get("STOCKSENSE_ADMIN_PASSWORD_HASH")
            if digest and not digest.startswith("$argon2id$"):
                raise ConfigError("STOCKSENSE_ADMIN_PASSWORD_HASH is not an Argon2id hash")
            if "STOCKSENSE_SECRET_KEY" in values:
                load_web_config(environ=values)
        elif kind == "settings":
            leaked = set(values) & SECRET_KEYS
            if leaked:
                raise ConfigError(f"secrets belong in the secrets file: {sorted(leaked)}")
            environ = {**PLACEHOLDER, **values}
            load_settings(environ)
            load_web_config(environ=environ)
        else:
            raise ConfigError(f"unknown kind {kind!r}")
    except (ConfigError, ValueError, OSError) as exc:
        print(f"invalid {kind} file: {exc}", file=sys.stderr)
        return 1
    return 0


def sync_data(backtests: Path, symbols: list[str]) -> int:
    from stocksense.cli.common import settings_and_engine
    from stocksense.data import queries

    _settings, engine = settings_and_engine()  # creates and migrates the database
    actions: list[str] = []

    for symbol in symbols:
        row = queries.get_symbol(engine, symbol)
        if row is None or not row.get("n_days"):
            from stocksense.data.bundled import BUNDLED, load_bundled

            if symbol not in BUNDLED:
                print(json.dumps({"changed": bool(actions), "actions": actions,
                                  "error": f"{symbol} has no prices and none are bundled; "
                                           f"load them with `stocksense ingest {symbol}`"}))
                return 2
            rows = load_bundled(symbol)
            queries.upsert_prices(engine, symbol, rows, name=BUNDLED[symbol], source="bundled")
            actions.append(f"seeded {symbol}: {len(rows)} bundled rows")

    wanted = set(symbols)
    for row in queries.list_symbols(engine):
        watch = row["symbol"] in wanted
        if bool(row["watched"]) != watch:
            queries.set_watched(engine, row["symbol"], watch)
            actions.append(f"{'watch' if watch else 'unwatch'} {row['symbol']}")

    key = ("refit_every", "metrics", "points")
    for symbol in symbols:
        path = backtests / f"{symbol}.json"
        if not path.is_file():
            continue
        shipped = json.loads(path.read_text(encoding="utf-8"))
        latest = queries.latest_backtest(engine, symbol)
        if latest is not None and json.dumps([latest[k] for k in key], sort_keys=True, default=str) == \
                json.dumps([shipped[k] for k in key], sort_keys=True, default=str):
            continue
        queries.save_backtest(engine, symbol=symbol, refit_every=int(shipped["refit_every"]),
                              metrics=shipped["metrics"], points=shipped["points"])
        actions.append(f"stored backtest of {symbol} from {shipped.get('created_at')}")

    print(json.dumps({"changed": bool(actions), "actions": actions}))
    return 0


def wait_healthy(url: str, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    status, body = None, ""
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as resp:  # noqa: S310 - loopback URL from the role
                status, body = resp.status, resp.read(2000).decode("utf-8", "replace")
        except urllib.error.HTTPError as exc:
            status, body = exc.code, exc.read(2000).decode("utf-8", "replace")
        except OSError as exc:
            status, body = None, f"{type(exc).__name__}: {exc}"
        if status == 200 or time.monotonic() >= deadline:
            break
        time.sleep(0.5)
    print(json.dumps({"healthy": status == 200, "status": status, "body": body.strip()[:1000]}))
    return 0 if status == 200 else 1


def main() -> int:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("check-config")
    p.add_argument("kind", choices=["settings", "secrets"])
    p.add_argument("file")
    p = sub.add_parser("sync-data")
    p.add_argument("--backtests", type=Path, required=True)
    p.add_argument("symbols", nargs="+")
    p = sub.add_parser("wait-healthy")
    p.add_argument("url")
    p.add_argument("timeout", type=float)
    args = parser.parse_args()
    if args.command == "check-config":
        return check_config(args.kind, args.file)
    if args.command == "sync-data":
        return sync_data(args.backtests, args.symbols)
    return wait_healthy(args.url, args.timeout)


if __name__ == "__main__":
    sys.exit(main())
