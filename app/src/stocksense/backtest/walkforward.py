"""Expanding-window walk-forward backtest with periodic refits and nested selection.

For each evaluated day t we forecast close[t+1] (a point and a quantile band of the
return) using only data up to t. Models are refit every `refit_every` days on all
days before the fold starts (targets known by then), with a scaler fitted on that
window only; the GARCH baseline is refit at the same points. One extra fold in front
of the `test_days` is evaluated only so that the first test fold has earlier days to
choose what to serve on (see backtest.selection). Metrics cover the test days only.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from stocksense.backtest.baselines import ewma_band, fit_garch, garch_band
from stocksense.backtest.metrics import band_metrics, price_metrics
from stocksense.backtest.selection import (
    BAND_BASELINES,
    FALLBACK_RULE,
    POINT_BASELINES,
    best_band,
    best_point,
    blend_band,
    legacy_method,
)
from stocksense.features.bands import MEDIAN_INDEX, QUANTILES, log_returns
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

BASELINES = POINT_BASELINES
BAND_KEYS = {"band_lo90": 0, "band_lo80": 1, "band_hi80": 3, "band_hi90": 4}


@dataclass
class BacktestResult:
    metrics: dict[str, dict[str, Any]]
    points: list[dict[str, Any]]
    method: str  # legacy label of the served point forecast ("mean", "persistence-fallback", ..)
    selection: dict[str, Any] | None = None


def _folds(n: int, eval_days: int, refit_every: int) -> list[tuple[int, int]]:
    last_t = n - 2  # the last day with a known next-day close
    first_t = last_t - eval_days + 1
    return [(s, min(s + refit_every, last_t + 1)) for s in range(first_t, last_t + 1, refit_every)]


def _model_quantiles(series, window: int, folds, config: TrainConfig,  # type: ignore[no-untyped-def]
                     models: Sequence[str], progress: Progress | None,
                     fold_done: Callable[[int, int], None] | None) -> dict[str, np.ndarray]:
    import keras

    out: dict[str, list[np.ndarray]] = {m: [] for m in models}
    for k, (start, stop) in enumerate(folds):
        data = build_training_set(series, window, train_end=start - 1)
        days = np.arange(start, stop)
        x = windows_ending_at(data.scaled, days, window)
        for name in models:
            result = train_model(name, data, window, config, progress)
            scaled = result.calibrated(predict_keras(result.model, x))
            # Standardised-return quantiles -> log-return quantiles.
            out[name].append(data.scaler.unscale_target(scaled) * series.sigma[days, None])
            del result
            keras.backend.clear_session()  # each refit starts from a clean graph
            release_memory()
        if fold_done:
            fold_done(k + 1, len(folds))
    return {name: np.concatenate(parts) for name, parts in out.items()}


def _garch_quantiles(close: np.ndarray, folds) -> np.ndarray | None:  # type: ignore[no-untyped-def]
    parts = []
    for start, stop in folds:
        params = fit_garch(close[:start + 1])  # returns known at the fold start
        if params is None:
            return None
        parts.append(garch_band(close[:stop], params)[start:stop])
    return np.concatenate(parts)


def walk_forward(rows: Sequence[dict[str, Any]], window: int, test_days: int, refit_every: int,
                 config: TrainConfig, models: Sequence[str] = MODEL_NAMES,
                 progress: Progress | None = None,
                 fold_done: Callable[[int, int], None] | None = None) -> BacktestResult:
    if refit_every < 1 or test_days < 1:
        raise ValueError("refit_every and test days must be positive")
    configure_tensorflow()
    series = prepare(rows)
    n = len(rows)
    eval_days = test_days + refit_every  # + one fold that only feeds the selection
    if n - 1 - eval_days - first_window_end(window) < 100:
        raise NotEnoughHistory(
            f"{n} trading days is too little for a {window}-day window and a "
            f"{test_days}-day backtest (need {first_window_end(window) + eval_days + 102})")
    folds = _folds(n, eval_days, refit_every)
    close = series.close
    t = np.arange(folds[0][0], folds[-1][1])
    bands = _model_quantiles(series, window, folds, config, models, progress, fold_done)
    if len(models) > 1:
        # Vincentization: the ensemble's quantile is the mean of the models' quantiles.
        bands["ensemble"] = np.mean([bands[m] for m in models], axis=0)
    bands["ewma"] = ewma_band(close)[t]
    garch = _garch_quantiles(close, folds)
    if garch is not None:
        bands["garch"] = garch
    if garch is not None and "ensemble" in bands:
        bands["blend"] = blend_band(bands["ensemble"], garch)
    return _evaluate(series, close, t, folds, bands, models, test_days)


def _evaluate(series, close, t, folds, bands, models, test_days) -> BacktestResult:  # type: ignore[no-untyped-def]
    last, actual = close[t], close[t + 1]
    actual_ret = np.log(actual / last)
    r = log_returns(close)
    drift_ret = np.array([r[1:i + 1].mean() for i in t])  # mean return known at t
    point_ret = {"persistence": np.zeros(len(t)), "drift": drift_ret}
    point_ret.update({name: q[:, MEDIAN_INDEX] for name, q in bands.items()
                      if name not in (*BAND_BASELINES, "blend")})
    prices = {name: last * np.exp(ret) for name, ret in point_ret.items()}
    point_order = [*POINT_BASELINES, *(n for n in (*models, "ensemble") if n in prices)]
    band_order = [*BAND_BASELINES, *(n for n in (*models, "ensemble", "blend") if n in bands)]

    # Nested selection per test fold, on the evaluated days strictly before it.
    served_price = np.empty(len(t))
    served_band = np.empty((len(t), len(QUANTILES)))
    history = []
    for start, stop in folds[1:]:
        before = slice(0, start - t[0])
        now = slice(start - t[0], stop - t[0])
        point = best_point({k: v[before] for k, v in prices.items()}, actual[before], point_order)
        band = best_band({k: v[before] for k, v in bands.items()}, actual_ret[before],
                         band_order)
        served_price[now] = prices[point][now]
        served_band[now] = bands[band][now]
        history.append({"from": series.dates[start], "point": point, "band": band})
    prices["served"] = served_price
    bands["served"] = served_band

    test = slice(len(t) - test_days, len(t))
    metrics = _metrics(prices, bands, actual[test], last[test], actual_ret[test], test)
    # What serving uses from now on: chosen on every evaluated day (all before today).
    live = {"point": best_point(prices, actual, point_order),
            "band": best_band(bands, actual_ret, band_order)}
    method = legacy_method(live["point"])
    if "ensemble" in metrics:
        metrics["ensemble"]["method"] = method
    garch_live = fit_garch(close) if "garch" in bands else None
    selection = {
        "rule": FALLBACK_RULE, "folds": history, "live": live,
        "drift_return": float(r[1:].mean()), "garch": garch_live,
        "quantiles": list(QUANTILES), "first_validation_days": int(folds[0][1] - folds[0][0]),
        # Out of sample: did the band served by the nested selection beat the EWMA band?
        "served_beats_ewma_band": bool(metrics["served"]["pinball"]
                                       < metrics["ewma"]["pinball"]),
    }
    metrics["served"]["selection"] = selection
    return BacktestResult(metrics, _points(series, t[test], actual[test], prices, bands, test),
                          method, selection)


def _metrics(prices, bands, actual, last, actual_ret, test) -> dict[str, dict[str, Any]]:  # type: ignore[no-untyped-def]
    base_mae = {b: float(np.mean(np.abs(prices[b][test] - actual))) for b in POINT_BASELINES}
    ewma_loss = band_metrics(actual_ret, bands["ewma"][test], None)["pinball"]
    metrics: dict[str, dict[str, Any]] = {}
    for name in (*prices, *(b for b in (*BAND_BASELINES, "blend") if b in bands)):
        # Band baselines are random walks: their point forecast is persistence.
        pred = prices[name][test] if name in prices else last
        m = price_metrics(actual, pred, last, base_mae, name in prices and name != "persistence")
        m.update(band_metrics(actual_ret, bands[name][test] if name in bands else None,
                              ewma_loss))
        metrics[name] = m
    return metrics


def _points(series, days, actual, prices, bands, test) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    out = []
    names = ("persistence", "drift", *MODEL_NAMES, "ensemble", "served")
    series_prices = {name: prices[name][test] for name in names if name in prices}
    band = bands["served"][test]
    for i, day in enumerate(days):
        last = float(series.close[day])
        point: dict[str, Any] = {"date": series.dates[day + 1], "actual": float(actual[i])}
        for name in names:
            point[name] = float(series_prices[name][i]) if name in series_prices else None
        # The served band in prices (the chart draws it around the actual close).
        for key, idx in BAND_KEYS.items():
            point[key] = last * float(np.exp(band[i, idx]))
        out.append(point)
    return out
