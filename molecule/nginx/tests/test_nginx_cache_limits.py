"""Headers exactly once, the proxy cache, gzip off for HTML, and a rate limit on every dynamic location.

The upstream here is a clearly named STAND-IN for the app (not the app): it answers with a counter
(so a test can tell whether nginx asked it), with the Cache-Control/ETag/Set-Cookie a path asks
for, and with its OWN copies of the security headers, like an app that still sends them; nginx
must drop those and send its own, once. Requests go through the first instance's published ports
(127.0.0.1:18443), so they do not come from the instance's loopback and the limits apply.
"""

from __future__ import annotations

import gzip
import http.client
import json
import ssl
import time
import uuid

import pytest

from conftest import _LoopbackHTTPS

HTTPS = 18443
NAME = "stocksense.test"
CACHE_DIR = "/var/cache/nginx/stocksense"
SECURITY_HEADERS = ("content-security-policy", "x-content-type-options", "x-frame-options", "referrer-policy",
                    "permissions-policy", "cross-origin-opener-policy")

STANDIN = r'''#!/usr/bin/python3
"""TEST STAND-IN for the StockSense app (not the app): counts requests, echoes caching headers on demand."""
import itertools
import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

COUNTER = itertools.count(1)
APP_COPIES = [("Content-Security-Policy", "default-src *"), ("X-Frame-Options", "SAMEORIGIN"),
              ("Referrer-Policy", "same-origin"), ("X-Content-Type-Options", "nosniff"),
              ("Permissions-Policy", "camera=()"), ("Cross-Origin-Opener-Policy", "unsafe-none"),
              ("Strict-Transport-Security", "max-age=1")]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        n = next(COUNTER)
        cacheable = "cacheable" in self.path or "cookie" in self.path
        if cacheable and self.headers.get("If-None-Match") == '"v1"':
            self.send_response(304)
            self.send_header("ETag", '"v1"')
            self.send_header("Cache-Control", "public, max-age=60")
            self.end_headers()
            return
        html = "/page" in self.path
        body = (f"<!doctype html><p>csrf-token-{n}</p>" + "<p>padding</p>" * 100 if html
                else json.dumps({"n": n, "path": self.path, "pad": "x" * 600})).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8" if html else "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Upstream-Count", str(n))
        if cacheable:
            self.send_header("Cache-Control", "public, max-age=60")
            self.send_header("ETag", '"v1"')
        if "nostore" in self.path:
            self.send_header("Cache-Control", "no-store")
        if "cookie" in self.path:
            self.send_header("Set-Cookie", "stocksense_session=abc; Secure; HttpOnly")
        for name, value in APP_COPIES:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)


ThreadingHTTPServer(("127.0.0.1", 5005), Handler).serve_forever()
'''


class Client:
    """One keep-alive HTTPS connection to the published port; responses keep every header line."""

    def __init__(self):
        self.conn = _LoopbackHTTPS(NAME, HTTPS, timeout=10, context=ssl._create_unverified_context())  # noqa: S323 - placeholder

    def get(self, path, headers=None):
        self.conn.request("GET", path, headers={"Host": NAME, **(headers or {})})
        resp = self.conn.getresponse()
        body = resp.read()
        return resp.status, [(k.lower(), v) for k, v in resp.getheaders()], body

    def close(self):
        self.conn.close()


def one(headers, name):
    values = [v for k, v in headers if k == name]
    return values[0] if len(values) == 1 else values


def count_of(headers, name):
    return sum(1 for k, _ in headers if k == name)


def upstream_count(headers):
    return int(one(headers, "x-upstream-count"))


@pytest.fixture
def client():
    c = Client()
    yield c
    c.close()


@pytest.fixture
def standin(first_host):
    """The caching stand-in on 127.0.0.1:5005 in the instance, for the length of a test."""
    first_host.run("systemctl stop standin-upstream.service standin-cache.service; "
                   "systemctl reset-failed standin-upstream.service standin-cache.service")
    first_host.check_output("cat > /usr/local/bin/standin-cache <<'EOF'\n%sEOF\nchmod 0755 /usr/local/bin/standin-cache" % STANDIN)
    first_host.check_output("systemd-run --unit=standin-cache --property=Type=simple /usr/local/bin/standin-cache")
    for _ in range(50):
        if first_host.run("python3 -c 'import socket; socket.create_connection((\"127.0.0.1\", 5005), 1)'").rc == 0:
            break
        time.sleep(0.1)
    yield
    first_host.run("systemctl stop standin-cache.service")
    time.sleep(1)  # let this test's requests drain from the rate-limit zones before the next test


def fresh(path):
    return f"{path}?k={uuid.uuid4().hex}"


@pytest.mark.usefixtures("standin")
def test_cacheable_api_answer_is_stored_then_served_without_the_app(client):
    path = fresh("/api/v1/cacheable")
    status, first, body1 = client.get(path)
    assert status == 200 and one(first, "x-cache-status") == "MISS"
    status, second, body2 = client.get(path)
    assert status == 200 and one(second, "x-cache-status") == "HIT"
    assert body2 == body1, "a HIT is the stored answer, the app was not asked"
    assert one(second, "cache-control") == "public, max-age=60" and one(second, "etag") == '"v1"'
    # The browser's revalidation gets a 304 from the cache.
    status, _, _ = client.get(path, {"If-None-Match": '"v1"'})
    assert status == 304


