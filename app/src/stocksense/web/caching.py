"""HTTP caching of the once-a-day answers: strong ETags and lifetimes ending at the next refresh.

The app owns Cache-Control, ETag and Vary (nginx owns the security headers).  Policy:
* forecast, history and backtest: ``public, max-age=<seconds to the next data refresh>`` and a
  strong ETag derived from the service's state token; ``If-None-Match`` answers 304;
* pages that are the same for every visitor (no session cookie): ``public, max-age=<short>``;
* anything with a session cookie, the admin and login pages: ``private, no-store``;
* every other answer (errors, lists that admins change, health): ``no-store`` or ``no-cache``.
"""

from __future__ import annotations

import time

from flask import Response, current_app, request

from .schedule import parse_schedule

PRIVATE = "private, no-store"


def _schedule():
    app = current_app
    sched = app.extensions.get("stocksense.schedule")
    if sched is None:
        sched = parse_schedule(app.extensions["stocksense.config"].refresh_schedule)
        app.extensions["stocksense.schedule"] = sched
    return sched


def until_refresh() -> str:
    """``public, max-age=<seconds to the next refresh>``, recomputed at most once a second."""
    extensions = current_app.extensions
    now = time.time()
    memo = extensions.get("stocksense.until_refresh")
    if memo is None or now - memo[0] >= 1.0:
        memo = (now, f"public, max-age={_schedule().seconds_until_next()}")
        extensions["stocksense.until_refresh"] = memo
    return memo[1]


def cacheable(answer, mimetype: str = "application/json") -> Response:
    """The answer's bytes, or 304 when the client already has this version."""
    headers = {"ETag": answer.etag, "Cache-Control": until_refresh()}
    if request.if_none_match.contains_weak(answer.etag.strip('"')):
        return Response(status=304, headers=headers)
    return Response(answer.body, mimetype=mimetype, headers=headers)


def public_page(answer) -> Response:
    """A page that is the same for every visitor without a session: short public lifetime."""
    max_age = current_app.extensions["stocksense.config"].public_page_max_age
    headers = {"ETag": answer.etag, "Cache-Control": f"public, max-age={max_age}", "Vary": "Cookie"}
    if request.if_none_match.contains_weak(answer.etag.strip('"')):
        return Response(status=304, headers=headers)
    return Response(answer.body, mimetype="text/html", headers=headers)


def has_session_cookie() -> bool:
    return current_app.config["SESSION_COOKIE_NAME"] in request.cookies


def apply_policy(resp: Response, public_max_age: int) -> None:
    """after_request: fill in Cache-Control where the view did not decide."""
    h = resp.headers
    personal = (
        has_session_cookie()
        or "Set-Cookie" in h
        or request.path.startswith(("/admin", "/login"))
    )
    if personal:
        h["Cache-Control"] = PRIVATE  # overrides a view's public policy
        return
    if "Cache-Control" in h or request.path.startswith("/static/"):
        return
    if resp.status_code >= 400 or request.method not in ("GET", "HEAD"):
        h["Cache-Control"] = "no-store"
    elif resp.mimetype == "text/html":
        h["Cache-Control"] = f"public, max-age={public_max_age}"
    else:
        h["Cache-Control"] = "no-cache"
