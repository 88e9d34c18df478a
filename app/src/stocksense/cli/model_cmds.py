"""Model commands: train, backtest, export, models (filled in below)."""

from __future__ import annotations

import click

from stocksense.cli.common import UserError


@click.command()
@click.argument("symbol")
@click.option("--json", "as_json", is_flag=True)
def train(symbol: str, as_json: bool) -> None:
    """Train, export and publish both models for SYMBOL."""
    raise UserError("not implemented yet")


@click.command()
@click.argument("symbol")
def backtest(symbol: str) -> None:
    """Walk-forward backtest."""
    raise UserError("not implemented yet")


@click.command()
@click.argument("symbol")
def export(symbol: str) -> None:
    """Export."""
    raise UserError("not implemented yet")


@click.command()
def models() -> None:
    """List published models."""
    raise UserError("not implemented yet")
