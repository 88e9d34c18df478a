"""Quantile bands, volatility baselines and interval metrics (numpy only), on real prices."""

from __future__ import annotations

import numpy as np
import pytest

from stocksense.data.bundled import load_bundled
from stocksense.features.bands import (
    QUANTILES,
    calibrated_quantiles,
    ewma_sigma,
    fit_band_scale,
    garch_sigma,
    interval_stats,
    log_returns,
    normal_band,
    pinball,
)


@pytest.fixture(scope="module")
def close() -> np.ndarray:
    return np.array([r.close for r in load_bundled("MSFT")])


def test_ewma_is_causal_and_is_a_special_garch(close) -> None:
    sigma = ewma_sigma(close)
    changed = close.copy()
    changed[1000:] *= 1.7  # scramble the future
    np.testing.assert_array_equal(ewma_sigma(changed)[:1000], sigma[:1000])
    # RiskMetrics is GARCH(1,1) with omega 0, alpha 1 - lambda, beta lambda.
    np.testing.assert_allclose(garch_sigma(close, 0.0, 0.06, 0.94)[300:], sigma[300:], rtol=1e-6)


def test_ewma_band_is_roughly_calibrated_on_real_prices(close) -> None:
    r = log_returns(close)
    q = normal_band(ewma_sigma(close)[100:-1])
    stats = interval_stats(r[101:], q)
    assert 0.74 < stats["coverage_80"] < 0.86 and 0.84 < stats["coverage_90"] < 0.95
    assert stats["width_90"] > stats["width_80"] > 0


def test_pinball_matches_hand_computation() -> None:
    q = np.array([[-2.0, -1.0, 0.0, 1.0, 2.0]])
    # y = 1.5: (1.5+2)*.05 + (1.5+1)*.1 + 1.5*.5 + (1.5-1)*.9 + (2-1.5)*.05, over 5 levels
    expected = (3.5 * .05 + 2.5 * .1 + 1.5 * .5 + 0.5 * .9 + 0.5 * .05) / 5
    assert pinball(np.array([1.5]), q) == pytest.approx(expected)
    assert pinball(np.array([0.0]), q) < pinball(np.array([1.5]), q)


def test_band_scale_reaches_nominal_coverage_and_quantiles_never_cross() -> None:
    rng = np.random.default_rng(0)
    y = rng.standard_t(4, size=2000)
    # Crossing, far too narrow raw quantiles: the calibration must fix both.
    raw = np.tile(np.array([0.3, -0.1, 0.0, 0.1, -0.3]), (2000, 1)) + rng.normal(0, .01, (2000, 5))
    scale = fit_band_scale(raw, y, np.zeros(2000))
    served = calibrated_quantiles(raw, 1.0, scale)
    assert np.all(np.diff(served, axis=1) >= 0)
    stats = interval_stats(y, served)
    assert stats["coverage_80"] == pytest.approx(0.8, abs=0.01)
    assert stats["coverage_90"] == pytest.approx(0.9, abs=0.01)
    assert len(QUANTILES) == served.shape[1]
