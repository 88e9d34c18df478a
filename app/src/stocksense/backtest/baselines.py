"""Volatility baselines for the backtest: EWMA (RiskMetrics) and GARCH(1,1) random walks.

The GARCH parameters are fitted with `arch` (train extra only) on returns known at
the start of each fold; the daily variance recursion itself is numpy
(stocksense.features.bands.garch_sigma), so serving can apply stored parameters
without `arch`.
"""

from __future__ import annotations

import logging
import warnings

import numpy as np

from stocksense.features.bands import ewma_sigma, garch_sigma, log_returns, normal_band

log = logging.getLogger(__name__)


def ewma_band(close: np.ndarray) -> np.ndarray:
    """(n, K) return quantiles for every day t (forecast of t -> t+1), data <= t only."""
    return normal_band(ewma_sigma(close))


def fit_garch(close: np.ndarray) -> dict[str, float] | None:
    """GARCH(1,1), zero mean, normal errors, on the log returns of `close`; None if it fails."""
    try:
        from arch import arch_model
    except ImportError:
        log.warning("arch is not installed: no GARCH baseline (pip install 'stocksense[train]')")
        return None
    # arch's optimiser is best conditioned on percent returns.
    pct = log_returns(close)[1:] * 100.0
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = arch_model(pct, mean="Zero", vol="GARCH", p=1, q=1, dist="normal",
                             rescale=False).fit(disp="off")
    except Exception as exc:  # noqa: BLE001 - a failed fit only drops this baseline
        log.warning("GARCH fit failed: %s", exc)
        return None
    params = {"omega": float(res.params["omega"]) / 1e4, "alpha": float(res.params["alpha[1]"]),
              "beta": float(res.params["beta[1]"])}
    if not all(np.isfinite(v) and v >= 0 for v in params.values()):
        return None
    return params


def garch_band(close: np.ndarray, params: dict[str, float]) -> np.ndarray:
    return normal_band(garch_sigma(close, params["omega"], params["alpha"], params["beta"]))
