"""The OpenAPI document matches the server: same routes and parameters; responses validate."""

from __future__ import annotations

import re

import pytest
from conftest import TRAINED, UNTRAINED
from jsonschema import Draft202012Validator


def _spec(client) -> dict:
    r = client.get("/api/v1/openapi.json")
    assert r.status_code == 200
    return r.get_json()


def _schema_for(spec: dict, path: str, status: int, mimetype: str) -> dict:
    op = spec["paths"][path]["get"]
    resp = op["responses"][str(status)]
    schema = resp["content"][mimetype]["schema"]
    return {**schema, "components": spec["components"], "$defs": spec["components"]["schemas"]}


def _validate(spec, path, resp):
    schema = _schema_for(spec, path, resp.status_code, resp.mimetype)
    schema = _rewrite_refs(schema)
    Draft202012Validator(schema).validate(resp.get_json(force=True))


def _rewrite_refs(obj):
    if isinstance(obj, dict):
        return {
            k: (v.replace("#/components/schemas/", "#/$defs/") if k == "$ref" else _rewrite_refs(v))
            for k, v in obj.items()
        }
    if isinstance(obj, list):
        return [_rewrite_refs(v) for v in obj]
    return obj


META_PATHS = ("/health", "/ready", "/version")


def test_documented_paths_equal_served_paths(app, client):
    spec = _spec(client)
    assert spec["openapi"].startswith("3.1")
    served = set()
    for rule in app.url_map.iter_rules():
        public_json = rule.rule.startswith("/api/v1") or rule.rule in META_PATHS
        if public_json and not rule.rule.endswith("openapi.json"):
            served.add(
                (
                    re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule),
                    frozenset(rule.methods - {"HEAD", "OPTIONS"}),
                )
            )
    documented = {(p, frozenset(m.upper() for m in ops)) for p, ops in spec["paths"].items()}
    assert served == documented


def test_documented_parameters_are_the_ones_read(client):
    spec = _spec(client)
    hist = spec["paths"]["/api/v1/symbols/{symbol}/history"]["get"]
    days = next(p for p in hist["parameters"] if p["name"] == "days")
    lo, hi = days["schema"]["minimum"], days["schema"]["maximum"]
    assert client.get(f"/api/v1/symbols/{TRAINED}/history?days={lo}").status_code == 200
    assert client.get(f"/api/v1/symbols/{TRAINED}/history?days={hi}").status_code == 200
    assert client.get(f"/api/v1/symbols/{TRAINED}/history?days={lo - 1}").status_code == 400
    assert client.get(f"/api/v1/symbols/{TRAINED}/history?days={hi + 1}").status_code == 400
    none = client.get(f"/api/v1/symbols/{TRAINED}/history").get_json()
    assert none["days"] == days["schema"]["default"]


CASES = [
    ("/api/v1/symbols", "/api/v1/symbols", 200),
    ("/api/v1/symbols?watched=nope", "/api/v1/symbols", 400),
    (f"/api/v1/symbols/{TRAINED}", "/api/v1/symbols/{symbol}", 200),
    ("/api/v1/symbols/bad!!", "/api/v1/symbols/{symbol}", 400),
    ("/api/v1/symbols/ZZZZ", "/api/v1/symbols/{symbol}", 404),
    (f"/api/v1/symbols/{TRAINED}/history?days=10", "/api/v1/symbols/{symbol}/history", 200),
    (f"/api/v1/symbols/{TRAINED}/history?days=0", "/api/v1/symbols/{symbol}/history", 400),
    ("/api/v1/symbols/ZZZZ/history", "/api/v1/symbols/{symbol}/history", 404),
    (f"/api/v1/symbols/{TRAINED}/forecast", "/api/v1/symbols/{symbol}/forecast", 200),
    ("/api/v1/symbols/bad!!/forecast", "/api/v1/symbols/{symbol}/forecast", 400),
    ("/api/v1/symbols/ZZZZ/forecast", "/api/v1/symbols/{symbol}/forecast", 404),
    (f"/api/v1/symbols/{UNTRAINED}/forecast", "/api/v1/symbols/{symbol}/forecast", 503),
    (f"/api/v1/symbols/{TRAINED}/backtest", "/api/v1/symbols/{symbol}/backtest", 200),
    ("/api/v1/symbols/ZZZZ/backtest", "/api/v1/symbols/{symbol}/backtest", 404),
    ("/api/v1/symbols/bad!!/backtest", "/api/v1/symbols/{symbol}/backtest", 400),
    ("/api/v1/symbols/bad!!/history", "/api/v1/symbols/{symbol}/history", 400),
    (f"/api/v1/symbols/{UNTRAINED}/backtest", "/api/v1/symbols/{symbol}/backtest", 503),
    ("/api/v1/models", "/api/v1/models", 200),
    ("/api/v1/models?symbol=bad!!", "/api/v1/models", 400),
    ("/api/v1/symbols?watched=", "/api/v1/symbols", 400),
    ("/health", "/health", 200),
    ("/ready", "/ready", 200),
    ("/version", "/version", 200),
]


@pytest.mark.parametrize("url,path,status", CASES)
def test_responses_match_documented_schemas(client, url, path, status):
    spec = _spec(client)
    resp = client.get(url)
    assert resp.status_code == status, resp.get_data(as_text=True)
    assert str(status) in spec["paths"][path]["get"]["responses"], "status not documented"
    _validate(spec, path, resp)


def test_every_documented_status_is_exercised(client):
    """Every documented answer is produced by some case here (405 and 304 have their own tests;
    503 from the database in test_api; /ready 503 in test_health)."""
    exercised = {(path, str(status)) for _, path, status in CASES}
    elsewhere = {"304", "405"}
    spec = _spec(client)
    for path, ops in spec["paths"].items():
        for status in ops["get"]["responses"]:
            if status in elsewhere or (status == "503" and path in ("/api/v1/symbols", "/ready")):
                continue
            assert (path, status) in exercised, f"{path} {status} is documented but not tested"
