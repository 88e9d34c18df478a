"""Readiness with PostgreSQL down: /ready answers 503 with a clear reason (no exception text, no
password) while liveness (/health) stays 200 — when the server stops under a running app, and
when the app starts while the database is unreachable (a closed port on 127.0.0.1)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pg import free_port, remove_cluster, start_cluster

from stocksense.config import load_settings

LEAKS = ("Traceback", "psycopg", "OperationalError", "refused", "hunter2", "5432")


def make_app(tmp_path: Path, database_url: str):  # type: ignore[no-untyped-def]
    from stocksense.web import create_app, load_web_config
    from stocksense.web.auth import hash_password

    config = load_web_config({
        "STOCKSENSE_ENV": "testing", "STOCKSENSE_SECRET_KEY": "t" * 32,
        "STOCKSENSE_ADMIN_PASSWORD_HASH": hash_password("a-long-admin-password"),
    }).with_overrides(ready_cache_seconds=0)
    settings = load_settings({"STOCKSENSE_HOME": str(tmp_path / "home"),
                              "STOCKSENSE_DATABASE_URL": database_url})
    return create_app(config, settings=settings)


def assert_unready(client) -> None:  # type: ignore[no-untyped-def]
    health = client.get("/health")
    assert health.status_code == 200 and health.get_json() == {"status": "ok"}
    ready = client.get("/ready")
    assert ready.status_code == 503 and ready.mimetype == "application/problem+json"
    body = ready.get_json()
    assert body["detail"] == "the database is not reachable" and body["database"] is False
    assert not [leak for leak in LEAKS if leak in ready.get_data(as_text=True)]


def test_ready_fails_and_health_stays_up_when_postgres_stops(tmp_path: Path):
    cluster = start_cluster()  # its own server: stopping the run's shared one would hurt others
    app = None
    try:
        app = make_app(tmp_path, cluster.url(cluster.new_database("ready")))
        client = app.test_client()
        assert client.get("/ready").status_code == 200  # up: degraded (nothing watched) but ready
        cluster.stop()
        assert_unready(client)
    finally:
        if app is not None:
            app.extensions["stocksense.jobs"].shutdown()
        remove_cluster(cluster)


@pytest.mark.parametrize("driver", ["postgresql", "postgresql+psycopg"])
def test_app_starts_with_postgres_unreachable_and_says_so(tmp_path: Path, driver: str):
    app = make_app(tmp_path, f"{driver}://app:hunter2@127.0.0.1:{free_port()}/stocksense")
    try:
        assert_unready(app.test_client())
    finally:
        app.extensions["stocksense.jobs"].shutdown()


def test_wrong_password_at_start_is_one_clear_log_line(tmp_path: Path, pg_cluster, caplog):
    url = pg_cluster.add_role("webapp", "right-pw", pg_cluster.new_database("web"))
    app = make_app(tmp_path, url.replace("right-pw", "hunter2"))
    try:
        assert_unready(app.test_client())
    finally:
        app.extensions["stocksense.jobs"].shutdown()
    at_start = [r.getMessage() for r in caplog.records if "at start" in r.getMessage()]
    assert at_start == ['database not reachable at start: connection failed: connection to '
                        f'server at "127.0.0.1", port {pg_cluster.port} failed: FATAL:  '
                        'password authentication failed for user "webapp"']
    assert "hunter2" not in caplog.text


def test_cli_with_postgres_unreachable_says_so_in_one_line(tmp_path: Path, monkeypatch):
    """What the roles run (`data sync`) against a database that is down: exit 2, one clear line,
    no traceback, no password."""
    from click.testing import CliRunner

    from stocksense.cli import cli

    monkeypatch.setenv("STOCKSENSE_HOME", str(tmp_path / "home"))
    port = free_port()
    monkeypatch.setenv("STOCKSENSE_DATABASE_URL",
                       f"postgresql://app:hunter2@127.0.0.1:{port}/stocksense")
    result = CliRunner().invoke(cli, ["data", "sync", "--backtests", str(tmp_path), "MSFT"])
    assert result.exit_code == 2, result.output
    assert result.stderr.strip().splitlines() == [
        f"Error: database (STOCKSENSE_DATABASE_URL): connection failed: connection to server at "
        f'"127.0.0.1", port {port} failed: '
        "Connection refused"]
    assert "hunter2" not in result.output and "Traceback" not in result.output
