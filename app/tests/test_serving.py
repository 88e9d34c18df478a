"""ForecastService over real tiny LiteRT models trained on bundled prices."""

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest

from stocksense.data import queries
from stocksense.data.db import get_engine
from stocksense.features.inference import latest_sigma
from stocksense.registry import open_registry
from stocksense.serving import ForecastService, ModelUnavailable, UnknownSymbol
from stocksense.serving.served import served_entry


def test_forecast_shape_and_values(trained_settings) -> None:
    engine = get_engine(trained_settings)
    svc = ForecastService(trained_settings, engine)
    result = svc.forecast("msft")
    last = queries.get_history(engine, "MSFT", 1)[0]
    assert result["symbol"] == "MSFT" and result["as_of"] == last["date"]
    assert result["last_close"] == last["close"]
    for name in ("transformer", "lstm"):
        m = result["models"][name]
        assert math.isfinite(m["predicted_return"]) and abs(m["predicted_return"]) < 0.2
        expected = last["close"] * math.exp(m["predicted_return"])
        assert m["predicted_close"] == pytest.approx(expected)
        assert m["data_as_of"] == last["date"]
        assert m["skill_vs_persistence"] is not None  # a backtest exists in this home
        q = list(m["quantiles"].values())
        assert q == sorted(q) and m["quantiles"]["0.5"] == pytest.approx(m["predicted_close"])
        assert m["intervals"]["80"]["low"] == m["quantiles"]["0.1"]
    ens = result["ensemble"]
    bt = queries.latest_backtest(engine, "MSFT")
    live = bt["metrics"]["served"]["selection"]["live"]
    # Serving follows the backtest's out-of-sample choice for the point and the band.
    assert (ens["point_source"], ens["band_source"]) == (live["point"], live["band"])
    assert ens["skill_vs_persistence"] == bt["metrics"]["served"]["skill_vs_persistence"]
    band = list(ens["quantiles"].values())
    assert band == sorted(band) and band[0] < last["close"] * 1.2
    assert ens["coverage_80"] == bt["metrics"]["served"]["coverage_80"]
    assert "ewma" in result["baselines"]
    if ens["point_source"] == "persistence":
        assert ens["method"] == "persistence-fallback"
        assert ens["predicted_close"] == last["close"]


MODELS = {"transformer": {"predicted_return": 0.01, "model_version": "a", "data_as_of": "d"},
          "lstm": {"predicted_return": 0.03, "model_version": "b", "data_as_of": "d"}}
RETURNS = {"transformer": np.array([-0.04, -0.03, 0.01, 0.05, 0.06]),
           "lstm": np.array([-0.02, -0.01, 0.03, 0.07, 0.08])}
BASELINES = {"ewma": np.array([-0.02, -0.015, 0.0, 0.015, 0.02])}


def _bt(point: str, band: str) -> dict:
    return {"served": {"skill_vs_persistence": 0.001, "coverage_80": 0.8,
                       "selection": {"live": {"point": point, "band": band},
                                     "drift_return": 0.0005}}}


def test_served_entry_follows_the_selection_and_falls_back_safely() -> None:
    none = served_entry(MODELS, RETURNS, BASELINES, {}, 100.0)
    assert none["method"] == "persistence-fallback" and none["predicted_close"] == 100.0
    assert none["band_source"] == "ewma" and none["skill_vs_persistence"] is None
    assert none["quantiles"]["0.9"] == pytest.approx(100 * math.exp(0.015))
    ens = served_entry(MODELS, RETURNS, BASELINES, _bt("ensemble", "ensemble"), 100.0)
    assert ens["method"] == "mean" and ens["predicted_return"] == pytest.approx(0.02)
    assert ens["quantiles"]["0.05"] == pytest.approx(100 * math.exp(-0.03))
    drift = served_entry(MODELS, RETURNS, BASELINES, _bt("drift", "ewma"), 100.0)
    assert drift["method"] == "drift-fallback" and drift["predicted_return"] == 0.0005
    # A chosen model that is not loaded (e.g. legacy artifact): the baselines, never a guess.
    lost = served_entry(MODELS, {}, BASELINES, _bt("lstm", "lstm"), 100.0)
    assert (lost["point_source"], lost["band_source"]) == ("persistence", "ewma")


