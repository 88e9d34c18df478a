"""Per-request hooks: request id and timing, headers, the access log line."""

from __future__ import annotations

import itertools
import logging
import time
import uuid

from flask import Flask, g, request

from .caching import apply_policy

access_log = logging.getLogger("stocksense.web.access")

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'self'"
)

# Sent only when the app is not behind nginx (STOCKSENSE_SECURITY_HEADERS=true, the default):
# behind nginx, nginx owns these headers and the app role turns them off here.
SECURITY_HEADERS = (
    ("Content-Security-Policy", CSP),
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "same-origin"),
    ("Cross-Origin-Opener-Policy", "same-origin"),
    ("Permissions-Policy", "camera=(), microphone=(), geolocation=()"),
)
HSTS = ("Strict-Transport-Security", "max-age=31536000")


# request ids: a random per-process prefix and a counter (unique, and cheaper than uuid4)
_PREFIX = uuid.uuid4().hex[:8]
_counter = itertools.count(1)


def _start() -> None:
    g.t0 = time.perf_counter()
    g.request_id = request.headers.get("X-Request-Id", "")[:64] or f"{_PREFIX}{next(_counter):08x}"


def _log(resp) -> None:
    if not access_log.isEnabledFor(logging.INFO):
        return
    t0 = g.get("t0")
    access_log.info(
        "request",
        extra={
            "method": request.method,
            "path": request.path,
            "status": resp.status_code,
            "ms": round((time.perf_counter() - t0) * 1000, 2) if t0 else None,
            "remote": request.remote_addr,
            "request_id": g.get("request_id"),
        },
    )


def register(app: Flask, config) -> None:
    security = config.security_headers
    max_age = config.public_page_max_age
    app.before_request(_start)

    @app.after_request
    def _headers(resp):
        h = resp.headers
        if security:
            h.extend(SECURITY_HEADERS)  # no view sets these itself
            if request.is_secure:
                h.setdefault(*HSTS)
        apply_policy(resp, max_age)
        h["X-Request-Id"] = g.get("request_id", "")
        _log(resp)
        return resp