@pytest.mark.usefixtures("standin")
def test_request_with_a_cookie_bypasses_the_cache_and_is_not_stored(client):
    path = fresh("/api/v1/cacheable")
    _, a, _ = client.get(path, {"Cookie": "stocksense_session=someone"})
    _, b, _ = client.get(path, {"Cookie": "stocksense_session=someone"})
    assert one(a, "x-cache-status") == "BYPASS" and one(b, "x-cache-status") == "BYPASS"
    assert upstream_count(b) > upstream_count(a), "each request with a cookie reaches the app"
    # Nothing was stored for the anonymous visitor by those requests.
    _, c, _ = client.get(path)
    assert one(c, "x-cache-status") == "MISS"
    # A stored anonymous answer is not served to someone with a session either.
    _, d, _ = client.get(path, {"Cookie": "stocksense_session=someone"})
    assert one(d, "x-cache-status") == "BYPASS" and upstream_count(d) > upstream_count(c)


@pytest.mark.usefixtures("standin")
def test_answer_setting_a_cookie_is_never_stored(client):
    path = fresh("/api/v1/cookie")
    _, a, _ = client.get(path)
    _, b, _ = client.get(path)
    assert one(a, "x-cache-status") == "MISS" and one(b, "x-cache-status") == "MISS"
    assert upstream_count(b) > upstream_count(a)
    assert count_of(b, "set-cookie") == 1


@pytest.mark.usefixtures("standin")
def test_pages_are_cached_but_admin_and_no_store_answers_never(client):
    page = fresh("/symbols/cacheable")
    client.get(page)
    assert one(client.get(page)[1], "x-cache-status") == "HIT"
    for path in (fresh("/admin/cacheable"), fresh("/api/v1/nostore")):
        _, a, _ = client.get(path)
        _, b, _ = client.get(path)
        assert upstream_count(b) > upstream_count(a), path
        assert "HIT" not in (one(a, "x-cache-status"), one(b, "x-cache-status")), path


@pytest.mark.usefixtures("standin")
def test_emptying_the_cache_directory_is_a_purge(first_host, client):
    """What the app role and the job units do after models or prices change."""
    path = fresh("/api/v1/cacheable")
    client.get(path)
    _, hit, _ = client.get(path)
    assert one(hit, "x-cache-status") == "HIT"
    first_host.check_output(f"find {CACHE_DIR} -mindepth 1 -type f -delete")
    _, after, _ = client.get(path)
    assert one(after, "x-cache-status") == "MISS"
    assert upstream_count(after) > upstream_count(hit)


@pytest.mark.usefixtures("standin")
def test_html_is_not_compressed_but_json_is(client):
    """BREACH: pages can carry a CSRF token, so HTML from the app is never gzipped."""
    _, page, _ = client.get(fresh("/page"), {"Accept-Encoding": "gzip"})
    assert one(page, "content-type").startswith("text/html")
    assert count_of(page, "content-encoding") == 0
    _, api, body = client.get(fresh("/api/v1/json"), {"Accept-Encoding": "gzip"})
    assert one(api, "content-encoding") == "gzip"
    assert json.loads(gzip.decompress(body))["pad"]


def assert_security_headers_once(headers, where):
    for name in SECURITY_HEADERS:
        assert count_of(headers, name) == 1, f"{name} on {where}: {[v for k, v in headers if k == name]}"
    assert one(headers, "content-security-policy").startswith("default-src 'self'"), where  # nginx's, not the app's
    assert one(headers, "x-frame-options") == "DENY", where
    assert one(headers, "referrer-policy") == "strict-origin-when-cross-origin", where
    assert one(headers, "cross-origin-opener-policy") == "same-origin", where
    assert count_of(headers, "strict-transport-security") == 0, f"placeholder certificate, no HSTS: {where}"


@pytest.mark.usefixtures("standin")
def test_security_headers_exactly_once_everywhere(first_host, client):
    """Although the stand-in sends its own copies: JSON (MISS and HIT), HTML, static, 404, 429, 502."""
    api = fresh("/api/v1/cacheable")
    for path in (api, api, fresh("/page"), "/static/app.css", "/static/missing.css"):
        status, headers, _ = client.get(path)
        assert_security_headers_once(headers, f"{path} ({status})")
    statuses = []
    for _ in range(30):
        status, headers, _ = client.get("/health")
        statuses.append(status)
        if status == 429:
            assert_security_headers_once(headers, "nginx's own 429")
            break
    assert 429 in statuses, statuses
    first_host.check_output("systemctl stop standin-cache.service")
    status, headers, body = client.get(fresh("/page"))
    assert status == 502 and b"StockSense is restarting" in body
    assert_security_headers_once(headers, "nginx's own 502 page")


def burst_statuses(path, n):
    c = Client()
    try:
        return [c.get(path)[0] for _ in range(n)]
    finally:
        c.close()


@pytest.mark.usefixtures("standin")
@pytest.mark.parametrize(("path", "rate", "burst"),
                         [("/symbols/MSFT", 10, 40), ("/admin/", 10, 40), ("/health", 5, 10), ("/ready", 5, 10)])
def test_every_dynamic_location_is_rate_limited(path, rate, burst):
    """Pages get a generous burst (40 above 10r/s), health checks a smaller one (10 above 5r/s);
    the API and login limits are tested in test_nginx_site.py."""
    time.sleep(burst / rate + 1)  # an empty zone for this location, whatever ran before
    start = time.monotonic()
    statuses = burst_statuses(path, burst + 60)
    elapsed = time.monotonic() - start
    assert 429 not in statuses[:burst], f"{path}: the burst must pass: {statuses}"
    # At most the burst, plus what the rate refills while the requests go out, may pass.
    allowed = burst + 2 + rate * elapsed
    assert statuses.count(429) >= len(statuses) - allowed, f"{path} ({elapsed:.1f} s): {statuses}"
    assert 429 in statuses, f"{path} ({elapsed:.1f} s): {statuses}"
