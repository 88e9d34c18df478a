"""Cacheable reads: strong ETags from the state token, lifetimes ending at the next data refresh,
304 on If-None-Match; public pages short and public, anything with a session private."""

from __future__ import annotations

import re
import threading
from datetime import UTC, datetime

import pytest
from conftest import TRAINED, login

from stocksense.web.schedule import parse_schedule

READS = (
    f"/api/v1/symbols/{TRAINED}/forecast",
    f"/api/v1/symbols/{TRAINED}/history?days=30",
    f"/api/v1/symbols/{TRAINED}/backtest",
)


def _max_age(resp) -> int:
    m = re.fullmatch(r"public, max-age=(\d+)", resp.headers["Cache-Control"])
    assert m, resp.headers["Cache-Control"]
    return int(m.group(1))


@pytest.mark.parametrize("url", READS)
def test_reads_carry_strong_etag_and_lifetime_to_next_refresh(client, url):
    r = client.get(url)
    assert r.status_code == 200
    etag = r.headers["ETag"]
    assert re.fullmatch(r'"[0-9a-f]{24}"', etag)  # strong: no W/ prefix
    expected = parse_schedule("Mon..Fri 22:30").seconds_until_next()
    assert abs(_max_age(r) - expected) <= 2
    again = client.get(url, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b"" and again.headers["ETag"] == etag
    other = client.get(url, headers={"If-None-Match": '"0000"'})
    assert other.status_code == 200 and other.data == r.data


def test_etag_changes_when_a_new_model_is_published(app, client):
    backend = app.extensions["stocksense.backend"]
    url = f"/api/v1/symbols/{TRAINED}/forecast"
    etag = client.get(url).headers["ETag"]
    registry = backend.service.registry
    meta, data = registry.load(TRAINED, "lstm")
    meta = {k: v for k, v in meta.items() if k not in ("version", "created_at", "content_hash")}
    registry.publish(TRAINED, "lstm", data, meta, version="99990101T000000Z-etag")
    backend.cache.recheck = 0.0
    r = client.get(url, headers={"If-None-Match": etag})
    assert r.status_code == 200 and r.headers["ETag"] != etag


def test_refresh_schedule_setting(web_home, admin_hash):
    from conftest import make_app

    app = make_app(web_home, admin_hash, refresh_schedule="daily 00:00")
    r = app.test_client().get(READS[0])
    now = datetime.now(UTC)
    midnight = 86400 - (now.hour * 3600 + now.minute * 60 + now.second)
    assert abs(_max_age(r) - midnight) <= 2


@pytest.mark.parametrize(
    "now,expected",
    [
        ("2026-12-01T10:00:00", "2026-12-01T22:30:00"),  # Tuesday morning: tonight
        ("2026-12-01T22:30:00", "2026-12-02T22:30:00"),  # exactly at refresh: the next one
        ("2026-12-04T23:00:00", "2026-12-07T22:30:00"),  # Friday night: Monday
        ("2026-12-05T12:00:00", "2026-12-07T22:30:00"),  # Saturday: Monday
    ],
)
def test_schedule_next_refresh(now, expected):
    sched = parse_schedule("Mon..Fri 22:30")
    got = sched.next_after(datetime.fromisoformat(now).replace(tzinfo=UTC))
    assert got == datetime.fromisoformat(expected).replace(tzinfo=UTC)


@pytest.mark.parametrize("bad", ["22:30", "Mon..Fri 25:00", "Funday 10:00", "Mon-Fri 10"])
def test_schedule_rejects_nonsense(bad):
    from stocksense.web.config import ConfigError, load_web_config

    with pytest.raises(ConfigError, match="STOCKSENSE_REFRESH_SCHEDULE"):
        load_web_config({"STOCKSENSE_ENV": "testing", "STOCKSENSE_REFRESH_SCHEDULE": bad})


def test_public_pages_short_public_lifetime(client):
    for url in ("/", f"/symbols/{TRAINED}", "/models"):
        r = client.get(url)
        assert r.status_code == 200
        assert r.headers["Cache-Control"] == "public, max-age=60", url
        assert "Set-Cookie" not in r.headers, url


def test_session_and_admin_answers_are_private(client):
    assert "private, no-store" == client.get("/admin/login").headers["Cache-Control"]
    login(client)
    for url in ("/", f"/symbols/{TRAINED}", "/admin/", READS[0]):
        assert client.get(url).headers["Cache-Control"] == "private, no-store", url


def test_errors_and_lists_are_not_cached_as_public(client):
    assert client.get("/api/v1/symbols/QQQQQ/forecast").headers["Cache-Control"] == "no-store"
    assert client.get("/api/v1/symbols").headers["Cache-Control"] == "no-cache"


def test_overview_is_rendered_once_while_its_inputs_do_not_change(app, client, monkeypatch):
    from stocksense.web import views

    renders = []
    real = views._render_overview
    monkeypatch.setattr(views, "_render_overview", lambda: renders.append(1) or real())
    first = client.get("/")
    for _ in range(5):
        assert client.get("/").data == first.data
    assert len(renders) == 1
    assert client.get("/", headers={"If-None-Match": first.headers["ETag"]}).status_code == 304
    # an input changes (a symbol is watched): the next check re-renders
    app.extensions["stocksense.backend"].add_symbol("AMZN")
    assert b'data-symbol="AMZN"' in client.get("/").data
    assert len(renders) == 2


def test_an_entry_computed_from_other_entries_never_waits_on_itself(monkeypatch):
    """The overview's token reads each forecast's entry from the same cache. With 64 striped locks
    the page key and a forecast key share a stripe now and then (hash() is salted per process):
    that once hung the suite. One stripe makes every pair share it."""
    from stocksense.web.backend import StateCache

    monkeypatch.setattr(StateCache, "STRIPES", 1)
    cache = StateCache()
    inner = lambda: cache.get("forecast:AAA", lambda: 1, lambda: b"inner")  # noqa: E731
    done = []
    worker = threading.Thread(
        target=lambda: done.append(cache.get("page:overview", inner, lambda: inner() + b"+page")),
        daemon=True,
    )
    worker.start()
    worker.join(timeout=10)
    assert done == [b"inner+page"], "a nested read of the cache waited on its own stripe lock"


def test_cache_is_bounded_in_entries_and_bytes():
    from stocksense.web.backend import StateCache

    cache = StateCache(maxsize=5, max_bytes=1000)
    for i in range(50):
        cache.get(f"k{i}", lambda: 1, lambda: b"x" * 100)
    assert len(cache) == 5
    for i in range(50):
        cache.get(f"b{i}", lambda: 1, lambda: b"y" * 400)
    assert len(cache) == 2 and cache._bytes <= 1000
