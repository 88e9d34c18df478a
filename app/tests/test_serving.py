"""ForecastService over real tiny LiteRT models trained on bundled prices."""

import json
import math
import shutil
from pathlib import Path

import pytest

from stocksense.data import queries
from stocksense.data.db import get_engine
from stocksense.registry import open_registry
from stocksense.serving import ForecastService, ModelUnavailable, UnknownSymbol


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
    ens = result["ensemble"]
    assert ens["method"] in ("mean", "persistence-fallback")
    bt = queries.latest_backtest(engine, "MSFT")
    if bt["metrics"]["ensemble"]["skill_vs_persistence"] > 0:
        assert ens["method"] == "mean"
        mean = (result["models"]["transformer"]["predicted_return"]
                + result["models"]["lstm"]["predicted_return"]) / 2
        assert ens["predicted_return"] == pytest.approx(mean)
    else:
        assert ens["method"] == "persistence-fallback"
        assert ens["predicted_close"] == last["close"]


def test_ensemble_rule_never_beats_fallback_without_skill() -> None:
    models = {"transformer": {"predicted_return": 0.01, "model_version": "a", "data_as_of": "d"},
              "lstm": {"predicted_return": 0.03, "model_version": "b", "data_as_of": "d"}}
    bad = ForecastService._ensemble(models, {"ensemble": {"skill_vs_persistence": -0.01}}, 100.0)
    assert bad["method"] == "persistence-fallback" and bad["predicted_close"] == 100.0
    none = ForecastService._ensemble(models, {}, 100.0)
    assert none["method"] == "persistence-fallback"
    good = ForecastService._ensemble(models, {"ensemble": {"skill_vs_persistence": 0.02}}, 100.0)
    assert good["method"] == "mean" and good["predicted_return"] == pytest.approx(0.02)


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
    assert second["models"]["lstm"]["predicted_return"] == pytest.approx(
        first["models"]["lstm"]["predicted_return"] + 0.01, abs=1e-6)


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
