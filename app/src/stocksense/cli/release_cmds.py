"""`stocksense release export`: what a deployment ships besides the wheel, as one folder.

<out>/registry/...                   the latest version of each model of each SYMBOL (layout of
                                     stocksense.layout), byte for byte, pointers written last
<out>/import/backtests/<SYMBOL>.json the latest walk-forward backtest of each SYMBOL
scripts/build-app-artifacts.sh packs the folder into models.tar; the app role reads the JSON
report (release.json) to refuse a release that misses a model or a backtest.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from stocksense.cli.common import finish, say
from stocksense.layout import (
    BUNDLE_BACKTESTS_DIR,
    BUNDLE_REGISTRY_DIR,
    MODEL_NAMES,
    backtest_file_name,
)


@click.group()
def release() -> None:
    """Release bundles for a deployment."""


@release.command("export")
@click.argument("watchlist", nargs=-1, required=True)
@click.option("--out", "out_dir", type=click.Path(file_okay=False), required=True,
              help="Folder to write (made empty first).")
@click.option("--registry", "registry_dir", type=click.Path(file_okay=False),
              help="Registry folder to take the models from (default: the configured registry).")
@click.option("--backtests", "backtests_dir", type=click.Path(file_okay=False),
              help="Folder of <SYMBOL>.json backtests to take (default: the database's latest).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object on stdout.")
def export_release(watchlist: tuple[str, ...], out_dir: str, registry_dir: str | None,
                   backtests_dir: str | None, as_json: bool) -> None:
    """Export WATCHLIST's latest models and backtests into --out for shipping.

    JSON: {"ok", "model_names", "symbols": {SYMBOL: {"models": {model: version or null},
    "backtest": bool}}, "complete", "missing": ["SYMBOL model", "SYMBOL backtest", ...]}.
    A missing piece is reported (complete false), not an error: the deployment decides.
    """
    from stocksense.cli.registry_cmds import open_registry_option
    from stocksense.data.symbols import validate_symbol
    from stocksense.registry import open_registry

    symbols = [validate_symbol(s) for s in watchlist]
    out = Path(out_dir)
    if out.exists():
        shutil.rmtree(out)
    source = open_registry_option(registry_dir)
    target = open_registry(str((out / BUNDLE_REGISTRY_DIR).resolve()))
    (out / BUNDLE_REGISTRY_DIR).mkdir(parents=True)
    models = {s: {m: source.copy_latest(target, s, m) for m in MODEL_NAMES} for s in symbols}
    backtests = _export_backtests(symbols, out / BUNDLE_BACKTESTS_DIR, backtests_dir)
    report = release_report(models, backtests)
    for line in report["missing"]:
        say(f"missing: {line}")
    finish(as_json, f"exported {len(symbols)} symbol(s) into {out}"
           + ("" if report["complete"] else f" (incomplete: {len(report['missing'])} missing)"),
           **report)


def release_report(models: dict[str, dict[str, str | None]],
                   backtests: dict[str, bool]) -> dict[str, Any]:
    missing = [f"{s} {m}" for s, by_model in models.items() for m, v in by_model.items()
               if v is None]
    missing += [f"{s} backtest" for s, present in backtests.items() if not present]
    return {"model_names": list(MODEL_NAMES),
            "symbols": {s: {"models": models[s], "backtest": backtests[s]} for s in models},
            "complete": not missing, "missing": missing}


def _export_backtests(symbols: Sequence[str], dest: Path,
                      backtests_dir: str | None) -> dict[str, bool]:
    dest.mkdir(parents=True)
    if backtests_dir is not None:
        return {s: _copy_backtest_file(Path(backtests_dir), dest, s) for s in symbols}
    from stocksense.cli.common import settings_and_engine
    from stocksense.data import queries

    _settings, engine = settings_and_engine()
    found: dict[str, bool] = {}
    for symbol in symbols:
        backtest = queries.latest_backtest(engine, symbol)
        found[symbol] = backtest is not None
        if backtest is not None:
            (dest / backtest_file_name(symbol)).write_text(
                json.dumps(backtest, sort_keys=True, default=str), encoding="utf-8")
    return found


def _copy_backtest_file(source: Path, dest: Path, symbol: str) -> bool:
    path = source / backtest_file_name(symbol)
    if not path.is_file():
        return False
    shutil.copyfile(path, dest / backtest_file_name(symbol))
    return True


