"""The converged StockSense site, seen from the controller through the instance's published ports.

Port 80 is published as 127.0.0.1:18080 and port 443 as 127.0.0.1:18443 (molecule.yml). No real
certificate exists in this scenario, so nginx serves the self-signed placeholder. Only the first
instance (trixie) publishes ports: tests that touch the instance and then look through the ports use
first_host; tests taking `host` run on every platform.
"""

from __future__ import annotations

import gzip
import json
import subprocess
import time

import pytest

from conftest import http_request, openssl_x509, peer_certificate_pem
from standins import standin_upstream  # noqa: F401  (a fixture: pytest finds it by name)

HTTP, HTTPS = 18080, 18443
NAME = "stocksense.test"
MOZILLA_INTERMEDIATE_TLS12 = {
    "ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384",
    "ECDHE-RSA-AES256-GCM-SHA384", "ECDHE-ECDSA-CHACHA20-POLY1305", "ECDHE-RSA-CHACHA20-POLY1305",
    "DHE-RSA-AES128-GCM-SHA256", "DHE-RSA-AES256-GCM-SHA384", "DHE-RSA-CHACHA20-POLY1305",
}
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'")


def test_configuration_passes_nginx_t(host):
    result = host.run("nginx -t")
    assert result.rc == 0, result.stderr
    assert "syntax is ok" in result.stderr


def test_nginx_runs_enabled_without_the_default_site(host):
    assert host.service("nginx").is_running
    assert host.service("nginx").is_enabled
    assert not host.file("/etc/nginx/sites-enabled/default").exists
    assert host.file("/etc/nginx/sites-enabled/stocksense.conf").linked_to == "/etc/nginx/sites-available/stocksense.conf"


def test_nginx_conf_is_sized_from_the_host(host):
    cpus = int(host.check_output("nproc --all"))
    mem_mb = int(host.check_output("awk '/^MemTotal/ {print int($2 / 1024)}' /proc/meminfo"))
    connections = min(max(mem_mb, 512), 4096)
    conf = host.file("/etc/nginx/nginx.conf")
    assert conf.contains(rf"^worker_processes {cpus};$")
    assert conf.contains(rf"^    worker_connections {connections};$")
    assert conf.contains(rf"^worker_rlimit_nofile {connections * 2};$")


def test_http_redirects_to_https_keeping_path_and_query():
    response = http_request(HTTP, "/api/v1/forecast?ticker=AAPL", host=NAME)
    assert response.status == 301
    assert response.header("location") == f"https://{NAME}/api/v1/forecast?ticker=AAPL"


def test_acme_challenge_is_served_over_plain_http(first_host):
    first_host.check_output("echo token-content > /var/www/acme/.well-known/acme-challenge/test-token")
    response = http_request(HTTP, "/.well-known/acme-challenge/test-token", host=NAME)
    assert response.status == 200
    assert response.body == b"token-content\n"
    assert http_request(HTTP, "/.well-known/acme-challenge/missing", host=NAME).status == 404
    assert http_request(HTTP, "/.well-known/other", host=NAME).status == 301


def test_server_tokens_are_off():
    response = http_request(HTTPS, "/", host=NAME, tls=True)
    assert response.header("server") == "nginx"
    assert b"nginx/" not in http_request(HTTP, "/x", host=NAME).body


def test_placeholder_certificate_is_served_and_no_hsts():
    pem = peer_certificate_pem(HTTPS, NAME)
    assert f"CN = {NAME}" in openssl_x509(pem, "-subject")
    assert f"DNS:www.{NAME}" in openssl_x509(pem, "-ext", "subjectAltName")
    assert http_request(HTTPS, "/static/app.css", host=NAME, tls=True).header("strict-transport-security") is None


def test_security_headers_on_pages_errors_and_static_files():
    for path in ("/", "/static/app.css", "/static/missing.css"):
        response = http_request(HTTPS, path, host=NAME, tls=True)
        assert response.header("content-security-policy") == CSP, path
        assert response.header("x-content-type-options") == "nosniff", path
        assert response.header("x-frame-options") == "DENY", path
        assert response.header("referrer-policy") == "strict-origin-when-cross-origin", path
        assert "camera=()" in response.header("permissions-policy"), path


def test_friendly_page_when_the_app_is_down(first_host):
    first_host.run("systemctl stop standin-upstream.service")
    response = http_request(HTTPS, "/", host=NAME, tls=True)
    assert response.status == 502
    assert b"StockSense is restarting" in response.body
    assert response.header("content-type").startswith("text/html")


