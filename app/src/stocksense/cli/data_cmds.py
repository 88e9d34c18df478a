"""Data commands: ingest, seed, import-csv, refresh, symbols, data sync."""

from __future__ import annotations

import click

from stocksense.cli.common import emit_json, fail, finish, print_table, settings_and_engine


def _ingest_one(settings, engine, symbol: str, period: str) -> dict:  # type: ignore[no-untyped-def]
    from stocksense.data.refresh import ingest_symbol

    return ingest_symbol(engine, symbol, period, settings)


def _report(results: list[dict], as_json: bool) -> None:
    if as_json:
        for r in results:
            emit_json(r)
    else:
        for r in results:
            if r["ok"]:
                click.echo(f"{r['symbol']}: {_refreshed_text(r)} ({r['first']} .. {r['last']})")
            else:
                click.echo(f"{r['symbol']}: FAILED: {r['error']}", err=True)
    if any(not r["ok"] for r in results):
        raise SystemExit(1)


@click.command()
@click.argument("symbols", nargs=-1, required=True)
@click.option("--period", default="10y", show_default=True, help="yfinance period, e.g. 1y, 10y")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per symbol.")
def ingest(symbols: tuple[str, ...], period: str, as_json: bool) -> None:
    """Download daily prices from Yahoo Finance (needs network and the ingest extra)."""
    settings, engine = settings_and_engine()
    _report([_ingest_one(settings, engine, s, period) for s in symbols], as_json)


# Exit code of `refresh` when some symbols failed (the JSON summary names them).
# Distinct from 1 (crash) and 2 (usage error) so a scheduler can tell a partial
# failure, e.g. offline, from a broken command.
REFRESH_PARTIAL_EXIT = 3


@click.command()
@click.option("--prices-object", "prices_url", metavar="URL",
              help="Then write the prices object for the Lambda predict function here "
                   "(s3://bucket/key.json or a file), if it changed (stocksense prices export).")
@click.option("--json", "as_json", is_flag=True)
def refresh(prices_url: str | None, as_json: bool) -> None:
    """Ingest recent prices for watched symbols; one failure never stops the others.

    Exit code 0 when every symbol was refreshed, 3 when some failed (named in the
    summary); stored data of a failed symbol is kept as it was. 1 when the prices object
    could not be written (the refreshed data is kept).
    """
    from stocksense.data.refresh import refresh_watched

    settings, engine = settings_and_engine()
    summary = refresh_watched(settings, engine)
    results = summary["results"]
    if as_json:
        for r in results:
            emit_json(r)
        emit_json({"event": "done", "ok": summary["ok"], "n": len(results),
                   "failed": summary["failed"]})
    else:
        for r in results:
            click.echo(f"{r['symbol']}: " + (_refreshed_text(r) if r["ok"]
                                             else f"FAILED: {r['error']}"))
        if not results:
            click.echo("no watched symbols")
    if prices_url and not _export_prices(engine, prices_url, as_json):
        raise SystemExit(1)
    if summary["failed"]:
        raise SystemExit(REFRESH_PARTIAL_EXIT)


def _export_prices(engine, url: str, as_json: bool) -> bool:  # type: ignore[no-untyped-def]
    """Write the prices object after a refresh (also a partial one: what is stored is current)."""
    from stocksense.registry.errors import RegistryUnavailable
    from stocksense.serving.prices import PricesObjectWriteFailed, open_object, write_prices_object

    try:
        written = write_prices_object(engine, *open_object(url))
    except (RegistryUnavailable, ValueError) as exc:  # a bad URL
        event = {"event": "prices_object", "ok": False, "to": url,
                 "error": f"writing the prices object failed: {exc}"}
    except PricesObjectWriteFailed as exc:
        event = {"event": "prices_object", "ok": False, "to": url, "error": str(exc)}
    else:
        event = {"event": "prices_object", "ok": True, **written}
    if as_json:
        emit_json(event)
    else:
        click.echo(event.get("error") or f"prices object {event['to']}: "
                   + ("written" if event["changed"] else "unchanged"))
    return bool(event["ok"])


