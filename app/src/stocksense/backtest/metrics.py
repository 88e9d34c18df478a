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


def band_metrics(actual_ret: np.ndarray, quantiles: np.ndarray | None,
                 ewma_pinball: float | None) -> dict[str, Any]:
    """Pinball loss, 80/90 % coverage and width (return units) of a quantile band.

    `quantiles` is (n, len(QUANTILES)) of next-day log returns; None for point-only
    forecasts (persistence, drift), which get None for every band field.
    """
    from stocksense.features.bands import interval_stats, pinball

    keys = ("pinball", "pinball_skill_vs_ewma", "coverage_80", "coverage_90", "width_80",
            "width_90")
    if quantiles is None:
        return dict.fromkeys(keys)
    loss = pinball(actual_ret, quantiles)
    out: dict[str, Any] = {"pinball": loss, **interval_stats(actual_ret, quantiles)}
    # Skill > 0 means sharper-and-calibrated bands than the EWMA random walk.
    out["pinball_skill_vs_ewma"] = (float(1.0 - loss / ewma_pinball)
                                    if ewma_pinball and ewma_pinball > 0 else None)
    return out
