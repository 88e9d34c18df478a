"""Scaling and sliding windows for the sequence models."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from stocksense.features.indicators import MIN_HISTORY


@dataclass(frozen=True)
class Scaler:
    """Per-feature standardisation plus target scaling, fitted on training rows only."""

    mean: np.ndarray
    std: np.ndarray
    target_mean: float
    target_std: float

    @classmethod
    def fit(cls, feats: np.ndarray, target: np.ndarray) -> Scaler:
        if np.isnan(feats).any() or np.isnan(target).any():
            raise ValueError("scaler fit on rows with missing values")
        std = feats.std(axis=0)
        std = np.where(std > 1e-12, std, 1.0)
        t_std = float(target.std()) or 1.0
        return cls(feats.mean(axis=0), std, float(target.mean()), t_std)

    def transform(self, feats: np.ndarray) -> np.ndarray:
        return ((feats - self.mean) / self.std).astype(np.float32)

    def scale_target(self, target: np.ndarray) -> np.ndarray:
        return ((target - self.target_mean) / self.target_std).astype(np.float32)

    def unscale_target(self, scaled: np.ndarray) -> np.ndarray:
        return np.asarray(scaled, dtype=np.float64) * self.target_std + self.target_mean

    def to_dict(self) -> dict[str, Any]:
        return {"mean": self.mean.tolist(), "std": self.std.tolist(),
                "target_mean": self.target_mean, "target_std": self.target_std}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Scaler:
        return cls(np.asarray(data["mean"], dtype=np.float64),
                   np.asarray(data["std"], dtype=np.float64),
                   float(data["target_mean"]), float(data["target_std"]))


def first_window_end(window: int) -> int:
    """Smallest day index t whose window [t-window+1, t] has all features defined."""
    return MIN_HISTORY + window - 1


def windows_ending_at(scaled: np.ndarray, ends: np.ndarray, window: int) -> np.ndarray:
    """Stack windows scaled[t-window+1 : t+1] for each t in `ends` -> (len(ends), window, F)."""
    view = np.lib.stride_tricks.sliding_window_view(scaled, window, axis=0)  # (n-w+1, F, w)
    return np.ascontiguousarray(view[ends - window + 1].transpose(0, 2, 1), dtype=np.float32)
