"""Redirect targets stay on this site; security headers have one owner; memory stays bounded."""

from __future__ import annotations

import gc
import os

import pytest
from conftest import ADMIN_PASSWORD, csrf_from, login, make_app

from stocksense.web.hooks import SECURITY_HEADERS

# Each is a known way to turn a "relative" redirect into another site: browsers strip tabs and
# newlines, read "\" as "/", and treat "//host" and "scheme:" as absolute.
BYPASSES = [
    "/\t/evil.example",
    "/\n/evil.example",
    "/\r/evil.example",
    "//evil.example",
    "///evil.example",
    "/\\evil.example",
    "\\/evil.example",
    "/\\/evil.example",
    "https:evil.example",
    "https://evil.example/",
    "HTTPS://evil.example",
    "javascript:alert(1)",
    "%2F%2Fevil.example",
    "/%2F/evil.example",
    "/%2f%2fevil.example",
    "/%5Cevil.example",
    "/%5c%5cevil.example",
    "evil.example",
    " /evil.example",
    "/\x00/evil.example",
    "/\x7f/evil.example",
    "/\u3000/evil.example",
    "/\uff0fevil.example",
    "\u2215\u2215evil.example",
    "/admin@evil.example\\",
]
FALLBACK = "/admin/"


def _location(resp) -> str:
    assert resp.status_code == 302, resp.status_code
    return resp.headers["Location"]


def _same_site(location: str) -> bool:
    from urllib.parse import urlsplit

    parts = urlsplit(location)
    return not parts.scheme and not parts.netloc and location.startswith("/") and not (
        location.startswith("//")
    )


@pytest.mark.parametrize("target", BYPASSES, ids=repr)
def test_login_post_never_redirects_off_site(client, target):
    page = client.get("/admin/login")
    token = csrf_from(page.get_data(as_text=True))
    r = client.post(
        "/admin/login",
        data={"csrf_token": token, "username": "admin", "password": ADMIN_PASSWORD, "next": target},
    )
    assert _location(r) == FALLBACK


@pytest.mark.parametrize("target", BYPASSES, ids=repr)
def test_login_get_when_logged_in_never_redirects_off_site(client, target):
    assert login(client).status_code == 302
    r = client.get("/admin/login", query_string={"next": target})
    assert _location(r) == FALLBACK


@pytest.mark.parametrize("target", ["/admin/", "/symbols/MSFT", "/models?x=1#top", "/a/b%20c"])
def test_same_site_paths_are_kept(client, target):
    assert login(client).status_code == 302
    r = client.get("/admin/login", query_string={"next": target})
    location = _location(r)
    assert location == target and _same_site(location)


def test_security_headers_sent_once_when_the_app_runs_alone(client):
    for url in ("/", "/api/v1/symbols", "/static/css/app.css", "/api/v1/nothing", "/nothing"):
        r = client.get(url, base_url="https://localhost")
        for name, value in SECURITY_HEADERS:
            assert r.headers.getlist(name) == [value], (url, name)
        assert len(r.headers.getlist("Strict-Transport-Security")) == 1, url


def test_security_headers_off_behind_nginx(web_home, admin_hash):
    """STOCKSENSE_SECURITY_HEADERS=false: nginx owns them; the app keeps its caching headers."""
    app = make_app(web_home, admin_hash, security_headers=False)
    c = app.test_client()
    owned_by_nginx = [n for n, _ in SECURITY_HEADERS] + ["Strict-Transport-Security"]
    for url in ("/", "/api/v1/symbols/MSFT/forecast", "/api/v1/nothing", "/admin/login"):
        r = c.get(url, base_url="https://localhost")
        assert not [n for n in owned_by_nginx if n in r.headers], url
        assert r.headers["Cache-Control"], url


def test_security_headers_setting_is_read_from_the_environment():
    from stocksense.web.config import load_web_config

    base = {"STOCKSENSE_ENV": "testing"}
    assert load_web_config(base).security_headers is True
    off = load_web_config({**base, "STOCKSENSE_SECURITY_HEADERS": "false"})
    assert off.security_headers is False


def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def test_memory_stays_bounded_under_100k_distinct_unknown_symbols(app):
    """Every well-formed symbol used to leave a lock behind (about 183 bytes each, forever)."""
    import logging

    wsgi = app.wsgi_app
    access = logging.getLogger("stocksense.web.access")
    level = access.level
    access.setLevel(logging.WARNING)  # measure the app, not a log sink

    def get(path: str) -> int:
        status = []
        environ = {
            "REQUEST_METHOD": "GET",
            "PATH_INFO": path,
            "SERVER_NAME": "localhost",
            "SERVER_PORT": "80",
            "wsgi.url_scheme": "http",
            "wsgi.input": None,
            "REMOTE_ADDR": "127.0.0.1",
        }
        body = wsgi(environ, lambda s, h, e=None: status.append(s))
        b"".join(body)
        getattr(body, "close", lambda: None)()
        return int(status[0][:3])

    def symbol(i: int) -> str:
        digits = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
        out = ""
        while True:
            out = digits[i % 26] + out
            i //= 26
            if not i:
                return "Q" + out  # "Q" + letters: valid, and none of the seeded tickers

    try:
        for i in range(2_000):  # warm up: lazily built state, allocator arenas
            assert get(f"/api/v1/symbols/{symbol(i)}/forecast") == 404
        gc.collect()
        before = _rss_bytes()
        for i in range(2_000, 102_000):
            assert get(f"/api/v1/symbols/{symbol(i)}/forecast") == 404
        gc.collect()
        grown = _rss_bytes() - before
    finally:
        access.setLevel(level)
    assert grown < 5 * 1024 * 1024, f"RSS grew by {grown / 1e6:.1f} MB"
