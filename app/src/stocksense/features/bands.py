"""Quantile bands of the next-day log return (numpy + stdlib only; serving uses it).

Shared by training, the walk-forward backtest and serving:
- the quantile levels every model predicts, and the 80 % / 90 % intervals they form;
- the two volatility baselines: a random walk with EWMA volatility (RiskMetrics,
  lambda = 0.94) and one with GARCH(1,1) volatility (parameters fitted by `arch`
  in the backtest; here only the variance recursion, so serving needs no `arch`);
- calibration of a network's raw quantiles (shrunk median, scaled interval widths);
- pinball loss, coverage and width.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from statistics import NormalDist

import numpy as np

QUANTILES: tuple[float, ...] = (0.05, 0.1, 0.5, 0.9, 0.95)
MEDIAN_INDEX = QUANTILES.index(0.5)
# Central intervals: name -> (index of lower quantile, index of upper quantile, nominal coverage).
INTERVALS: dict[str, tuple[int, int, float]] = {"80": (1, 3, 0.8), "90": (0, 4, 0.9)}
EWMA_LAMBDA = 0.94
_Z = np.array([NormalDist().inv_cdf(q) for q in QUANTILES])


def quantile_keys() -> list[str]:
    """JSON keys of the levels ("0.05", ...)."""
    return [f"{q:g}" for q in QUANTILES]


def log_returns(close: np.ndarray) -> np.ndarray:
    """r[t] = log(close[t] / close[t-1]); r[0] = 0 (no previous day)."""
    close = np.asarray(close, dtype=np.float64)
    out = np.zeros_like(close)
    out[1:] = np.diff(np.log(close))
    return out


def ewma_sigma(close: np.ndarray, lam: float = EWMA_LAMBDA, warmup: int = 20) -> np.ndarray:
    """sigma[t]: EWMA forecast of the volatility of the return from day t to t+1.

    Uses returns up to and including day t only. Started from the mean squared
    return of the first `warmup` days; lam**250 ~ 2e-7, so a few hundred days
    make the start irrelevant (serving passes ~300).
    """
    r = log_returns(close)
    var = np.empty_like(r)
    acc = float(np.mean(r[1:warmup + 1] ** 2)) if len(r) > 1 else 0.0
    for t in range(len(r)):
        if t > 0:
            acc = lam * acc + (1.0 - lam) * r[t] ** 2
        var[t] = acc
    return np.sqrt(var)


def garch_sigma(close: np.ndarray, omega: float, alpha: float, beta: float) -> np.ndarray:
    """sigma[t] of a GARCH(1,1) with fixed parameters (log-return units), causal like ewma_sigma."""
    r = log_returns(close)
    persistence = alpha + beta
    acc = omega / (1.0 - persistence) if 0 < persistence < 1 else float(np.var(r[1:]))
    var = np.empty_like(r)
    for t in range(len(r)):
        if t > 0:
            acc = omega + alpha * r[t] ** 2 + beta * acc
        var[t] = acc
    return np.sqrt(var)


def normal_band(sigma: np.ndarray, mean: np.ndarray | float = 0.0) -> np.ndarray:
    """(n, len(QUANTILES)) return quantiles of N(mean, sigma^2)."""
    sigma = np.asarray(sigma, dtype=np.float64).reshape(-1, 1)
    return np.asarray(mean, dtype=np.float64).reshape(-1, 1) + sigma * _Z[None, :]


def fit_band_scale(raw: np.ndarray, actual: np.ndarray, median: np.ndarray) -> dict[str, float]:
    """Width factor per interval so it holds on the calibration rows as often as it claims.

    Around the served `median`, the interval scaled by s covers y exactly when
    s >= max((median - y) / (raw_med - raw_lo), (y - median) / (raw_hi - raw_med)); s is the
    finite-sample-corrected nominal quantile of that ratio (split-conformal scaling).
    """
    raw = np.sort(np.asarray(raw, dtype=np.float64), axis=1)
    y = np.asarray(actual, dtype=np.float64)
    scales: dict[str, float] = {}
    for name, (lo, hi, level) in INTERVALS.items():
        d_lo = np.maximum(raw[:, MEDIAN_INDEX] - raw[:, lo], 1e-9)
        d_hi = np.maximum(raw[:, hi] - raw[:, MEDIAN_INDEX], 1e-9)
        ratio = np.maximum((median - y) / d_lo, (y - median) / d_hi)
        n = len(ratio)
        rank = min(1.0, np.ceil((n + 1) * level) / n) if n else 1.0
        scale = float(np.quantile(ratio, rank)) if n else 1.0
        scales[name] = float(np.clip(scale, 0.05, 50.0))
    return scales


def calibrated_quantiles(raw: np.ndarray, shrink: float,
                         band_scale: Mapping[str, float] | None) -> np.ndarray:
    """Raw network quantiles (n, K) -> served quantiles (n, K), same units, never crossing.

    Sorting first (monotone rearrangement) removes any crossing of the raw outputs; the
    median is shrunk toward zero by `shrink`; each interval's distances from the raw
    median are scaled by its band factor and re-centred on the shrunk median.
    """
    raw = np.sort(np.asarray(raw, dtype=np.float64).reshape(len(raw), -1), axis=1)
    med_raw = raw[:, MEDIAN_INDEX]
    med = shrink * med_raw
    out = np.empty_like(raw)
    out[:, MEDIAN_INDEX] = med
    scales = band_scale or {}
    for name, (lo, hi, _level) in INTERVALS.items():
        s = float(scales.get(name, 1.0))
        out[:, lo] = med - s * (med_raw - raw[:, lo])
        out[:, hi] = med + s * (raw[:, hi] - med_raw)
    # Keep the intervals nested when the 80 % band was widened more than the 90 % one.
    out[:, 0] = np.minimum(out[:, 0], out[:, 1])
    out[:, -1] = np.maximum(out[:, -1], out[:, -2])
    return np.sort(out, axis=1)


def pinball(actual: np.ndarray, quantiles: np.ndarray,
            levels: Sequence[float] = QUANTILES) -> float:
    """Mean pinball (quantile) loss over days and levels; lower is better."""
    y = np.asarray(actual, dtype=np.float64).reshape(-1, 1)
    diff = y - np.asarray(quantiles, dtype=np.float64)
    tau = np.asarray(levels, dtype=np.float64)[None, :]
    return float(np.mean(np.maximum(tau * diff, (tau - 1.0) * diff)))


def interval_stats(actual: np.ndarray, quantiles: np.ndarray) -> dict[str, float]:
    """coverage_80/90 (share of days inside) and width_80/90 (mean width, return units)."""
    y = np.asarray(actual, dtype=np.float64)
    q = np.asarray(quantiles, dtype=np.float64)
    out: dict[str, float] = {}
    for name, (lo, hi, _level) in INTERVALS.items():
        out[f"coverage_{name}"] = float(np.mean((y >= q[:, lo]) & (y <= q[:, hi])))
        out[f"width_{name}"] = float(np.mean(q[:, hi] - q[:, lo]))
    return out
