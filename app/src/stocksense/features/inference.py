"""Turn stored price rows into the model input for the most recent day."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from stocksense.features.indicators import FEATURES, compute_features
from stocksense.features.windows import Scaler


class NotEnoughHistory(ValueError):
    pass


def arrays_from_rows(rows: Sequence[dict[str, Any]]) -> dict[str, np.ndarray]:
    return {
        key: np.array([float(r[key]) for r in rows], dtype=np.float64)
        for key in ("open", "high", "low", "close", "volume")
    }


def latest_sigma(rows: Sequence[dict[str, Any]]) -> float:
    """The EWMA volatility unit of the next-day return (see models.dataset.volatility_unit)."""
    from stocksense.features.bands import ewma_sigma

    close = np.array([float(r["close"]) for r in rows], dtype=np.float64)
    return max(float(ewma_sigma(close)[-1]), 1e-4)


def latest_window(rows: Sequence[dict[str, Any]], window: int, scaler: Scaler,
                  feature_names: Sequence[str]) -> np.ndarray:
    """(1, window, F) float32 ending at the last row."""
    if tuple(feature_names) != FEATURES:
        raise ValueError("model was trained with a different feature list")
    arr = arrays_from_rows(rows)
    feats = compute_features(arr["close"], arr["high"], arr["low"], arr["volume"])
    tail = feats[-window:]
    if len(tail) < window or np.isnan(tail).any():
        raise NotEnoughHistory(f"need at least {window + 50} trading days of history")
    return scaler.transform(tail)[None, :, :]
