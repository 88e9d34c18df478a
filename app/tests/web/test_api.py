"""Every API route and every bad-input case, against real data and real LiteRT models."""

from __future__ import annotations

import json

import pytest
from conftest import TRAINED, UNTRAINED

PROBLEM = "application/problem+json"


def _problem(resp, status: int) -> dict:
    assert resp.status_code == status, resp.get_data(as_text=True)
    assert resp.mimetype == PROBLEM
    body = resp.get_json(force=True)
    assert body["status"] == status and body["title"] and "type" in body
    text = resp.get_data(as_text=True)
    assert "Traceback" not in text and 'File "' not in text
    return body


def test_symbols_lists_seeded(client):
    r = client.get("/api/v1/symbols")
    assert r.status_code == 200 and r.mimetype == "application/json"
    rows = {s["symbol"]: s for s in r.get_json()["symbols"]}
    assert {TRAINED, UNTRAINED} <= set(rows)
    assert rows[TRAINED]["watched"] is True and rows[UNTRAINED]["watched"] is False
    assert rows[TRAINED]["n_days"] > 1000 and rows[TRAINED]["last_date"] >= "2021-01-01"
    watched = client.get("/api/v1/symbols?watched=true").get_json()["symbols"]
    assert [s["symbol"] for s in watched] == [TRAINED]


def test_symbols_bad_filter(client):
    _problem(client.get("/api/v1/symbols?watched=maybe"), 400)


def test_symbol_detail_and_case(client):
    r = client.get(f"/api/v1/symbols/{TRAINED.lower()}")
    assert r.status_code == 200 and r.get_json()["symbol"] == TRAINED


def test_history(client):
    r = client.get(f"/api/v1/symbols/{TRAINED}/history?days=30")
    assert r.status_code == 200
    body = r.get_json()
    assert body["symbol"] == TRAINED and body["days"] == 30
    prices = body["prices"]
    assert len(prices) == 30
    dates = [p["date"] for p in prices]
    assert dates == sorted(dates)
    assert all(p["close"] > 0 for p in prices)
    default = client.get(f"/api/v1/symbols/{TRAINED}/history").get_json()
    assert len(default["prices"]) == 365


@pytest.mark.parametrize("days", ["0", "-5", "3651", "100000000000000000000", "abc", "1.5", "1e3"])
def test_history_days_out_of_range(client, days):
    body = _problem(client.get(f"/api/v1/symbols/{TRAINED}/history?days={days}"), 400)
    assert body["parameter"] == "days"


@pytest.mark.parametrize("path", ["forecast", "backtest", "history"])
@pytest.mark.parametrize(
    "symbol", ["bad!!", "%3Cscript%3E", "A" * 40, "-X", "%20", "a%00b", "A.B.C.D.E.F.G.H.I"]
)
def test_malformed_symbol_is_400(client, path, symbol):
    body = _problem(client.get(f"/api/v1/symbols/{symbol}/{path}"), 400)
    assert "symbol" in body["detail"].lower()


@pytest.mark.parametrize("path", ["", "/forecast", "/backtest", "/history"])
def test_unknown_symbol_is_404(client, path):
    body = _problem(client.get(f"/api/v1/symbols/ZZZZ{path}"), 404)
    assert "ZZZZ" in body["detail"]


def test_forecast(client):
    r = client.get(f"/api/v1/symbols/{TRAINED}/forecast")
    assert r.status_code == 200, r.get_data(as_text=True)
    body = r.get_json()
    assert body["symbol"] == TRAINED
    last = client.get(f"/api/v1/symbols/{TRAINED}/history?days=1").get_json()["prices"][-1]
    assert body["as_of"] == last["date"] and body["last_close"] == pytest.approx(last["close"])
    assert set(body["models"]) == {"transformer", "lstm"}
    for entry in body["models"].values():
        assert entry["model_version"]
        assert entry["data_as_of"]
        assert "skill_vs_persistence" in entry
        assert entry["predicted_close"] > 0
        assert abs(entry["predicted_return"]) < 1
    ens = body["ensemble"]
    assert ens["method"] in ("mean", "persistence-fallback")
    assert ens["predicted_close"] > 0


def test_forecast_missing_model_is_503(client):
    body = _problem(client.get(f"/api/v1/symbols/{UNTRAINED}/forecast"), 503)
    assert UNTRAINED in body["detail"] or "model" in body["detail"].lower()


