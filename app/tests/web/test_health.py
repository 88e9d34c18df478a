"""/health is liveness (no database, no registry, constant answer); /ready is readiness (database
reachable and a model per watched symbol, degraded or 503 as decided, cached for a second)."""

from __future__ import annotations

import logging

import pytest
from conftest import TRAINED, UNTRAINED, make_app
from sqlalchemy import create_engine, event

PROBLEM = "application/problem+json"
LEAKS = ("Traceback", "sqlite", "OperationalError", "Error:", "/tmp", "missing-dir", ".db")


class SqlCounter:
    def __init__(self, engine):
        self.statements: list[str] = []
        self.engine = engine
        event.listen(engine, "before_cursor_execute", self._on)

    def _on(self, conn, cursor, statement, *args):  # noqa: ARG002
        self.statements.append(statement)

    def close(self):
        event.remove(self.engine, "before_cursor_execute", self._on)


@pytest.fixture
def sql(app):
    counter = SqlCounter(app.extensions["stocksense.backend"].engine)
    yield counter
    counter.close()


def test_health_is_liveness_without_database_or_registry(app, client, sql, monkeypatch):
    service = app.extensions["stocksense.backend"].service

    def forbidden(*a, **k):
        raise AssertionError("/health touched the model registry")

    monkeypatch.setattr(service, "list_models", forbidden)
    monkeypatch.setattr(service.registry, "read_meta", forbidden)
    monkeypatch.setattr(service.registry, "latest_stamp", forbidden)
    for _ in range(3):
        r = client.get("/health")
        assert r.status_code == 200 and r.get_json() == {"status": "ok"}
        assert r.headers["Cache-Control"] == "no-store"
    assert sql.statements == []


def test_health_stays_up_when_database_is_gone(app, client):
    app.extensions["stocksense.backend"].engine = create_engine("sqlite:////nonexistent/x.db")
    assert client.get("/health").status_code == 200


def test_ready_ok(client):
    r = client.get("/ready")
    assert r.status_code == 200 and r.mimetype == "application/json"
    body = r.get_json()
    assert body == {
        "status": "ok", "database": True, "watched": 1, "with_model": 1, "reasons": []
    }
    assert r.headers["Cache-Control"] == "no-store"


def test_ready_degraded_when_a_watched_symbol_has_no_model(app, client):
    app.extensions["stocksense.backend"].add_symbol(UNTRAINED)
    app.extensions["stocksense.readiness"].ttl = 0
    r = client.get("/ready")
    assert r.status_code == 200
    body = r.get_json()
    assert body["status"] == "degraded" and body["with_model"] == 1 and body["watched"] == 2
    assert body["reasons"] == [f"{UNTRAINED}: no published model"]


def test_ready_503_when_no_watched_symbol_has_a_model(app, client):
    backend = app.extensions["stocksense.backend"]
    backend.add_symbol(UNTRAINED)
    backend.unwatch_symbol(TRAINED)
    r = client.get("/ready")
    assert r.status_code == 503 and r.mimetype == PROBLEM and r.headers["Retry-After"]
    assert r.get_json()["database"] is True


def test_ready_503_without_exception_text_when_database_is_gone(app, client, caplog):
    app.extensions["stocksense.backend"].engine = create_engine(
        "sqlite:////nonexistent/missing-dir/x.db"
    )
    r = client.get("/ready")
    text = r.get_data(as_text=True)
    assert r.status_code == 503 and r.mimetype == PROBLEM
    assert r.get_json()["detail"] == "the database is not reachable"
    assert not [leak for leak in LEAKS if leak in text], text
    # the details go to the log instead
    assert any(rec.exc_info for rec in caplog.records if "readiness" in rec.getMessage())


def test_database_down_is_logged_once_and_its_return_once(app, caplog):
    caplog.set_level(logging.INFO)
    readiness = app.extensions["stocksense.readiness"]
    backend = app.extensions["stocksense.backend"]
    working = backend.engine
    now = [100.0]
    readiness.clock = lambda: now[0]
    backend.engine = create_engine("sqlite:////nonexistent/missing-dir/x.db")
    for _ in range(3):  # three checks, each past the one-second cache
        assert readiness.answer()[0] == 503
        now[0] += 1.1
    backend.engine = working
    assert readiness.answer()[0] == 200
    messages = [rec.getMessage() for rec in caplog.records
                if rec.getMessage().startswith("readiness:")]
    assert messages == ["readiness: database check failed; not ready until it answers",
                        "readiness: the database answers again"]


def test_ready_answer_is_cached_for_a_second(app, sql):
    readiness = app.extensions["stocksense.readiness"]
    now = [100.0]
    readiness.clock = lambda: now[0]
    client = app.test_client()
    client.get("/ready")
    first = len(sql.statements)
    assert first >= 1
    now[0] += 0.5
    client.get("/ready")
    assert len(sql.statements) == first  # within the second: no query
    now[0] += 0.6
    client.get("/ready")
    assert len(sql.statements) > first


def test_public_5xx_bodies_carry_no_exception_text(app, client, monkeypatch):
    service = app.extensions["stocksense.backend"].service

    def boom(*a, **k):
        raise RuntimeError("secret detail /srv/stocksense/registry/MSFT")

    monkeypatch.setattr(service, "forecast", boom)
    monkeypatch.setattr(service, "state_token", boom)
    for url in (f"/api/v1/symbols/{TRAINED}/forecast", "/"):
        r = client.get(url)
        assert r.status_code == 500, url
        text = r.get_data(as_text=True)
        assert "secret" not in text and "/srv" not in text and "RuntimeError" not in text


def test_ready_in_an_app_without_any_model(web_home, admin_hash):
    """A fresh instance (models not yet shipped) is not ready, and says why."""
    import shutil

    shutil.rmtree(web_home / "registry", ignore_errors=True)
    app = make_app(web_home, admin_hash)
    r = app.test_client().get("/ready")
    assert r.status_code == 503
    assert r.get_json()["detail"] == "no watched symbol has a published model"
