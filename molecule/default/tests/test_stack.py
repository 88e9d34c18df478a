"""The whole stack from outside, as a person's browser and scripts reach it: over HTTPS, through
nginx, with the certificate pebble (the local stand-in for Let's Encrypt) issued, to the app.
moto stands in for AWS; the instance is a podman container with real systemd."""

from __future__ import annotations

import json
import socket
import ssl

import pytest


def test_certificate_is_pebbles_for_the_public_name(site):
    with socket.create_connection(("127.0.0.1", site.https_port), 10) as sock:
        with site.tls_context().wrap_socket(sock, server_hostname=site.domain) as tls:
            cert = tls.getpeercert()
            version = tls.version()
    assert ("DNS", site.domain) in cert["subjectAltName"]
    issuer = dict(item[0] for item in cert["issuer"])
    assert "Pebble" in issuer["commonName"]
    assert version in ("TLSv1.2", "TLSv1.3")


def test_untrusted_without_pebbles_root(site):
    """The chain really is checked: with only the system CAs, the handshake fails."""
    with socket.create_connection(("127.0.0.1", site.https_port), 10) as sock:
        with pytest.raises(ssl.SSLCertVerificationError):
            ssl.create_default_context().wrap_socket(sock, server_hostname=site.domain)


def test_http_redirects_to_https(site):
    with socket.create_connection(("127.0.0.1", site.http_port), 10) as sock:
        sock.sendall(f"GET /api/v1/symbols HTTP/1.1\r\nHost: {site.domain}\r\nConnection: close\r\n\r\n".encode())
        reply = b""
        while chunk := sock.recv(4096):
            reply += chunk
    head = reply.split(b"\r\n\r\n", 1)[0].decode()
    assert head.split()[1] in ("301", "308")
    assert f"location: https://{site.domain}" in head.lower()


def test_live_and_ready_with_every_watched_symbol_served(site):
    """/health is liveness only; /ready says every watched symbol has its models (not degraded)."""
    status, headers, body = site.get("/health")
    assert status == 200
    assert json.loads(body) == {"status": "ok"}
    status, headers, body = site.get("/ready")
    assert status == 200
    ready = json.loads(body)
    assert ready["status"] == "ok", ready["reasons"]
    assert ready["watched"] == ready["with_model"] == 3


def test_forecast_api_through_nginx(site):
    status, headers, body = site.get("/api/v1/symbols")
    assert status == 200
    symbols = [s["symbol"] for s in json.loads(body)["symbols"] if s.get("watched", True)]
    assert symbols
    status, headers, body = site.get(f"/api/v1/symbols/{symbols[0]}/forecast")
    assert status == 200, body
    forecast = json.loads(body)
    assert set(forecast["models"]) == {"transformer", "lstm"}
    assert forecast["ensemble"]["predicted_close"] > 0
    assert "strict-transport-security" in headers
    assert "content-security-policy" in headers


def test_bad_symbol_is_a_problem_not_a_500(site):
    status, headers, body = site.get("/api/v1/symbols/NOT*A*SYMBOL/forecast")
    assert status == 400
    assert headers["content-type"].startswith("application/problem+json")
