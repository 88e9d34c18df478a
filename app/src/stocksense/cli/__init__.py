"""`stocksense` command line.

Heavy modules (tensorflow, pandas, yfinance) are imported inside the commands
that need them, so importing this module (as the web server does) stays light.

The ops interface (what roles and scripts call, app/INTERFACES.md): config check, data sync,
models list, release export, wait-ready; each with --json printing one object on stdout.
"""

from __future__ import annotations

import click

from stocksense.cli.backup_cmds import backup, restore
from stocksense.cli.common import StockSenseGroup
from stocksense.cli.config_cmds import config
from stocksense.cli.data_cmds import data, import_csv, ingest, refresh, seed, symbols
from stocksense.cli.db_cmds import db
from stocksense.cli.model_cmds import backtest, export, forecast, train
from stocksense.cli.prices_cmds import prices
from stocksense.cli.ready_cmds import wait_ready
from stocksense.cli.registry_cmds import models
from stocksense.cli.release_cmds import release
from stocksense.cli.secrets_cmds import secrets


@click.group(cls=StockSenseGroup)
@click.version_option(package_name="stocksense")
def cli() -> None:
    """StockSense: daily stock forecasts (Transformer + LSTM, served with LiteRT)."""


# One line per command module; a new module adds its own line.
COMMANDS: list[click.Command] = []
COMMANDS += [ingest, seed, import_csv, refresh, symbols, data]
COMMANDS += [train, backtest, export, models, forecast]
COMMANDS += [config, release, wait_ready]
COMMANDS += [backup, restore]
COMMANDS += [db]
COMMANDS += [prices]
COMMANDS += [secrets]

for _command in COMMANDS:
    cli.add_command(_command)

from stocksense.web.cli import register as _register_web  # noqa: E402  (web: serve, create-admin)

_register_web(cli)


def main() -> None:
    cli(prog_name="stocksense")
