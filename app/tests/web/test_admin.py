"""Admin: login with the Argon2id hash, CSRF on every form, secure cookies, rate limiting, jobs."""

from __future__ import annotations

import sys
import time

import pytest
from conftest import ADMIN_PASSWORD, TRAINED, UNTRAINED, csrf_from, login, make_app


def test_admin_requires_login(client):
    r = client.get("/admin/")
    assert r.status_code == 302 and "/admin/login" in r.headers["Location"]
    assert client.get("/admin/jobs/current").status_code == 302


def test_login_and_logout(client):
    r = login(client)
    assert r.status_code == 302 and r.headers["Location"].endswith("/admin/")
    page = client.get("/admin/")
    assert page.status_code == 200 and 'id="retrain-form"' in page.get_data(as_text=True)
    assert page.headers["Cache-Control"] == "private, no-store"
    token = csrf_from(page.get_data(as_text=True))
    assert client.post("/admin/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/admin/").status_code == 302


def test_session_cookie_flags(app, web_home, admin_hash):
    secure_app = make_app(web_home, admin_hash, secure_cookies=True)
    c = secure_app.test_client()
    r = login(c)
    cookie = r.headers.get("Set-Cookie", "")
    assert "stocksense_session=" in cookie
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_wrong_password(client):
    r = login(client, password="wrong password!")
    assert r.status_code == 401 and "Wrong user name or password" in r.get_data(as_text=True)
    assert client.get("/admin/").status_code == 302


def test_wrong_user(client):
    assert login(client, username="root").status_code == 401


def test_login_without_csrf_is_rejected(client):
    client.get("/admin/login")
    r = client.post("/admin/login", data={"username": "admin", "password": ADMIN_PASSWORD})
    assert r.status_code == 400 and "CSRF" in r.get_data(as_text=True)
    assert client.get("/admin/").status_code == 302


@pytest.mark.parametrize(
    "path,data",
    [
        ("/admin/retrain", {"symbol": TRAINED}),
        ("/admin/refresh", {}),
        ("/admin/symbols", {"symbol": "IBM"}),
        (f"/admin/symbols/{TRAINED}/unwatch", {}),
        ("/admin/logout", {}),
    ],
)
def test_every_admin_form_needs_csrf(client, path, data):
    login(client)
    r = client.post(path, data=data)
    assert r.status_code == 400
    r = client.post(path, data={**data, "csrf_token": "forged"})
    assert r.status_code == 400


def test_login_rate_limited(client):
    for _ in range(5):
        assert login(client, password="nope nope nope").status_code == 401
    r = login(client)  # even the right password is refused while limited
    assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0
    assert client.get("/admin/").status_code == 302


def test_rate_limit_is_per_client_address(client):
    for _ in range(5):
        login(client, password="nope nope nope")
    other = client.application.test_client()
    page = other.get("/admin/login", headers={"X-Forwarded-For": "203.0.113.9"})
    r = other.post(
        "/admin/login",
        headers={"X-Forwarded-For": "203.0.113.9"},
        data={
            "csrf_token": csrf_from(page.get_data(as_text=True)),
            "username": "admin",
            "password": ADMIN_PASSWORD,
        },
    )
    assert r.status_code == 302


def test_open_redirect_blocked(client):
    page = client.get("/admin/login?next=//evil.example/")
    r = client.post(
        "/admin/login",
        data={
            "csrf_token": csrf_from(page.get_data(as_text=True)),
            "username": "admin",
            "password": ADMIN_PASSWORD,
            "next": "//evil.example/",
        },
    )
    assert r.status_code == 302 and r.headers["Location"].endswith("/admin/")


def _token(client) -> str:
    return csrf_from(client.get("/admin/").get_data(as_text=True))


def test_watch_and_unwatch_symbol(client):
    login(client)
    r = client.post(
        "/admin/symbols", data={"csrf_token": _token(client), "symbol": UNTRAINED.lower()}
    )
    assert r.status_code == 302
    rows = {s["symbol"]: s for s in client.get("/api/v1/symbols").get_json()["symbols"]}
    assert rows[UNTRAINED]["watched"] is True
    client.post(f"/admin/symbols/{UNTRAINED}/unwatch", data={"csrf_token": _token(client)})
    rows = {s["symbol"]: s for s in client.get("/api/v1/symbols").get_json()["symbols"]}
    assert rows[UNTRAINED]["watched"] is False
    r = client.post(
        "/admin/symbols",
        data={"csrf_token": _token(client), "symbol": "no good!"},
        follow_redirects=True,
    )
    assert r.status_code == 200 and "not a valid ticker" in r.get_data(as_text=True)


def _wait_job(client, timeout=60.0) -> dict:
    deadline = time.time() + timeout
    while time.time() < deadline:
        job = client.get("/admin/jobs/current").get_json()["job"]
        if job and job["status"] not in ("queued", "running"):
            return job
        time.sleep(0.1)
    raise AssertionError("job did not finish")


