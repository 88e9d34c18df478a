"""Expanding-window walk-forward backtest with periodic refits.

For each test day t we forecast close[t+1] using only data up to t. Models are
refit every `refit_every` days on all days before the fold starts (targets
known by then), with a scaler fitted on that window only.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from stocksense.backtest.metrics import price_metrics
from stocksense.features.inference import NotEnoughHistory
from stocksense.features.windows import first_window_end, windows_ending_at
from stocksense.models import MODEL_NAMES
from stocksense.models.dataset import build_training_set, prepare
from stocksense.models.training import (
    Progress,
    TrainConfig,
    configure_tensorflow,
    predict_keras,
    release_memory,
    train_model,
)

BASELINES = ("persistence", "drift")


@dataclass
class BacktestResult:
    metrics: dict[str, dict[str, Any]]
    points: list[dict[str, Any]]
    method: str  # what serving will use for the ensemble


def _folds(n: int, test_days: int, refit_every: int) -> list[tuple[int, int]]:
    last_t = n - 2  # the last day with a known next-day close
    first_t = last_t - test_days + 1
    return [(s, min(s + refit_every, last_t + 1)) for s in range(first_t, last_t + 1, refit_every)]


def walk_forward(rows: Sequence[dict[str, Any]], window: int, test_days: int, refit_every: int,
                 config: TrainConfig, models: Sequence[str] = MODEL_NAMES,
                 progress: Progress | None = None,
                 fold_done: Callable[[int, int], None] | None = None) -> BacktestResult:
    if refit_every < 1 or test_days < 1:
        raise ValueError("refit_every and test days must be positive")
    configure_tensorflow()
    import keras

    series = prepare(rows)
    n = len(rows)
    if n - 1 - test_days - first_window_end(window) < 100:
        raise NotEnoughHistory(
            f"{n} trading days is too little for a {window}-day window and a "
            f"{test_days}-day backtest (need {first_window_end(window) + test_days + 102})")
    close = series.close
    log_ret = np.diff(np.log(close))
    folds = _folds(n, test_days, refit_every)
    preds: dict[str, list[float]] = {m: [] for m in models}
    days: list[int] = []
    for k, (start, stop) in enumerate(folds):
        data = build_training_set(series, window, train_end=start - 1)
        ends = np.arange(start, stop)
        x = windows_ending_at(data.scaled, ends, window)
        for name in models:
            result = train_model(name, data, window, config, progress)
            scaled = result.shrink * predict_keras(result.model, x)
            preds[name].extend(data.scaler.unscale_target(scaled).tolist())
            del result
            keras.backend.clear_session()  # each refit starts from a clean graph
            release_memory()
        days.extend(ends.tolist())
        if fold_done:
            fold_done(k + 1, len(folds))

    t = np.array(days)
    last = close[t]
    actual = close[t + 1]
    # Drift: the average daily log return of everything known at t.
    drift_ret = np.array([log_ret[:i].mean() for i in t])
    ret = {name: np.array(v) for name, v in preds.items()}
    if len(models) > 1:
        ret["ensemble"] = np.mean([ret[m] for m in models], axis=0)
    forecasts = {"persistence": last, "drift": last * np.exp(drift_ret)}
    forecasts.update({name: last * np.exp(r) for name, r in ret.items()})

    base_mae = {b: float(np.mean(np.abs(forecasts[b] - actual))) for b in BASELINES}
    metrics = {name: price_metrics(actual, f, last, base_mae, name != "persistence")
               for name, f in forecasts.items()}
    ens = metrics.get("ensemble")
    skill = ens["skill_vs_persistence"] if ens else None
    # The served ensemble never does worse than persistence in the backtest:
    # without positive skill it falls back to "tomorrow = today".
    method = "mean" if skill is not None and skill > 0 else "persistence-fallback"
    if ens is not None:
        ens["method"] = method
    points = []
    for i, day in enumerate(t):
        point: dict[str, Any] = {"date": series.dates[day + 1], "actual": float(actual[i])}
        for name in ("persistence", "drift", *MODEL_NAMES, "ensemble"):
            point[name] = float(forecasts[name][i]) if name in forecasts else None
        points.append(point)
    return BacktestResult(metrics, points, method)