def test_static_files_come_from_the_release_with_long_cache_and_gzip():
    response = http_request(HTTPS, "/static/app.css", host=NAME, tls=True, headers={"Accept-Encoding": "gzip"})
    assert response.status == 200
    assert response.header("content-encoding") == "gzip"
    assert response.header("cache-control") == "max-age=2592000"
    assert gzip.decompress(response.body).startswith(b"body { margin: 0;")
    js = http_request(HTTPS, "/static/app.js", host=NAME, tls=True, headers={"Accept-Encoding": "gzip"})
    assert js.header("content-encoding") == "gzip"
    assert "javascript" in js.header("content-type")


@pytest.mark.usefixtures("standin_upstream")
def test_proxy_headers_keepalive_and_gzip_json_reach_the_app(first_host):
    first = http_request(HTTPS, "/api/v1/echo?x=1", host=NAME, tls=True, headers={"Accept-Encoding": "gzip"})
    assert first.status == 200, first.body
    assert first.header("content-encoding") == "gzip"
    seen = json.loads(gzip.decompress(first.body))
    headers = seen["headers"]
    assert seen["path"] == "/api/v1/echo?x=1"
    assert headers["host"] == NAME
    assert headers["x-forwarded-proto"] == "https"
    assert headers["x-forwarded-host"] == NAME
    assert headers["x-real-ip"]
    assert headers["x-forwarded-for"].split(",")[-1].strip() == headers["x-real-ip"]
    assert "connection" not in headers or headers["connection"].lower() != "close"
    # Keepalive to the upstream: each worker reuses its idle connection to the app, so sequential
    # requests arrive over at most one connection per worker process.
    workers = int(first_host.check_output("nproc --all"))
    # (Under /, which has no rate limit, unlike /api/.)
    ports = {json.loads(http_request(HTTPS, f"/echo?n={n}", host=NAME, tls=True).body)["client_port"]
             for n in range(3 * workers + 2)}
    assert len(ports) <= workers, ports


def test_tls_versions_and_ciphers_follow_mozilla_intermediate():
    import ssl
    import socket

    def handshake(**settings):
        context = ssl._create_unverified_context()  # noqa: S323 - placeholder certificate
        for key, value in settings.items():
            if key == "ciphers":
                context.set_ciphers(value)
            else:
                setattr(context, key, value)
        with socket.create_connection(("127.0.0.1", HTTPS), timeout=10) as sock:
            with context.wrap_socket(sock, server_hostname=NAME) as tls:
                return tls.version(), tls.cipher()[0]

    assert handshake()[0] == "TLSv1.3"
    version, cipher = handshake(maximum_version=ssl.TLSVersion.TLSv1_2)
    assert version == "TLSv1.2"
    assert cipher in MOZILLA_INTERMEDIATE_TLS12
    assert handshake(maximum_version=ssl.TLSVersion.TLSv1_2, ciphers="DHE-RSA-AES256-GCM-SHA384")[1] == "DHE-RSA-AES256-GCM-SHA384"
    with pytest.raises(ssl.SSLError):
        handshake(maximum_version=ssl.TLSVersion.TLSv1_2, ciphers="AES128-GCM-SHA256")  # no forward secrecy


def test_tls12_session_tickets_are_off():
    out = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{HTTPS}", "-servername", NAME, "-tls1_2"],
                         input="", capture_output=True, text=True, timeout=20).stdout
    assert "Protocol  : TLSv1.2" in out
    assert "TLS session ticket" not in out


def test_api_rate_limit_answers_429_past_the_burst():
    time.sleep(2)  # let earlier tests' requests drain from the zone
    statuses = [http_request(HTTPS, "/api/v1/prices", host=NAME, tls=True).status for _ in range(20)]
    assert statuses[0] != 429
    assert statuses.count(429) >= 10, statuses  # 5r/s with burst 5: about 6 pass


def test_login_post_is_rate_limited_but_the_form_is_not():
    gets = [http_request(HTTPS, "/admin/login", host=NAME, tls=True).status for _ in range(8)]
    assert 429 not in gets, gets
    posts = [http_request(HTTPS, "/admin/login", host=NAME, tls=True, method="POST", body=b"user=a&password=b",
                          headers={"Content-Type": "application/x-www-form-urlencoded"}).status for _ in range(8)]
    assert posts[0] != 429
    assert posts.count(429) >= 4, posts  # 2r/m with burst 2: 3 pass
