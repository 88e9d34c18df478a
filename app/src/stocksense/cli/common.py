"""Shared CLI plumbing: settings/engine, JSON output, error mapping."""

from __future__ import annotations

import json
import sys
from typing import Any

import click
from sqlalchemy.engine import Engine

from stocksense.config import Settings, load_settings


class UserError(click.ClickException):
    """A clear one-line error and exit code 2, instead of a traceback."""

    exit_code = 2


def _known_errors() -> tuple[type[BaseException], ...]:
    from stocksense.data.prices import PriceValidationError
    from stocksense.data.symbols import InvalidSymbol
    from stocksense.features.inference import NotEnoughHistory
    from stocksense.registry import CorruptArtifact
    from stocksense.serving.errors import ServingError

    return (InvalidSymbol, PriceValidationError, NotEnoughHistory, CorruptArtifact,
            ServingError)


class StockSenseGroup(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except _known_errors() as exc:
            raise UserError(str(exc)) from exc
        except ModuleNotFoundError as exc:
            if exc.name and exc.name.split(".")[0] in {"tensorflow", "keras", "pandas",
                                                       "yfinance"}:
                raise UserError(
                    f"{exc.name} is not installed: this command needs "
                    "pip install 'stocksense[train]'") from exc
            raise


def settings_and_engine() -> tuple[Settings, Engine]:
    from stocksense.data.db import get_engine, migrate

    try:
        settings = load_settings()
    except ValueError as exc:
        raise UserError(str(exc)) from exc
    engine = get_engine(settings)
    migrate(engine)
    _log_to_home(settings)
    return settings, engine


def _log_to_home(settings: Settings) -> None:
    """CLI runs append to {home}/logs/stocksense.log (everything written stays under home)."""
    import logging

    root = logging.getLogger("stocksense")
    if any(isinstance(h, logging.FileHandler) for h in root.handlers):
        return
    settings.log_dir.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(settings.log_dir / "stocksense.log", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    # TensorFlow installs a stderr handler on the root logger; keep our lines in the file.
    root.propagate = False


def emit_json(obj: Any) -> None:
    click.echo(json.dumps(obj, default=str))
    sys.stdout.flush()


def print_table(headers: list[str], rows: list[list[Any]]) -> None:
    def fmt(v: Any) -> str:
        if v is None:
            return "-"
        if isinstance(v, float):
            return f"{v:.2e}" if v != 0 and abs(v) < 1e-3 else f"{v:.4f}"
        return str(v)

    cells = [[fmt(v) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h)
              for i, h in enumerate(headers)]
    click.echo("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)))
    click.echo("  ".join("-" * w for w in widths))
    for row in cells:
        click.echo("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))
