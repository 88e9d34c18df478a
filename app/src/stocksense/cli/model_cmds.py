"""Model commands: train, backtest, export, forecast (models list: cli/registry_cmds.py).

TensorFlow is imported only inside train/backtest; export, models and
forecast run on the serving install.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from stocksense.cli.common import UserError, emit_json, print_table, settings_and_engine
from stocksense.layout import MODEL_NAMES

MODEL_CHOICE = click.Choice(list(MODEL_NAMES))


def _train_config(epochs: int | None, seed: int | None, settings):  # type: ignore[no-untyped-def]
    from stocksense.models.training import TrainConfig

    epochs = epochs if epochs is not None else settings.epochs
    if epochs < 1:
        raise UserError("--epochs must be at least 1")
    return TrainConfig(epochs=epochs, seed=seed if seed is not None else settings.seed)


@contextmanager
def _json_errors(as_json: bool) -> Iterator[None]:
    """In --json mode, report failures as a final {"event": "error"} line too."""
    try:
        yield
    except SystemExit:
        raise
    except click.ClickException as exc:
        if as_json:
            emit_json({"event": "error", "message": exc.format_message()})
        raise
    except ModuleNotFoundError as exc:
        message = (f"{exc.name} is not installed: this command needs "
                   "pip install 'stocksense[train]'")
        if as_json:
            emit_json({"event": "error", "message": message})
        raise UserError(message) from exc
    except Exception as exc:
        from stocksense.cli.common import _known_errors
        from stocksense.registry import RegistryError

        known = (*_known_errors(), RegistryError)  # e.g. S3 unreachable while publishing
        message = str(exc) if isinstance(exc, known) else f"{type(exc).__name__}: {exc}"
        if as_json:
            emit_json({"event": "error", "message": message})
        if isinstance(exc, known):
            raise UserError(message) from exc
        raise


def _epoch_bars(as_json: bool) -> tuple[Callable[[dict[str, Any]], None], Callable[[], None]]:
    """Progress sink: JSON lines, or one tqdm bar per model on stderr."""
    if as_json:
        return emit_json, lambda: None
    from tqdm import tqdm

    bars: dict[str, Any] = {}

    def sink(event: dict[str, Any]) -> None:
        if event["event"] == "epoch":
            bar = bars.get(event["model"])
            if bar is None or bar.n >= bar.total or event["epoch"] == 1:
                if bar is not None:
                    bar.close()
                bar = bars[event["model"]] = tqdm(total=event["of"], desc=event["model"],
                                                  unit="epoch", leave=False)
            bar.update(1)
            bar.set_postfix(val_loss=f"{event['val_loss']:.4f}")
        elif event["event"] == "published":
            bar = bars.pop(event["model"], None)
            if bar is not None:
                bar.close()
            click.echo(f"{event['model']}: published {event['version']} "
                       f"(val_loss {event['val_loss']:.4f}, "
                       f"LiteRT parity {event['parity_max_abs_diff']:.1e})")

    def close() -> None:
        for bar in bars.values():
            bar.close()

    return sink, close


@click.command()
@click.argument("symbol")
@click.option("--model", "model_names", type=MODEL_CHOICE, multiple=True,
              help="Model(s) to train (default: both).")
@click.option("--epochs", type=int, default=None,
              help="Max epochs (early stopping may end sooner).")
@click.option("--days", type=int, default=None, help="Trading days of history (default ~10y).")
@click.option("--seed", type=int, default=None)
@click.option("--json", "as_json", is_flag=True, help="JSON-lines progress events.")
def train(symbol: str, model_names: tuple[str, ...], epochs: int | None, days: int | None,
          seed: int | None, as_json: bool) -> None:
    """Train, export to LiteRT (parity-checked) and publish models for SYMBOL."""
    from stocksense.data.symbols import validate_symbol

    with _json_errors(as_json):
        symbol = validate_symbol(symbol)
        names = model_names or MODEL_NAMES
        if as_json:
            emit_json({"event": "start", "symbol": symbol, "models": list(names)})
        settings, engine = settings_and_engine()
        if days is not None and days < 1:
            raise UserError("--days must be positive")
        # Before any training: a bad registry URL, a missing bucket or missing credentials.
        from stocksense.cli.registry_cmds import open_target_registry

        open_target_registry(settings.registry_url)
        from stocksense.pipeline.train import TrainOptions, load_rows

        # Fail fast (and without TensorFlow) on an unknown symbol or short history.
        load_rows(engine, symbol, days or settings.train_days, settings.window)
        options = TrainOptions(models=names, days=days,
                               config=_train_config(epochs, seed, settings))
        sink, close = _epoch_bars(as_json)
        try:
            if len(names) > 1:
                published = _train_each_in_child(symbol, names, epochs, days, seed, sink)
            else:
                from stocksense.pipeline.train import train_symbol

                published = train_symbol(settings, engine, symbol, options, progress=sink)
        finally:
            close()
        summary = [{"model": m["model_name"], "version": m["version"],
                    "content_hash": m["content_hash"], "metrics": m["metrics"]}
                   for m in published]
        if as_json:
            emit_json({"event": "done", "symbol": symbol, "models": summary})


def _train_each_in_child(symbol: str, names: tuple[str, ...] | Sequence[str],
                         epochs: int | None, days: int | None, seed: int | None,
                         sink: Callable[[dict[str, Any]], None]) -> list[dict[str, Any]]:
    """Train each model in its own `stocksense train --model NAME` process.

    TensorFlow never frees the memory one model's training and conversion
    leave behind; a fresh process per model keeps the peak RSS of any process
    (and so of the box, as they run one after the other) under ~760 MB.
    This parent never imports TensorFlow.
    """
    import subprocess
    import sys
    import tempfile

    published: list[dict[str, Any]] = []
    for name in names:
        cmd = [sys.executable, "-m", "stocksense", "train", symbol, "--model", name, "--json"]
        for flag, value in (("--epochs", epochs), ("--days", days), ("--seed", seed)):
            if value is not None:
                cmd += [flag, str(value)]
        with tempfile.TemporaryFile(mode="w+") as errors:
            proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=errors, text=True)
            done: dict[str, Any] | None = None
            failure: str | None = None
            assert proc.stdout is not None
            for line in proc.stdout:
                if not line.startswith("{"):
                    continue
                event = json.loads(line)
                kind = event.get("event")
                if kind in ("epoch", "export", "published"):
                    sink(event)
                elif kind == "done":
                    done = event
                elif kind == "error":
                    failure = event.get("message")
            code = proc.wait()
            if code != 0 or done is None:
                errors.seek(0)
                tail = errors.read()[-1500:]
                raise UserError(failure or f"training {name} failed (exit {code}):\n{tail}")
        for model in done["models"]:
            published.append({"model_name": model["model"], **model})
    return published


@click.command()
@click.argument("symbol")
@click.option("--refit-every", type=int, default=None,
              help="Refit the models every N trading days (default 63).")
@click.option("--test-days", type=int, default=None, help="Days evaluated (default 252).")
@click.option("--epochs", type=int, default=None)
@click.option("--days", type=int, default=None, help="Trading days of history (default ~10y).")
@click.option("--seed", type=int, default=None)
@click.option("--json", "as_json", is_flag=True)
def backtest(symbol: str, refit_every: int | None, test_days: int | None, epochs: int | None,
             days: int | None, seed: int | None, as_json: bool) -> None:
    """Walk-forward backtest of both models, the ensemble and naive baselines."""
    from stocksense.data import queries
    from stocksense.data.symbols import validate_symbol

    with _json_errors(as_json):
        symbol = validate_symbol(symbol)
        settings, engine = settings_and_engine()
        refit = refit_every if refit_every is not None else settings.refit_every
        tdays = test_days if test_days is not None else settings.backtest_days
        if refit < 1 or tdays < 1:
            raise UserError("--refit-every and --test-days must be positive")
        from stocksense.backtest.walkforward import walk_forward
        from stocksense.pipeline.train import load_rows

        rows = load_rows(engine, symbol, days or settings.train_days, settings.window)
        cfg = _train_config(epochs, seed, settings)
        if as_json:
            emit_json({"event": "start", "symbol": symbol, "refit_every": refit,
                       "test_days": tdays})

            def fold_done(k: int, total: int) -> None:
                emit_json({"event": "fold", "fold": k, "of": total})

            result = walk_forward(rows, settings.window, tdays, refit, cfg,
                                  fold_done=fold_done)
        else:
            from tqdm import tqdm

            # one extra fold in front only feeds the nested selection
            bar = tqdm(total=-(-(tdays + refit) // refit), desc=f"{symbol} walk-forward",
                       unit="fold")
            result = walk_forward(rows, settings.window, tdays, refit, cfg,
                                  fold_done=lambda k, total: bar.update(1))
            bar.close()
        bid = queries.save_backtest(engine, symbol=symbol, refit_every=refit,
                                    metrics=result.metrics, points=result.points)
        import logging

        served = result.metrics["served"]
        live = (result.selection or {}).get("live", {})
        logging.getLogger("stocksense.backtest").info(
            "backtest %s #%d: served out-of-sample skill vs persistence %.4f, pinball skill vs "
            "EWMA %.4f; serving point=%s band=%s", symbol, bid, served["skill_vs_persistence"],
            served["pinball_skill_vs_ewma"], live.get("point"), live.get("band"))
        if as_json:
            emit_json({"event": "done", "symbol": symbol, "backtest_id": bid,
                       "ensemble_method": result.method, "served": live,
                       "metrics": result.metrics})
            return
        click.echo(f"\n{symbol}: walk-forward over {len(result.points)} days, "
                   f"refit every {refit} days ({result.points[0]['date']} .. "
                   f"{result.points[-1]['date']})")
        print_metrics_table(result.metrics)
        click.echo(f"serving from now on: point = {live.get('point')}, band = {live.get('band')}"
                   f" (ensemble method: {result.method})")


METRICS_ORDER = ("persistence", "drift", "ewma", "garch", *MODEL_NAMES, "ensemble", "blend",
                 "served")


def print_metrics_table(metrics: dict[str, dict[str, Any]]) -> None:
    rows = [[name, m["mae"], m["directional_accuracy"], m["skill_vs_persistence"],
             m.get("pinball"), m.get("pinball_skill_vs_ewma"), m.get("coverage_80"),
             m.get("coverage_90"), m.get("width_80"), m["n"]]
            for name in METRICS_ORDER if (m := metrics.get(name))]
    print_table(["model", "MAE", "dir_acc", "skill_vs_persist", "pinball", "pinball_skill_ewma",
                 "cov80", "cov90", "width80", "n"], rows)


@click.command()
@click.argument("symbol")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), required=True,
              help="Folder to copy the verified .tflite and meta.json into.")
@click.option("--model", "model_names", type=MODEL_CHOICE, multiple=True)
@click.option("--json", "as_json", is_flag=True)
def export(symbol: str, out_dir: str, model_names: tuple[str, ...], as_json: bool) -> None:
    """Copy SYMBOL's latest LiteRT models out of the registry after verifying them.

    Verification: content hash, and a LiteRT load plus one prediction (no TensorFlow).
    """
    import numpy as np

    from stocksense.config import load_settings
    from stocksense.data.symbols import validate_symbol
    from stocksense.registry import CorruptArtifact, open_registry
    from stocksense.serving.runtime import TFLiteModel

    symbol = validate_symbol(symbol)
    registry = open_registry(load_settings().registry_url)
    out = Path(out_dir)
    results = []
    for name in model_names or MODEL_NAMES:
        version = registry.latest_version(symbol, name)
        if version is None:
            raise UserError(f"no published {name} model for {symbol}; run `stocksense train`")
        meta, data = registry.load(symbol, name, version)
        try:
            lite = TFLiteModel(data)
            probe = np.zeros((1, int(meta["window"]), len(meta["features"])), np.float32)
            value = lite.predict(probe)
        except (ValueError, RuntimeError) as exc:
            raise CorruptArtifact(f"{symbol}/{name}@{version}: LiteRT cannot run it: {exc}") \
                from exc
        if not np.all(np.isfinite(value)):
            raise CorruptArtifact(f"{symbol}/{name}@{version}: non-finite output")
        target = out / symbol / name
        target.mkdir(parents=True, exist_ok=True)
        (target / "model.tflite").write_bytes(data)
        (target / "meta.json").write_text(json.dumps(meta, indent=2, sort_keys=True))
        results.append({"symbol": symbol, "model": name, "version": version,
                        "path": str(target / "model.tflite"), "bytes": len(data)})
    if as_json:
        emit_json(results)
    else:
        for r in results:
            click.echo(f"{r['model']}@{r['version']} -> {r['path']} ({r['bytes']} bytes)")


@click.command()
@click.argument("symbol")
@click.option("--json", "as_json", is_flag=True)
def forecast(symbol: str, as_json: bool) -> None:
    """Next-day forecast for SYMBOL from the published LiteRT models (no TensorFlow)."""
    from stocksense.serving import ForecastService

    settings, engine = settings_and_engine()
    result = ForecastService(settings, engine).forecast(symbol, record=True)
    if as_json:
        emit_json(result)
        return
    click.echo(f"{result['symbol']} as of {result['as_of']}: last close "
               f"{result['last_close']:.4f}")
    rows = [[name, m["predicted_return"], m["predicted_close"], m["model_version"],
             m["skill_vs_persistence"]] for name, m in result["models"].items()]
    ens = result["ensemble"]
    rows.append([f"ensemble ({ens['method']})", ens["predicted_return"], ens["predicted_close"],
                 "", ens["skill_vs_persistence"]])
    print_table(["model", "pred_return", "pred_close", "version", "skill_vs_persist"], rows)
