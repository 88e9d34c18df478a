"""Assemble training/validation windows from a price history without look-ahead."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from stocksense.features.bands import ewma_sigma
from stocksense.features.indicators import compute_features, next_day_log_return
from stocksense.features.inference import NotEnoughHistory, arrays_from_rows
from stocksense.features.windows import Scaler, first_window_end, windows_ending_at


@dataclass
class PreparedSeries:
    dates: list[str]
    close: np.ndarray
    feats: np.ndarray  # raw (unscaled) features, NaN during warm-up
    # EWMA volatility forecast made at day t (data <= t): the target's unit.
    sigma: np.ndarray
    # Next-day log return divided by sigma (NaN on the last day): the models learn
    # quantiles of this standardised return, so their bands move with volatility.
    target: np.ndarray


def prepare(rows: Sequence[dict[str, Any]]) -> PreparedSeries:
    arr = arrays_from_rows(rows)
    sigma = volatility_unit(arr["close"])
    return PreparedSeries(
        dates=[str(r["date"]) for r in rows],
        close=arr["close"],
        feats=compute_features(arr["close"], arr["high"], arr["low"], arr["volume"]),
        sigma=sigma,
        target=next_day_log_return(arr["close"]) / sigma,
    )


def volatility_unit(close: np.ndarray) -> np.ndarray:
    """EWMA volatility per day, floored so that a flat start never divides by zero."""
    return np.maximum(ewma_sigma(close), 1e-4)


@dataclass
class TrainingSet:
    scaler: Scaler
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    scaled: np.ndarray  # whole series scaled with the training-window scaler
    train_end: int  # last day index whose target is used for training


def min_days(window: int, min_samples: int = 100) -> int:
    return first_window_end(window) + min_samples + 1


def build_training_set(series: PreparedSeries, window: int, train_end: int,
                       val_fraction: float = 0.15) -> TrainingSet:
    """Windows ending at days first..train_end (targets known by train_end + 1).

    The scaler is fitted only on feature rows <= train_end and on the training
    targets, so nothing after the training window leaks into scaling. The last
    `val_fraction` of those windows (the most recent) is the validation set.
    """
    start = first_window_end(window)
    if train_end - start + 1 < 100:
        raise NotEnoughHistory(
            f"need at least {min_days(window)} trading days for a {window}-day window "
            f"(have {train_end + 2})")
    ends = np.arange(start, train_end + 1)
    fit_rows = series.feats[start - window + 1: train_end + 1]
    scaler = Scaler.fit(fit_rows, series.target[ends])
    scaled = scaler.transform(np.nan_to_num(series.feats))
    x = windows_ending_at(scaled, ends, window)
    y = scaler.scale_target(series.target[ends])
    n_val = max(int(len(ends) * val_fraction), 20)
    return TrainingSet(scaler, x[:-n_val], y[:-n_val], x[-n_val:], y[-n_val:], scaled,
                       train_end)