def test_unknown_symbol_and_untrained(trained_settings) -> None:
    svc = ForecastService(trained_settings, get_engine(trained_settings))
    with pytest.raises(UnknownSymbol):
        svc.forecast("NOPE")
    with pytest.raises(UnknownSymbol):
        svc.forecast("bad symbol!")
    with pytest.raises(ModelUnavailable):
        svc.forecast("AMZN")  # seeded, never trained


def test_health_and_list_models(trained_settings) -> None:
    svc = ForecastService(trained_settings, get_engine(trained_settings))
    health = svc.health()
    assert health["ok"] is True and health["models_loaded"] == 2
    assert {"MSFT", "AMZN", "NVDA"} <= set(health["symbols"])
    listed = svc.list_models()
    assert {(m["symbol"], m["model_name"]) for m in listed} == {("MSFT", "transformer"),
                                                                  ("MSFT", "lstm")}
    for m in listed:
        assert m["content_hash"].startswith("sha256:")
        assert m["metrics"]["parity_max_abs_diff"] <= 1e-4
        assert m["data_range"]["end"] == "2021-03-31"


def test_new_version_picked_up_without_restart(trained_copy) -> None:
    engine = get_engine(trained_copy)
    svc = ForecastService(trained_copy, engine)
    first = svc.forecast("MSFT")
    token = svc.state_token("MSFT")
    assert svc.state_token("MSFT") == token
    reg = open_registry(trained_copy.registry_url)
    meta, data = reg.load("MSFT", "lstm")
    meta = {k: v for k, v in meta.items() if k not in ("version", "content_hash", "artifact_uri")}
    # Republish the same network with a shifted target scaler: a visibly new version.
    meta["scaler"] = {**meta["scaler"], "target_mean": meta["scaler"]["target_mean"] + 0.01}
    reg.publish("MSFT", "lstm", data, meta, version="zz-new")
    assert svc.state_token("MSFT") != token
    second = svc.forecast("MSFT")
    assert second["models"]["lstm"]["model_version"] == "zz-new"
    # The models predict returns in units of today's EWMA volatility.
    sigma = latest_sigma(queries.get_history(engine, "MSFT", 400))
    assert second["models"]["lstm"]["predicted_return"] == pytest.approx(
        first["models"]["lstm"]["predicted_return"] + 0.01 * sigma, abs=1e-6)


def test_corrupt_artifact_makes_model_unavailable(trained_copy) -> None:
    registry = Path(trained_copy.registry_url)
    for name in ("lstm", "transformer"):
        version = json.loads((registry / "MSFT" / name / "latest").read_text())["version"]
        path = registry / "MSFT" / name / "versions" / version / "model.tflite"
        path.write_bytes(path.read_bytes()[:-10] + b"0123456789")
    svc = ForecastService(trained_copy, get_engine(trained_copy))
    with pytest.raises(ModelUnavailable, match="hash mismatch"):
        svc.forecast("MSFT")
    health = svc.health()
    assert health["ok"] is False and health["models_loaded"] == 0


def test_missing_registry_is_unhealthy(trained_copy) -> None:
    shutil.rmtree(trained_copy.registry_url)
    health = ForecastService(trained_copy, get_engine(trained_copy)).health()
    assert health["ok"] is False and "no models loaded" in health["reasons"]


def test_legacy_single_output_model_still_serves_its_point() -> None:
    """Models published before quantile outputs: point as before, no band of their own."""
    from stocksense.features.windows import Scaler
    from stocksense.serving.service import _Loaded

    scaler = Scaler(np.zeros(1), np.ones(1), 0.001, 0.02)
    legacy = _Loaded(None, {"version": "old"}, None, scaler, 0.5)
    ret, q = legacy.returns(np.array([[1.0]]), sigma=0.03)
    assert q is None and ret == pytest.approx(0.001 + 0.5 * 0.02)
    quantile = _Loaded(None, {"quantiles": [0.05, 0.1, 0.5, 0.9, 0.95],
                              "target_unit": "ewma_sigma"}, None, scaler, 1.0,
                       {"80": 1.0, "90": 1.0})
    ret, q = quantile.returns(np.array([[-2.0, -1.0, 0.0, 1.0, 2.0]]), sigma=0.03)
    assert ret == pytest.approx(0.001 * 0.03)
    assert q[-1] == pytest.approx((0.001 + 2 * 0.02) * 0.03)
