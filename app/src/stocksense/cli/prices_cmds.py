"""`stocksense prices export`: the prices object the Lambda predict function reads
(stocksense.serving.prices), written after each refresh."""

from __future__ import annotations

import click

from stocksense.cli.common import EXIT_FAILED, fail, finish, settings_and_engine


@click.group()
def prices() -> None:
    """Prices for readers without a database (the Lambda predict function)."""


@prices.command("export")
@click.option("--to", "url", required=True, envvar="STOCKSENSE_PRICES_OBJECT", metavar="URL",
              help="s3://bucket/key.json or a file path (default: STOCKSENSE_PRICES_OBJECT).")
@click.option("--symbol", "symbols", multiple=True, metavar="SYMBOL",
              help="Only these symbols (repeatable); default every stored symbol.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object on stdout.")
def export_prices(url: str, symbols: tuple[str, ...], as_json: bool) -> None:
    """Write the last trading days and backtest choice of each symbol as one JSON object,
    unless the object there already holds the same (then nothing is written).

    JSON: {"ok": true, "to", "symbols", "bytes", "changed"}. Exit 1 the write failed (S3 or the
    file system), 2 a bad URL or symbol.
    """
    from stocksense.data.symbols import InvalidSymbol, validate_symbol
    from stocksense.registry.errors import RegistryUnavailable
    from stocksense.serving.prices import PricesObjectWriteFailed, open_object, write_prices_object

    try:
        store, key = open_object(url)
        symbols = tuple(validate_symbol(s) for s in symbols)
    except (ValueError, RegistryUnavailable, InvalidSymbol) as exc:
        fail(as_json, str(exc), to=url)
    _, engine = settings_and_engine()
    try:
        summary = write_prices_object(engine, store, key, symbols or None)
    except PricesObjectWriteFailed as exc:
        fail(as_json, str(exc), EXIT_FAILED, to=url)
    finally:
        engine.dispose()
    verb = "wrote" if summary["changed"] else "unchanged, nothing written:"
    finish(as_json, f"{verb} {summary['to']} ({summary['symbols']} symbols, "
           f"{summary['bytes']} bytes)", **summary)
