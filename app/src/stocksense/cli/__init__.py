"""`stocksense` command line.

Heavy modules (tensorflow, pandas, yfinance) are imported inside the commands
that need them, so importing this module (as the web server does) stays light.
"""

from __future__ import annotations

import click

from stocksense.cli.common import StockSenseGroup
from stocksense.cli.data_cmds import import_csv, ingest, refresh, seed, symbols
from stocksense.cli.model_cmds import backtest, export, forecast, models, train


@click.group(cls=StockSenseGroup)
@click.version_option(package_name="stocksense")
def cli() -> None:
    """StockSense: daily stock forecasts (Transformer + LSTM, served with LiteRT)."""


for _command in (ingest, seed, import_csv, refresh, symbols, train, backtest, export, models,
                 forecast):
    cli.add_command(_command)

from stocksense.web.cli import register as _register_web  # noqa: E402  (web: serve, create-admin)

_register_web(cli)


def main() -> None:
    cli(prog_name="stocksense")
