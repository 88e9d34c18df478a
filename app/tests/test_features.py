"""No look-ahead: nothing at day t may depend on rows after t (real MSFT prices)."""

import numpy as np
import pytest

from stocksense.data.bundled import load_bundled
from stocksense.features.indicators import (
    FEATURES,
    MIN_HISTORY,
    SERVING_LOOKBACK,
    compute_features,
    next_day_log_return,
)
from stocksense.features.inference import NotEnoughHistory, arrays_from_rows, latest_window
from stocksense.features.windows import Scaler
from stocksense.models.dataset import build_training_set, prepare


@pytest.fixture(scope="module")
def rows() -> list[dict]:
    return [r.as_dict() for r in load_bundled("MSFT")][:700]


def _feats(rows: list[dict]) -> np.ndarray:
    a = arrays_from_rows(rows)
    return compute_features(a["close"], a["high"], a["low"], a["volume"])


def test_feature_shape_and_warmup(rows) -> None:
    f = _feats(rows)
    assert f.shape == (len(rows), len(FEATURES))
    assert np.isnan(f[:MIN_HISTORY]).all()
    assert not np.isnan(f[MIN_HISTORY:]).any()


@pytest.mark.parametrize("t", [MIN_HISTORY, 120, 333, 698])
def test_features_at_t_ignore_the_future(rows, t: int) -> None:
    full = _feats(rows)
    # 1) computing on the prefix gives the same values up to t
    prefix = _feats(rows[: t + 1])
    np.testing.assert_array_equal(prefix, full[: t + 1])
    # 2) scrambling every later row changes nothing up to t
    rng = np.random.default_rng(t)
    future = [dict(r) for r in rows]
    for r in future[t + 1:]:
        for key in ("open", "high", "low", "close", "adj_close"):
            r[key] = float(r[key]) * float(rng.uniform(0.5, 2.0))
        r["volume"] = int(r["volume"] * rng.uniform(0.1, 10))
        r["high"] = max(r["high"], r["low"])
    np.testing.assert_array_equal(_feats(future)[: t + 1], full[: t + 1])


def test_target_is_next_day_log_return(rows) -> None:
    close = np.array([r["close"] for r in rows])
    y = next_day_log_return(close)
    assert y[10] == pytest.approx(np.log(close[11] / close[10]))
    assert np.isnan(y[-1])


def test_training_set_uses_nothing_after_train_end(rows) -> None:
    window, train_end = 20, 400
    base = build_training_set(prepare(rows), window, train_end)
    changed = [dict(r) for r in rows]
    for r in changed[train_end + 2:]:  # close[train_end + 1] is the last target used
        for key in ("open", "high", "low", "close", "adj_close"):
            r[key] = float(r[key]) * 3.0
    other = build_training_set(prepare(changed), window, train_end)
    np.testing.assert_array_equal(base.scaler.mean, other.scaler.mean)
    np.testing.assert_array_equal(base.scaler.std, other.scaler.std)
    np.testing.assert_array_equal(base.x_train, other.x_train)
    np.testing.assert_array_equal(base.y_val, other.y_val)
    # Validation is the most recent slice: later in time than every training window.
    assert len(base.y_val) >= 20


def test_scaler_roundtrip() -> None:
    rng = np.random.default_rng(0)
    feats, target = rng.normal(3, 2, (200, 4)), rng.normal(0.001, 0.02, 200)
    s = Scaler.fit(feats, target)
    again = Scaler.from_dict(s.to_dict())
    np.testing.assert_allclose(again.transform(feats).mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(again.unscale_target(again.scale_target(target)), target,
                               rtol=1e-5, atol=1e-7)


def test_serving_lookback_matches_full_history(rows) -> None:
    """Serving computes features on a short tail; recursive indicators must agree."""
    window = 60
    full = _feats(rows)[-window:]
    scaler = Scaler(np.zeros(len(FEATURES)), np.ones(len(FEATURES)), 0.0, 1.0)
    tail = latest_window(rows[-(window + SERVING_LOOKBACK):], window, scaler, FEATURES)
    np.testing.assert_allclose(tail[0], full.astype(np.float32), atol=1e-6)
    with pytest.raises(NotEnoughHistory):
        latest_window(rows[-(window + 10):], window, scaler, FEATURES)
