"""Technical indicators computed strictly from data at or before each day.

Every value at index t depends only on rows 0..t (trailing windows and
forward-running recursions), so the same code serves training and inference.
Recursive indicators (EMA, RSI) forget their start-up after a few hundred
days; serving passes SERVING_LOOKBACK rows so both paths agree to ~1e-6.
"""

from __future__ import annotations

import numpy as np

FEATURES: tuple[str, ...] = (
    "log_ret_1",
    "log_ret_5",
    "log_ret_20",
    "log_price_sma10",
    "log_price_sma50",
    "log_price_ema12",
    "log_price_ema26",
    "rsi14",
    "macd",
    "macd_hist",
    "volume_z20",
    "log_high_low",
    "volatility20",
)
# First index where every feature is defined (SMA50 needs 50 closes).
MIN_HISTORY = 50
# Rows of history serving passes in front of the model window so that EMA/RSI
# start-up effects are below 1e-6 ((25/27)**250 ~ 4e-9).
SERVING_LOOKBACK = 260


def _ema(x: np.ndarray, alpha: float) -> np.ndarray:
    out = np.empty_like(x)
    acc = x[0]
    for i, value in enumerate(x):
        acc = alpha * value + (1.0 - alpha) * acc
        out[i] = acc
    return out


def _rolling_mean(x: np.ndarray, n: int) -> np.ndarray:
    out = np.full_like(x, np.nan)
    if len(x) >= n:
        csum = np.cumsum(np.insert(x, 0, 0.0))
        out[n - 1:] = (csum[n:] - csum[:-n]) / n
    return out


def _rolling_std(x: np.ndarray, n: int) -> np.ndarray:
    out = np.full_like(x, np.nan)
    if len(x) >= n:
        windows = np.lib.stride_tricks.sliding_window_view(x, n)
        out[n - 1:] = windows.std(axis=1)
    return out


def _lag_log_ratio(logc: np.ndarray, k: int) -> np.ndarray:
    out = np.full_like(logc, np.nan)
    out[k:] = logc[k:] - logc[:-k]
    return out


def _rsi(close: np.ndarray, n: int = 14) -> np.ndarray:
    delta = np.diff(close, prepend=close[0])
    gain = np.clip(delta, 0, None)
    loss = np.clip(-delta, 0, None)
    avg_gain = _ema(gain, 1.0 / n)  # Wilder smoothing
    avg_loss = _ema(loss, 1.0 / n)
    total = avg_gain + avg_loss
    rsi = np.where(total > 0, avg_gain / np.where(total > 0, total, 1.0), 0.5)
    return rsi - 0.5  # centred: 0 means balanced gains and losses


def compute_features(close: np.ndarray, high: np.ndarray, low: np.ndarray,
                     volume: np.ndarray) -> np.ndarray:
    """Return an (n, len(FEATURES)) float64 array; rows before MIN_HISTORY are NaN."""
    close = np.asarray(close, dtype=np.float64)
    high = np.asarray(high, dtype=np.float64)
    low = np.asarray(low, dtype=np.float64)
    volume = np.asarray(volume, dtype=np.float64)
    logc = np.log(close)
    ret1 = _lag_log_ratio(logc, 1)
    ema12 = _ema(close, 2.0 / 13.0)
    ema26 = _ema(close, 2.0 / 27.0)
    macd_line = ema12 - ema26
    signal = _ema(macd_line, 2.0 / 10.0)
    logv = np.log1p(volume)
    vmean = _rolling_mean(logv, 20)
    vstd = _rolling_std(logv, 20)
    volume_z = np.where(vstd > 1e-12, (logv - vmean) / np.where(vstd > 1e-12, vstd, 1.0), 0.0)
    volume_z[np.isnan(vmean)] = np.nan
    ret1_filled = np.nan_to_num(ret1)
    vol20 = _rolling_std(ret1_filled, 20)
    vol20[:20] = np.nan  # the first window would include the missing day-0 return
    columns = [
        ret1,
        _lag_log_ratio(logc, 5),
        _lag_log_ratio(logc, 20),
        logc - np.log(_rolling_mean(close, 10)),
        logc - np.log(_rolling_mean(close, 50)),
        logc - np.log(ema12),
        logc - np.log(ema26),
        _rsi(close, 14),
        macd_line / close,
        (macd_line - signal) / close,
        volume_z,
        np.log(high / low),
        vol20,
    ]
    feats = np.column_stack(columns)
    feats[:MIN_HISTORY] = np.nan
    return feats


def next_day_log_return(close: np.ndarray) -> np.ndarray:
    """Target for day t: log(close[t+1] / close[t]); NaN for the last day."""
    close = np.asarray(close, dtype=np.float64)
    out = np.full_like(close, np.nan)
    out[:-1] = np.diff(np.log(close))
    return out