FAKE_TRAIN = """
import json, sys, time
start = {"event": "start", "symbol": sys.argv[2], "models": ["transformer", "lstm"]}
print(json.dumps(start), flush=True)
for model in ("transformer", "lstm"):
    for e in (1, 2):
        time.sleep(0.15)
        print(json.dumps({"event": "epoch", "model": model, "epoch": e, "of": 2}), flush=True)
print("not json, ignored", flush=True)
if sys.argv[1] == "refresh":  # per-symbol results, one failing, like `stocksense refresh --json`
    print(json.dumps({"symbol": "MSFT", "ok": True, "rows": 3}), flush=True)
    print(json.dumps({"symbol": "AMZN", "ok": False, "error": "offline"}), flush=True)
    print(json.dumps({"event": "done", "ok": False, "n": 2}), flush=True)
    sys.exit(0)
if sys.argv[2] == "SLOW":
    time.sleep(60)
if sys.argv[2] == "FAIL":
    print(json.dumps({"event": "error", "message": "boom"}), flush=True); sys.exit(3)
print(json.dumps({"event": "done"}), flush=True)
"""


@pytest.fixture
def scripted_app(web_home, admin_hash, tmp_path):
    """The job runner with a stand-in CLI that prints the documented progress protocol quickly
    (the real `stocksense train` runs in the fixture and in the browser test)."""
    script = tmp_path / "fake_cli.py"
    script.write_text(FAKE_TRAIN)
    app = make_app(web_home, admin_hash, job_command=(sys.executable, str(script)))
    yield app
    app.extensions["stocksense.jobs"].shutdown()


def test_retrain_job_progress_and_one_at_a_time(scripted_app):
    c = scripted_app.test_client()
    login(c)
    r = c.post("/admin/retrain", data={"csrf_token": _token(c), "symbol": TRAINED})
    assert r.status_code == 302
    job = c.get("/admin/jobs/current").get_json()["job"]
    assert (
        job["kind"] == "retrain"
        and job["symbol"] == TRAINED
        and job["status"] in ("queued", "running")
    )
    # a second job is refused while the first runs
    r = c.post("/admin/refresh", data={"csrf_token": _token(c)}, follow_redirects=True)
    assert "already running" in r.get_data(as_text=True)
    seen = set()
    deadline = time.time() + 30
    while time.time() < deadline:
        job = c.get("/admin/jobs/current").get_json()["job"]
        seen.add(job["percent"])
        if job["status"] not in ("queued", "running"):
            break
        time.sleep(0.05)
    assert job["status"] == "succeeded" and job["percent"] == 100
    assert job["steps"] == 2 and job["step"] == 2  # train, then the walk-forward backtest
    assert any(0 < p < 100 for p in seen), seen
    page = c.get("/admin/").get_data(as_text=True)
    assert 'id="job-progress"' in page and "succeeded" in page


def test_failed_job_is_reported(scripted_app):
    c = scripted_app.test_client()
    login(c)
    c.post("/admin/symbols", data={"csrf_token": _token(c), "symbol": "FAIL"})
    c.post("/admin/retrain", data={"csrf_token": _token(c), "symbol": "FAIL"})
    job = _wait_job(c)
    assert job["status"] == "failed" and "boom" in job["message"]


def test_retrain_unknown_symbol(client):
    login(client)
    r = client.post(
        "/admin/retrain",
        data={"csrf_token": _token(client), "symbol": "ZZZZ"},
        follow_redirects=True,
    )
    assert "Choose a known symbol" in r.get_data(as_text=True)
    assert client.get("/admin/jobs/current").get_json()["job"] is None


def test_refresh_job_reports_failed_symbols(scripted_app):
    c = scripted_app.test_client()
    login(c)
    assert c.post("/admin/refresh", data={"csrf_token": _token(c)}).status_code == 302
    job = _wait_job(c)
    assert job["kind"] == "refresh" and job["status"] == "failed"
    assert "AMZN" in job["message"] and "MSFT" not in job["message"].split("the last")[0]


def test_shutdown_cancels_a_running_job(scripted_app):
    c = scripted_app.test_client()
    login(c)
    c.post("/admin/symbols", data={"csrf_token": _token(c), "symbol": "SLOW"})
    c.post("/admin/retrain", data={"csrf_token": _token(c), "symbol": "SLOW"})
    deadline = time.time() + 10
    while c.get("/admin/jobs/current").get_json()["job"]["percent"] < 50:
        assert time.time() < deadline
        time.sleep(0.05)
    started = time.time()
    scripted_app.extensions["stocksense.jobs"].shutdown(timeout=5)
    job = _wait_job(c, timeout=10)
    assert job["status"] == "cancelled" and time.time() - started < 8
    r = c.post("/admin/refresh", data={"csrf_token": _token(c)}, follow_redirects=True)
    assert "shutting down" in r.get_data(as_text=True)
