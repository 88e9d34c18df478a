"""Forecast metrics on prices (numpy only, so serving can reuse them)."""

from __future__ import annotations

from typing import Any

import numpy as np


def price_metrics(actual: np.ndarray, predicted: np.ndarray, last: np.ndarray,
                  baseline_mae: dict[str, float], has_direction: bool) -> dict[str, Any]:
    err = predicted - actual
    mae = float(np.mean(np.abs(err)))
    out: dict[str, Any] = {
        "mae": mae,
        "rmse": float(np.sqrt(np.mean(err ** 2))),
        # Direction of the predicted move vs the realised move. Persistence
        # predicts no move, so it has no directional accuracy.
        "directional_accuracy": (float(np.mean(np.sign(predicted - last) ==
                                               np.sign(actual - last)))
                                 if has_direction else None),
        "n": int(len(actual)),
    }
    for name, base in baseline_mae.items():
        # Skill > 0 means a smaller price MAE than the baseline.
        out[f"skill_vs_{name}"] = float(1.0 - mae / base) if base > 0 else None
    return out
