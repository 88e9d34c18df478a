"""One owner per security header, on the whole stack: every response through nginx (HTML, JSON,
static files, the app's errors and nginx's own 404/429/502 pages) carries each security header
exactly once, and the nginx role's HSTS and CSP variables are what the browser gets.

Requests go from this machine to the sandbox's published HTTPS port, with pebble's certificate
(the local stand-in for Let's Encrypt) verified; the instance is a podman container.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from conftest import PinnedHTTPSConnection

REPO = Path(os.environ.get("MOLECULE_PROJECT_DIRECTORY", Path(__file__).resolve().parents[3]))
INSTANCE = "stocksense-e2e-web"
SECURITY = ("strict-transport-security", "content-security-policy", "x-content-type-options", "x-frame-options",
            "referrer-policy", "permissions-policy", "cross-origin-opener-policy")
# The nginx role's defaults (roles/nginx/defaults/main.yml); the app's own differ.
NGINX_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
             "connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'")
NGINX_HSTS = "max-age=31536000"


def raw_get(site, path, headers=None):
    """GET over HTTPS to the published port; the header lines as sent, duplicates kept."""
    conn = PinnedHTTPSConnection(site.domain, site.https_port, context=site.tls_context(), timeout=15)
    try:
        conn.request("GET", path, headers=headers or {})
        resp = conn.getresponse()
        body = resp.read()
        return resp.status, [(k.lower(), v) for k, v in resp.getheaders()], body
    finally:
        conn.close()


def values(headers, name):
    return [v for k, v in headers if k == name]


def assert_each_once(headers, where, csp=NGINX_CSP, hsts=NGINX_HSTS):
    for name in SECURITY:
        assert len(values(headers, name)) == 1, f"{name} on {where}: {values(headers, name)}"
    assert values(headers, "content-security-policy") == [csp], where
    assert values(headers, "strict-transport-security") == [hsts], where
    assert values(headers, "referrer-policy") == ["strict-origin-when-cross-origin"], where


def instance(*command):
    return subprocess.run(["podman", "exec", INSTANCE, *command], capture_output=True, text=True, timeout=120, check=False)


def wait_ready(timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        probe = instance("python3", "-c", "import urllib.request as u; print(u.urlopen('http://127.0.0.1:5005/ready', timeout=3).status)")
        if probe.stdout.strip() == "200":
            return
        time.sleep(1)
    raise AssertionError("the app did not become ready again")


@pytest.mark.parametrize(
    ("kind", "path", "status"),
    [
        ("HTML page", "/", 200),
        ("HTML page, cached or not", "/", 200),
        ("JSON", "/api/v1/symbols", 200),
        ("JSON forecast", "/api/v1/symbols/MSFT/forecast", 200),
        ("static file (nginx)", "/static/css/app.css", 200),
        ("missing static file (nginx 404)", "/static/no-such-file.css", 404),
        ("app 404 page", "/no-such-page", 404),
        ("app 400 problem", "/api/v1/symbols/NOT*A*SYMBOL/forecast", 400),
        ("readiness", "/ready", 200),
    ],
)
def test_each_security_header_exactly_once(site, kind, path, status):
    got, headers, _ = raw_get(site, path)
    assert got == status, f"{kind}: {got}"
    assert_each_once(headers, f"{kind} {path}")


def test_each_header_once_on_nginx_429(site):
    time.sleep(3)  # an empty /health zone (5r/s, burst 10)
    for _ in range(40):
        status, headers, _ = raw_get(site, "/health")
        if status == 429:
            assert_each_once(headers, "nginx's 429")
            return
    pytest.fail("no 429 from /health after 40 requests: is the location rate-limited?")


def test_each_header_once_on_nginx_502_page(site):
    assert instance("systemctl", "stop", "stocksense.service").returncode == 0
    try:
        status, headers, body = raw_get(site, f"/?fresh={uuid.uuid4().hex}")
        assert status == 502 and b"StockSense is restarting" in body
        assert_each_once(headers, "nginx's 502 page")
    finally:
        instance("systemctl", "start", "stocksense.service")
        wait_ready()


def configure_nginx(extra_vars: dict | None):
    """Re-run the nginx role through site's configure stage against the sandbox, like a user would."""
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0")
    cmd = [str(Path(sys.executable).parent / "ansible-playbook"), "-i", "inventories/sandbox", "playbooks/configure.yml",
           "--tags", "nginx"]
    if extra_vars:
        cmd += ["-e", json.dumps(extra_vars)]
    run = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]


def test_nginx_hsts_and_csp_variables_take_effect(site):
    csp = NGINX_CSP + "; upgrade-insecure-requests"
    configure_nginx({"nginx_hsts_max_age": 600, "nginx_hsts_include_subdomains": True,
                     "nginx_content_security_policy": csp})
    try:
        for path in ("/", "/api/v1/symbols", "/static/css/app.css"):
            _, headers, _ = raw_get(site, path, headers={"Cookie": "x=1"})
            assert_each_once(headers, f"{path} after the change", csp=csp, hsts="max-age=600; includeSubDomains")
    finally:
        configure_nginx(None)
    _, headers, _ = raw_get(site, "/static/css/app.css")
    assert_each_once(headers, "back to the defaults")
