"""Nested selection: what to serve for each test fold, chosen only on earlier days.

For every test fold, the point forecast is the candidate with the lowest price MAE
and the band the candidate with the lowest pinball loss over all evaluated days
strictly before the fold (the first fold of the walk-forward is evaluated for this
purpose only). Baselines come first, so a model must be strictly better to win.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from stocksense.features.bands import pinball

POINT_BASELINES = ("persistence", "drift")
BAND_BASELINES = ("ewma", "garch")
FALLBACK_RULE = ("Each day's forecast and band come from whichever candidate (the models, "
                 "their ensemble or a baseline) had the lowest error on all backtest days "
                 "before it; the models are served only where they beat the baselines there.")


def best_point(candidates: Mapping[str, np.ndarray], actual: np.ndarray,
               order: Sequence[str]) -> str:
    """Name with the lowest MAE of predicted prices (first in `order` wins ties)."""
    best, best_mae = "", np.inf
    for name in order:
        if name in candidates:
            mae = float(np.mean(np.abs(candidates[name] - actual)))
            if mae < best_mae:
                best, best_mae = name, mae
    return best


def best_band(candidates: Mapping[str, np.ndarray], actual_ret: np.ndarray,
              order: Sequence[str]) -> str:
    """Name with the lowest pinball loss (first in `order` wins ties)."""
    best, best_loss = "", np.inf
    for name in order:
        if name in candidates:
            loss = pinball(actual_ret, candidates[name])
            if loss < best_loss:
                best, best_loss = name, loss
    return best


def blend_band(ensemble: np.ndarray, garch: np.ndarray) -> np.ndarray:
    """Equal-weight quantile average of the models' ensemble and the GARCH band.

    Combining a learned band with a strong statistical one usually beats both;
    it is one more candidate, chosen only when it wins on earlier days.
    """
    return 0.5 * (np.asarray(ensemble) + np.asarray(garch))


def legacy_method(point: str) -> str:
    """The `ensemble.method` label of a served point choice (kept for API compatibility)."""
    return {"ensemble": "mean", "persistence": "persistence-fallback",
            "drift": "drift-fallback"}.get(point, point)
