"""What the forecast endpoint serves: the point and band chosen by the latest backtest.

The walk-forward backtest stores its choice (`metrics["served"]["selection"]["live"]`),
made on out-of-sample days only. Without a backtest, or when the chosen model is not
loaded, serving falls back to persistence for the point and the EWMA band.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from stocksense.backtest.selection import FALLBACK_RULE, blend_band, legacy_method
from stocksense.features.bands import (
    INTERVALS,
    MEDIAN_INDEX,
    QUANTILES,
    ewma_sigma,
    garch_sigma,
    normal_band,
    quantile_keys,
)


def price_quantiles(last_close: float, returns: np.ndarray) -> dict[str, float]:
    return {k: last_close * math.exp(float(r)) for k, r in zip(quantile_keys(), returns,
                                                              strict=True)}


def intervals(quantiles: Mapping[str, float]) -> dict[str, dict[str, float]]:
    keys = quantile_keys()
    return {name: {"low": quantiles[keys[lo]], "high": quantiles[keys[hi]], "level": level}
            for name, (lo, hi, level) in INTERVALS.items()}


def baseline_bands(close: np.ndarray, selection: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """Return quantiles of the volatility baselines for the day after the last close."""
    out = {"ewma": normal_band(ewma_sigma(close)[-1:])[0]}
    garch = selection.get("garch")
    if garch:
        sigma = garch_sigma(close, garch["omega"], garch["alpha"], garch["beta"])[-1:]
        out["garch"] = normal_band(sigma)[0]
    return out


def served_entry(models: Mapping[str, dict[str, Any]], returns: Mapping[str, np.ndarray],
                 baselines: Mapping[str, np.ndarray], bt_metrics: Mapping[str, Any],
                 last_close: float) -> dict[str, Any]:
    """The `ensemble` entry of a forecast: the served point, band and its out-of-sample record."""
    served = bt_metrics.get("served") or {}
    selection = served.get("selection") or {}
    live = selection.get("live") or {}
    candidates = dict(returns)
    if len(returns) > 1:
        candidates["ensemble"] = np.mean(list(returns.values()), axis=0)
    point = live.get("point", "persistence")
    point_ret = {"persistence": 0.0, "drift": float(selection.get("drift_return") or 0.0)}
    point_ret.update({k: float(v[MEDIAN_INDEX]) for k, v in candidates.items()})
    if point not in point_ret:
        point = "persistence"  # chosen model not loaded: the safe baseline
    band = live.get("band", "ewma")
    bands = {**baselines, **candidates}
    if "ensemble" in candidates and "garch" in baselines:
        bands["blend"] = blend_band(candidates["ensemble"], baselines["garch"])
    if band not in bands:
        band = "ewma"
    ret = point_ret[point]
    quantiles = price_quantiles(last_close, bands[band])
    return {
        "predicted_return": ret,
        "predicted_close": last_close * math.exp(ret),
        "model_version": "+".join(f"{k}@{v['model_version']}" for k, v in models.items()),
        "data_as_of": min((m["data_as_of"] or "") for m in models.values()) or None,
        # Out-of-sample skill of what the nested selection served in the backtest.
        "skill_vs_persistence": served.get("skill_vs_persistence"),
        "method": legacy_method(point),
        "point_source": point,
        "band_source": band,
        "quantiles": quantiles,
        "intervals": intervals(quantiles),
        "coverage_80": served.get("coverage_80"),
        "coverage_90": served.get("coverage_90"),
        "pinball_skill_vs_ewma": served.get("pinball_skill_vs_ewma"),
        "selection_rule": FALLBACK_RULE,
    }


def model_entry(ret_quantiles: np.ndarray | None, ret: float, last_close: float) -> dict[str, Any]:
    """Quantile fields of one model's forecast (None for a legacy single-output model)."""
    if ret_quantiles is None:
        return {"quantiles": None, "intervals": None}
    quantiles = price_quantiles(last_close, ret_quantiles)
    return {"quantiles": quantiles, "intervals": intervals(quantiles)}


__all__ = ["QUANTILES", "baseline_bands", "model_entry", "served_entry"]