def _refreshed_text(r: dict) -> str:
    text = f"{r['rows']} rows"
    if r.get("reingested"):
        text += " (full history re-ingested: stored prices were rescaled by Yahoo)"
    if r.get("dropped"):
        text += f", {r['dropped']} bad row(s) dropped"
    return text


@click.command()
@click.option("--json", "as_json", is_flag=True)
def seed(as_json: bool) -> None:
    """Load the bundled real daily prices (works offline)."""
    from stocksense.data import queries
    from stocksense.data.bundled import BUNDLED, load_bundled

    _settings, engine = settings_and_engine()
    for symbol, name in BUNDLED.items():
        rows = load_bundled(symbol)
        n = queries.upsert_prices(engine, symbol, rows, name=name, source="bundled")
        queries.set_watched(engine, symbol, True)
        _report_loaded(symbol, n, rows, as_json)


def _report_loaded(symbol: str, n: int, rows: list, as_json: bool) -> None:
    """One line (or JSON object) per loaded symbol: rows written and the date range."""
    if as_json:
        emit_json({"symbol": symbol, "ok": True, "rows": n, "first": rows[0].date,
                   "last": rows[-1].date})
    else:
        click.echo(f"{symbol}: {n} rows ({rows[0].date} .. {rows[-1].date})")


@click.command("import-csv")
@click.argument("symbol")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--name", default=None, help="Company name to store.")
@click.option("--json", "as_json", is_flag=True)
def import_csv(symbol: str, file: str, name: str | None, as_json: bool) -> None:
    """Load FILE (Yahoo Finance CSV export layout) as daily prices for SYMBOL."""
    from stocksense.data import queries
    from stocksense.data.csvfile import read_csv_file
    from stocksense.data.symbols import validate_symbol

    symbol = validate_symbol(symbol)
    rows = read_csv_file(file)  # validates everything before anything is written
    _settings, engine = settings_and_engine()
    n = queries.upsert_prices(engine, symbol, rows, name=name, source="csv")
    _report_loaded(symbol, n, rows, as_json)


@click.command()
@click.option("--json", "as_json", is_flag=True)
def symbols(as_json: bool) -> None:
    """List stored symbols and their date ranges."""
    from stocksense.data import queries

    _settings, engine = settings_and_engine()
    items = queries.list_symbols(engine)
    if as_json:
        emit_json(items)
        return
    print_table(["symbol", "name", "watched", "first", "last", "days"],
                [[s["symbol"], s["name"], s["watched"], s["first_date"], s["last_date"],
                  s["n_days"]] for s in items])


@click.group()
def data() -> None:
    """The database of a deployment."""


@data.command("sync")
@click.option("--backtests", "backtests_dir", type=click.Path(file_okay=False), required=True,
              help="Folder of <SYMBOL>.json backtests exported on the controller.")
@click.argument("watchlist", nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object on stdout.")
def sync(backtests_dir: str, watchlist: tuple[str, ...], as_json: bool) -> None:
    """Seed missing prices, apply WATCHLIST, import changed backtests (see data/sync.py).

    Idempotent: {"ok": true, "changed": false, "actions": []} when nothing had to change. Exit 2
    when a watched symbol has no prices and none are bundled (what was done so far is kept), or
    when the backtests folder or a backtest in it is missing, unreadable or not a backtest (the
    error names the path; nothing is changed).
    """
    from pathlib import Path

    from stocksense.data.symbols import validate_symbol
    from stocksense.data.sync import BadBacktests, NothingToSeed, sync_deployment

    symbols = [validate_symbol(s) for s in watchlist]
    _settings, engine = settings_and_engine()  # creates and migrates the database
    try:
        actions = sync_deployment(engine, symbols, Path(backtests_dir))
    except NothingToSeed as exc:
        fail(as_json, str(exc), changed=bool(exc.actions), actions=exc.actions)
    except BadBacktests as exc:  # read before any write: nothing changed
        fail(as_json, str(exc), changed=False, actions=[])
    finish(as_json, "; ".join(actions) or "database already in line with the deployment",
           changed=bool(actions), actions=actions)
