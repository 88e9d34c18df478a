"""Backtest metrics (exact arithmetic) and the stored walk-forward of real MSFT prices."""

import numpy as np
import pytest

from stocksense.backtest.metrics import price_metrics
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
    assert set(metrics) == {"persistence", "drift", "transformer", "lstm", "ensemble"}
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
    skill = metrics["ensemble"]["skill_vs_persistence"]
    assert metrics["ensemble"]["method"] == ("mean" if skill > 0 else "persistence-fallback")
