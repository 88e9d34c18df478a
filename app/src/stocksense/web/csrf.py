"""Synchronizer-token CSRF protection for every state-changing form request."""

from __future__ import annotations

import hmac
import secrets

from flask import abort, request, session

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
FIELD = "csrf_token"
HEADER = "X-CSRF-Token"


def csrf_token() -> str:
    token = session.get("_csrf")
    if not token:
        token = secrets.token_urlsafe(32)
        session["_csrf"] = token
    return token


def rotate() -> str:
    session["_csrf"] = secrets.token_urlsafe(32)
    return session["_csrf"]


def protect() -> None:
    """before_request hook: every unsafe request must carry the session's token."""
    if request.method in SAFE_METHODS or request.routing_exception is not None:
        return  # no such route or method: routing answers 404/405, not a CSRF failure
    expected = session.get("_csrf")
    sent = request.form.get(FIELD) or request.headers.get(HEADER) or ""
    if not expected or not hmac.compare_digest(str(expected), str(sent)):
        abort(
            400,
            description="The form has expired or did not come from this site (CSRF check failed). "
            "Reload the page and try again.",
        )