def test_backtest(client):
    r = client.get(f"/api/v1/symbols/{TRAINED}/backtest")
    assert r.status_code == 200
    body = r.get_json()
    assert body["symbol"] == TRAINED
    assert {"transformer", "lstm"} <= set(body["metrics"])
    assert body["points"] and {"date", "actual"} <= set(body["points"][0])
    for m in body["metrics"].values():
        assert "skill_vs_persistence" in m and "mae" in m


def test_backtest_missing_is_503(client):
    _problem(client.get(f"/api/v1/symbols/{UNTRAINED}/backtest"), 503)


def test_models(client):
    r = client.get("/api/v1/models")
    assert r.status_code == 200
    models = r.get_json()["models"]
    assert {(m["symbol"], m["model_name"]) for m in models} == {
        (TRAINED, "transformer"),
        (TRAINED, "lstm"),
    }
    assert all(m["version"] and m["content_hash"] for m in models)
    assert client.get(f"/api/v1/models?symbol={UNTRAINED}").get_json()["models"] == []
    _problem(client.get("/api/v1/models?symbol=bad!!"), 400)


def test_unknown_route_and_method_are_problems(client):
    _problem(client.get("/api/v1/nothing-here"), 404)
    for method in ("post", "put", "delete", "patch"):
        r = getattr(client, method)(f"/api/v1/symbols/{TRAINED}/forecast")
        # an undeclared method is 405 with Allow, not a CSRF failure
        assert r.status_code == 405 and r.mimetype == PROBLEM, (method, r.status_code)
        assert "GET" in r.headers["Allow"]
    r = client.post("/")
    assert r.status_code == 405 and "GET" in r.headers["Allow"]


def test_version(client):
    r = client.get("/version")
    assert r.status_code == 200
    body = r.get_json()
    assert body["name"] == "stocksense" and body["version"] and body["inference"] == "litert"


def test_forecast_is_cached_and_follows_new_model_version(app, client, web_home):
    """A newly published model version is served without a restart."""
    backend = app.extensions["stocksense.backend"]
    first = client.get(f"/api/v1/symbols/{TRAINED}/forecast").get_json()
    hits = backend.cache.hits
    again = client.get(f"/api/v1/symbols/{TRAINED}/forecast").get_json()
    assert again == first and backend.cache.hits == hits + 1
    # republish the current LSTM artifact as a new version through the registry
    registry = backend.service.registry
    meta, data = registry.load(TRAINED, "lstm")
    meta = {
        k: v
        for k, v in meta.items()
        if k not in ("version", "created_at", "content_hash", "artifact_uri")
    }
    registry.publish(TRAINED, "lstm", data, meta, version="99990101T000000Z-test")
    backend.cache.recheck = 0.0
    newer = client.get(f"/api/v1/symbols/{TRAINED}/forecast").get_json()
    assert newer["models"]["lstm"]["model_version"] == "99990101T000000Z-test"
    assert newer["models"]["transformer"] == first["models"]["transformer"]


def test_no_tensorflow_in_the_server_process(client):
    import subprocess
    import sys

    code = (
        "import sys, os; from stocksense.web import create_app; "
        "from stocksense.web.config import load_web_config;"
        "app = create_app(load_web_config({'STOCKSENSE_ENV':'testing'}));"
        "c = app.test_client(); c.get('/api/v1/symbols/MSFT/forecast'); c.get('/');"
        "bad = [m for m in ('tensorflow','keras','pandas','yfinance') if m in sys.modules];"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    import os

    home = client.application.extensions["stocksense.backend"].settings.home
    proc = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "STOCKSENSE_HOME": str(home)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr[-2000:]


def test_problem_bodies_are_json(client):
    r = client.get("/api/v1/symbols/bad!!/forecast")
    json.loads(r.get_data(as_text=True))


def test_database_failure_is_503_not_500(app, client, web_home):
    from sqlalchemy import create_engine

    backend = app.extensions["stocksense.backend"]
    backend.engine = create_engine(f"sqlite:///{web_home}/missing-dir/x.db")
    backend.cache.clear()
    for url in ("/api/v1/symbols", f"/api/v1/symbols/{TRAINED}/history", "/api/v1/symbols/XYZ"):
        body = _problem(client.get(url), 503)
        assert "database" in body["detail"]
    r = client.get("/")
    assert r.status_code == 503 and "Traceback" not in r.get_data(as_text=True)
