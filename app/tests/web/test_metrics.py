"""App metrics in CloudWatch Embedded Metric Format, received on a real loopback UDP socket.

The CloudWatch agent cannot run here, so the test stands in for its EMF listener: it binds
127.0.0.1 on a free UDP port, drives requests through the Flask test client, flushes, and checks
every datagram against the EMF specification's required fields and limits.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import make_app

from stocksense.web.metrics import Collector, parse_address

ROLE_DEFAULTS = Path(__file__).resolve().parents[3] / "roles" / "cloudwatch_agent" / "defaults" / \
    "main.yml"
UNITS = {
    "Seconds", "Microseconds", "Milliseconds", "Bytes", "Kilobytes", "Megabytes", "Gigabytes",
    "Terabytes", "Bits", "Kilobits", "Megabits", "Gigabits", "Terabits", "Percent", "Count",
    "Bytes/Second", "Kilobytes/Second", "Megabytes/Second", "Gigabytes/Second",
    "Terabytes/Second", "Bits/Second", "Kilobits/Second", "Megabits/Second", "Gigabits/Second",
    "Terabits/Second", "Count/Second", "None",
}


def emf_problems(doc: dict) -> list[str]:
    """What makes `doc` an invalid EMF document (empty when it is valid)."""
    problems = []
    aws = doc.get("_aws")
    if not isinstance(aws, dict):
        return ["no _aws object"]
    if not isinstance(aws.get("Timestamp"), int) or aws["Timestamp"] < 10**12:
        problems.append("_aws.Timestamp is not epoch milliseconds")
    directives = aws.get("CloudWatchMetrics")
    if not isinstance(directives, list) or not directives:
        return problems + ["_aws.CloudWatchMetrics is not a non-empty array"]
    for d in directives:
        if not isinstance(d.get("Namespace"), str) or not 1 <= len(d["Namespace"]) <= 255:
            problems.append("Namespace missing or too long")
        if not isinstance(d.get("Dimensions"), list):
            problems.append("Dimensions is not an array")
        for dims in d.get("Dimensions", []):
            if not isinstance(dims, list) or len(dims) > 30:
                problems.append(f"dimension set {dims!r} is not an array of <= 30 keys")
                continue
            problems += [f"dimension {k!r} not a string at the root" for k in dims
                         if not isinstance(doc.get(k), str)]
        metrics = d.get("Metrics")
        if not isinstance(metrics, list) or not 1 <= len(metrics) <= 100:
            problems.append("Metrics is not an array of 1..100")
            continue
        for m in metrics:
            name, value = m.get("Name"), doc.get(m.get("Name"))
            if not isinstance(name, str) or not 1 <= len(name) <= 255:
                problems.append(f"metric name {name!r} invalid")
            if m.get("Unit") not in UNITS:
                problems.append(f"{name}: unit {m.get('Unit')!r} is not a CloudWatch unit")
            values = value if isinstance(value, list) else [value]
            if not values or len(values) > 100 or not all(
                    isinstance(v, int | float) and not isinstance(v, bool) for v in values):
                problems.append(f"{name}: root value {value!r} is not a number or 1..100 numbers")
    return problems


def metric_series(docs: list[dict]) -> set[tuple[str, tuple[str, ...], tuple[str, ...]]]:
    """Distinct custom metrics as CloudWatch bills them: name x dimension names x values."""
    series = set()
    for doc in docs:
        for d in doc["_aws"]["CloudWatchMetrics"]:
            for dims in d["Dimensions"]:
                for m in d["Metrics"]:
                    series.add((m["Name"], tuple(dims), tuple(str(doc[k]) for k in dims)))
    return series


@pytest.fixture
def listener():
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(2)
    yield sock
    sock.close()


def receive(sock: socket.socket, n: int) -> list[dict]:
    return [json.loads(sock.recv(65535)) for _ in range(n)]


def _app(web_home, admin_hash, monkeypatch, address: str, detailed: bool = False):
    monkeypatch.setenv("STOCKSENSE_EMF_ADDRESS", address)
    monkeypatch.setenv("STOCKSENSE_EMF_INTERVAL", "3600")  # the test flushes, not the thread
    monkeypatch.setenv("STOCKSENSE_EMF_DETAILED", "true" if detailed else "")
    app = make_app(web_home, admin_hash)

    @app.get("/boom")
    def boom():
        raise RuntimeError("a fault the app turns into a 500 problem document")

    return app


def _traffic(client) -> None:
    for _ in range(3):
        assert client.get("/api/v1/symbols/MSFT/forecast").status_code == 200
    assert client.get("/api/v1/symbols/NOPE/forecast").status_code == 404
    assert client.get("/health").status_code == 200
    assert client.get("/").status_code == 200
    assert client.get("/admin/login").status_code == 200
    assert client.get("/boom").status_code == 500


def test_datagrams_follow_the_emf_specification(web_home, admin_hash, monkeypatch, listener):
    port = listener.getsockname()[1]
    app = _app(web_home, admin_hash, monkeypatch, f"udp://127.0.0.1:{port}")
    try:
        _traffic(app.test_client())
        sent = app.extensions["stocksense.metrics"].flush()
        docs = receive(listener, sent)
    finally:
        app.extensions["stocksense.metrics"].stop()
        app.extensions["stocksense.jobs"].shutdown()
    for doc in docs:
        assert emf_problems(doc) == [], doc
        assert doc["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "StockSense"
        assert doc["_aws"]["LogGroupName"].startswith("/stocksense/")
    by_group = {d["RouteGroup"]: d for d in docs if "RouteGroup" in d}
    assert {g: (d["Requests"], d["Errors5xx"]) for g, d in by_group.items()} == {
        "api": (4, 0), "pages": (2, 1), "admin": (1, 0), "health": (1, 0)}
    latency = next(d for d in docs if "PredictionLatency" in d)
    assert len(latency["PredictionLatency"]) == latency["Forecasts"] == 3  # the 404 is no forecast
    age = next(d for d in docs if "DataAgeDays" in d)
    assert age["DataAgeDays"] == max(age["DataAgeBySymbol"].values())
    assert "MSFT" in age["DataAgeBySymbol"]
    assert set(age["ModelSkillBySymbol"]["MSFT"]) <= {"transformer", "lstm", "ensemble", "served"}
    # the default fits the budget the cloudwatch_agent role counts: 4 custom metrics
    defaults = yaml.safe_load(ROLE_DEFAULTS.read_text())
    assert {name for name, _, _ in metric_series(docs)} == {
        "Requests", "Errors5xx", "PredictionLatency", "DataAgeDays"}
    assert len(metric_series(docs)) == defaults["cloudwatch_agent_app_metric_count"] == 4


def test_detailed_dimensions_are_opt_in(web_home, admin_hash, monkeypatch, listener):
    port = listener.getsockname()[1]
    app = _app(web_home, admin_hash, monkeypatch, f"udp://127.0.0.1:{port}", detailed=True)
    try:
        _traffic(app.test_client())
        docs = receive(listener, app.extensions["stocksense.metrics"].flush())
    finally:
        app.extensions["stocksense.metrics"].stop()
        app.extensions["stocksense.jobs"].shutdown()
    assert all(emf_problems(d) == [] for d in docs)
    series = metric_series(docs)
    assert ("Requests", ("RouteGroup",), ("api",)) in series
    assert ("DataAgeDays", ("Symbol",), ("MSFT",)) in series
    assert any(name == "ModelSkill" and dims == ("Symbol", "Model") for name, dims, _ in series)


def test_an_unreachable_or_broken_listener_never_fails_a_request(web_home, admin_hash,
                                                                  monkeypatch):
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    probe.bind(("127.0.0.1", 0))
    closed_port = probe.getsockname()[1]
    probe.close()  # nothing listens there any more
    app = _app(web_home, admin_hash, monkeypatch, f"udp://127.0.0.1:{closed_port}")
    try:
        client = app.test_client()
        emitter = app.extensions["stocksense.metrics"]
        _traffic(client)
        emitter.flush()
        emitter.sender.sock.close()  # every send now fails with an OSError
        _traffic(client)
        assert emitter.flush() > 0
        assert emitter.sender.dropped > 0
        assert client.get("/api/v1/symbols/MSFT/forecast").status_code == 200
    finally:
        app.extensions["stocksense.metrics"].stop()
        app.extensions["stocksense.jobs"].shutdown()


def test_the_validator_rejects_broken_documents():
    """emf_problems can fail: each required field removed or wrong is reported."""
    good = Collector(detailed=True).flush(None)[0]  # dimension sets [] and [RouteGroup]
    assert emf_problems(good) == []
    for breaker in (lambda d: d.pop("_aws"),
                    lambda d: d["_aws"].pop("Timestamp"),
                    lambda d: d["_aws"]["CloudWatchMetrics"][0].pop("Namespace"),
                    lambda d: d.pop("Requests"),
                    lambda d: d.pop("RouteGroup"),
                    lambda d: d["_aws"]["CloudWatchMetrics"][0]["Metrics"][0].update(Unit="ms"),
                    lambda d: d.update(Requests=list(range(101)))):
        doc = json.loads(json.dumps(good))
        breaker(doc)
        assert emf_problems(doc) != []


def test_latency_sample_is_capped_at_100_values():
    collector = Collector()
    for i in range(1000):
        collector.record("/api/v1/symbols/MSFT/forecast", "api.forecast", 200, float(i))
    doc = next(d for d in collector.flush(None) if "PredictionLatency" in d)
    assert len(doc["PredictionLatency"]) == 100 and doc["Forecasts"] == 1000
    assert max(doc["PredictionLatency"]) > 100  # a sample of the whole minute, not the first 100


@pytest.mark.parametrize("address", ["tcp://127.0.0.1:25888", "udp://127.0.0.1", "25888", "udp://"])
def test_bad_addresses_are_refused(address):
    with pytest.raises(ValueError, match="STOCKSENSE_EMF_ADDRESS"):
        parse_address(address)
    assert parse_address("") is None


def test_web_and_cli_never_load_boto3():
    probe = ("import sys, stocksense.web, stocksense.web.metrics, stocksense.cli\n"
             "print(sorted(m for m in sys.modules if m.split('.')[0] in ('boto3', 'botocore')))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True, timeout=120)
    assert out.stdout.strip() == "[]"


def test_the_thread_flushes_zeros_from_the_start(web_home, admin_hash, monkeypatch, listener):
    """No request yet: the app still reports Requests = 0 each interval (the alarm on a silent
    app reads it)."""
    port = listener.getsockname()[1]
    monkeypatch.setenv("STOCKSENSE_EMF_ADDRESS", f"udp://127.0.0.1:{port}")
    monkeypatch.setenv("STOCKSENSE_EMF_INTERVAL", "0.2")
    app = make_app(web_home, admin_hash)
    try:
        doc = json.loads(listener.recv(65535))
    finally:
        app.extensions["stocksense.metrics"].stop()
        app.extensions["stocksense.jobs"].shutdown()
    assert emf_problems(doc) == [] and doc["Requests"] == 0 and doc["Errors5xx"] == 0
