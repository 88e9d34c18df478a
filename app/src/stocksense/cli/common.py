"""Shared CLI plumbing: settings/engine, JSON output, error mapping."""

from __future__ import annotations

import json
import sys
from typing import Any

import click
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError

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
        except OperationalError as exc:  # database down, wrong password: one line, no traceback
            lines = str(exc.orig or exc).strip().splitlines()
            raise UserError(f"database (STOCKSENSE_DATABASE_URL): {lines[0] if lines else exc}"
                            ) from exc
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


# --- The ops commands' output contract (app/INTERFACES.md, "The CLI as the ops interface") -----
# With --json: exactly one JSON object on stdout (stocksense.layout.result). Human text always goes
# to stderr, so a caller can parse stdout whatever the command logs. Exit codes: 0 ok, 1 the check
# or wait failed, 2 bad input (a usage error, an unknown symbol, a missing file).
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2


def say(text: str) -> None:
    """A human line for the ops commands: always stderr."""
    click.echo(text, err=True)


def finish(as_json: bool, text: str, *, ok: bool = True, code: int = 0, **fields: Any) -> None:
    """End an ops command: the JSON result (or the human summary) and the exit code."""
    from stocksense.layout import result

    if as_json:
        emit_json(result(ok, **fields))
    say(text)
    if code:
        raise SystemExit(code)


def fail(as_json: bool, message: str, code: int = EXIT_BAD_INPUT, **fields: Any) -> None:
    """A clear one-line error (`stocksense: error: ...` on stderr), with error in the JSON."""
    finish(as_json, f"stocksense: error: {message}", ok=False, code=code, error=message, **fields)
