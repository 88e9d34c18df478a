"""Backtest metrics (exact arithmetic) and the stored walk-forward of real MSFT prices."""

from types import SimpleNamespace

import numpy as np
import pytest

from stocksense.backtest.metrics import price_metrics
from stocksense.backtest.selection import legacy_method
from stocksense.backtest.walkforward import _evaluate
from stocksense.data import queries
from stocksense.data.db import get_engine


def test_price_metrics_arithmetic() -> None:
    last = np.array([10.0, 10.0, 10.0, 10.0])
    actual = np.array([11.0, 9.0, 10.5, 9.5])
    pred = np.array([10.5, 9.0, 11.0, 10.5])
    m = price_metrics(actual, pred, last, {"persistence": 0.75}, has_direction=True)
    assert m["mae"] == pytest.approx(0.5)
    assert m["rmse"] == pytest.approx(np.sqrt((0.25 + 0 + 0.25 + 1.0) / 4))
    assert m["directional_accuracy"] == pytest.approx(0.75)
    assert m["skill_vs_persistence"] == pytest.approx(1 - 0.5 / 0.75)
    assert m["n"] == 4
    p = price_metrics(actual, last, last, {"persistence": 0.75}, has_direction=False)
    assert p["directional_accuracy"] is None


def test_stored_walk_forward(trained_settings) -> None:
    bt = queries.latest_backtest(get_engine(trained_settings), "MSFT")
    assert bt is not None and bt["refit_every"] == trained_settings.refit_every
    metrics, points = bt["metrics"], bt["points"]
    assert set(metrics) == {"persistence", "drift", "ewma", "garch", "transformer", "lstm",
                            "ensemble", "blend", "served"}
    assert len(points) == trained_settings.backtest_days
    assert metrics["persistence"]["skill_vs_persistence"] == pytest.approx(0.0)
    for m in metrics.values():
        assert m["n"] == len(points) and m["mae"] > 0 and m["rmse"] >= m["mae"]
    # Points end on the last stored day, strictly increasing, with consistent metrics.
    dates = [p["date"] for p in points]
    assert dates == sorted(set(dates)) and dates[-1] == "2021-03-31"
    actual = np.array([p["actual"] for p in points])
    for name in ("persistence", "transformer", "ensemble"):
        pred = np.array([p[name] for p in points])
        assert metrics[name]["mae"] == pytest.approx(np.mean(np.abs(pred - actual)))
    history = {r["date"]: r["close"] for r in
               queries.get_history(get_engine(trained_settings), "MSFT", None)}
    assert all(history[p["date"]] == p["actual"] for p in points)
    # Band metrics for every band; the served band stored per day matches its coverage.
    for name in ("ewma", "garch", "transformer", "lstm", "ensemble", "blend", "served"):
        m = metrics[name]
        assert m["pinball"] > 0 and m["width_90"] > m["width_80"] > 0
        assert 0 <= m["coverage_80"] <= m["coverage_90"] <= 1
    assert metrics["persistence"]["pinball"] is None
    inside = np.mean([p["band_lo80"] <= p["actual"] <= p["band_hi80"] for p in points])
    assert inside == pytest.approx(metrics["served"]["coverage_80"])
    selection = metrics["served"]["selection"]
    assert metrics["ensemble"]["method"] == legacy_method(selection["live"]["point"])
    assert selection["folds"] and all(f["from"] <= dates[-1] for f in selection["folds"])
    assert {"omega", "alpha", "beta"} <= set(selection["garch"])


def _toy_series(n: int = 400):  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(1)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    return SimpleNamespace(close=close, dates=[f"d{i:04d}" for i in range(n)]), close


def test_nested_selection_never_uses_the_fold_it_serves() -> None:
    """A model that is perfect on the first test fold only is not served there (no peeking)."""
    series, close = _toy_series()
    t = np.arange(300, 398)
    folds = [(300, 340), (340, 380), (380, 398)]
    truth = np.log(close[t + 1] / close[t])
    oracle = np.tile(np.array([-0.05, -0.04, 0.0, 0.04, 0.05]), (len(t), 1))
    inside = (t >= 340) & (t < 380)
    oracle[inside] += truth[inside, None] - 0.0  # exact median in the second fold only
    far = np.tile(np.array([-0.5, -0.4, 0.3, 0.4, 0.5]), (len(t), 1))
    bands = {"transformer": oracle, "lstm": far, "ewma": np.tile([-.02, -.015, 0, .015, .02],
                                                                  (len(t), 1))}
    result = _evaluate(series, close, t, folds, bands, ("transformer", "lstm"), test_days=58)
    history = result.selection["folds"]
    assert history[0]["point"] != "transformer"  # chosen on fold 1, where it was poor
    assert history[1]["point"] == "transformer"  # by fold 3 its record earns it
    served = np.array([p["served"] for p in result.points])
    oracle_price = close[t + 1]
    assert not np.allclose(served[:40], oracle_price[-58:-18])
