"""StockSense web layer: Flask app factory, JSON API, dashboard and admin.

Import-light by design: no TensorFlow, Keras or pandas ever enters this process; forecasts come from
the LiteRT models through `stocksense.serving`.
"""

from __future__ import annotations

import logging
import secrets
import time
import uuid
from datetime import timedelta

from flask import Flask, g, render_template, request
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from .config import ConfigError, WebConfig, load_web_config  # noqa: F401 - re-exported
from .problems import PROBLEM_JSON, ApiProblem, problem

log = logging.getLogger("stocksense.web")
access_log = logging.getLogger("stocksense.web.access")

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'self'"
)

SECURITY_HEADERS = (
    ("Content-Security-Policy", CSP),
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "same-origin"),
    ("Cross-Origin-Opener-Policy", "same-origin"),
    ("Permissions-Policy", "camera=(), microphone=(), geolocation=()"),
)


def create_app(
    config: WebConfig | None = None,
    *,
    settings=None,
    engine=None,
    forecast_service=None,
    backend=None,
    start_time: float | None = None,
) -> Flask:
    """Build the app.

    ``config`` defaults to the environment (refuses to build without a secret key outside
    development mode); ``settings``/``engine``/``forecast_service`` default to the ML core's.
    """
    if config is None:
        config = load_web_config()
    if not config.secret_key:
        raise ConfigError("no secret key configured")

    app = Flask(__name__, static_folder="static", template_folder="templates")
    app.config.update(
        SECRET_KEY=config.secret_key,
        SESSION_COOKIE_NAME="stocksense_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SECURE=config.secure_cookies,
        SESSION_COOKIE_SAMESITE="Lax",
        PERMANENT_SESSION_LIFETIME=timedelta(hours=8),
        MAX_CONTENT_LENGTH=64 * 1024,
        JSON_SORT_KEYS=False,
        TESTING=config.env == "testing",
    )
    app.json.sort_keys = False
    app.json.compact = True
    app.extensions["stocksense.config"] = config
    app.extensions["stocksense.started"] = start_time or time.time()

    if config.trusted_proxies > 0:
        n = config.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n, x_port=0, x_prefix=0)

    if backend is None:
        backend = _build_backend(config, settings, engine, forecast_service)
    app.extensions["stocksense.backend"] = backend

    from .auth import LoginRateLimiter

    app.extensions["stocksense.login_limiter"] = LoginRateLimiter(
        config.login_max_attempts, config.login_window_seconds
    )
    from .jobs import JobManager

    def _job_done(job):
        backend.cache.clear()

    app.extensions["stocksense.jobs"] = JobManager(config.job_command, on_finish=_job_done)

    from . import admin, api, views
    from .csrf import csrf_token, protect

    for blueprint in api.blueprints:
        app.register_blueprint(blueprint)
    app.register_blueprint(views.bp)
    app.register_blueprint(admin.bp)
    app.before_request(protect)

    @app.context_processor
    def _inject():
        from .auth import is_admin

        return {"csrf_token": csrf_token, "is_admin": is_admin(), "cfg": config}

    @app.before_request
    def _start_timer():
        g.t0 = time.perf_counter()
        g.request_id = request.headers.get("X-Request-Id", "")[:64] or uuid.uuid4().hex[:16]

    @app.after_request
    def _headers(resp):
        h = resp.headers
        h.extend(SECURITY_HEADERS)  # no view sets these itself
        if request.is_secure:
            h.setdefault("Strict-Transport-Security", "max-age=31536000")
        if request.path.startswith(("/admin", "/login")):
            h["Cache-Control"] = "no-store"
        h["X-Request-Id"] = g.get("request_id", "")
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
        return resp

    def _wants_problem() -> bool:
        return request.path.startswith("/api/") or request.path in ("/health", "/version")

    @app.errorhandler(ApiProblem)
    def _api_problem(exc: ApiProblem):
        return exc.response()

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        if _wants_problem():
            resp = problem(
                exc.code or 500,
                exc.description
                if exc.code != 404
                else "no such resource; see /api/v1/openapi.json",
            )
            if exc.code == 405 and exc.valid_methods:
                resp.headers["Allow"] = ", ".join(exc.valid_methods)
            return resp
        return render_template(
            "error.html", code=exc.code, title=exc.name, detail=exc.description
        ), exc.code

    from sqlalchemy.exc import SQLAlchemyError

    @app.errorhandler(SQLAlchemyError)
    def _database_error(exc: SQLAlchemyError):
        log.warning("database error", extra={"exc_type": type(exc).__name__, "path": request.path})
        detail = "the database is not available right now; try again shortly"
        if _wants_problem():
            return problem(503, detail, type_="database-unavailable", headers={"Retry-After": "30"})
        return render_template(
            "error.html", code=503, title="Service unavailable", detail=detail.capitalize() + "."
        ), 503

    @app.errorhandler(Exception)
    def _unhandled(exc: Exception):
        if isinstance(exc, HTTPException):
            return _http_error(exc)
        ref = secrets.token_hex(6)
        log.error("unhandled error", exc_info=exc, extra={"ref": ref, "path": request.path})
        if _wants_problem():
            return problem(500, f"internal error (reference {ref})")
        return render_template(
            "error.html",
            code=500,
            title="Internal error",
            detail=f"Something went wrong on our side (reference {ref}).",
        ), 500

    return app


def _build_backend(config: WebConfig, settings, engine, service):
    from .backend import Backend

    if settings is None:
        from stocksense.config import load_settings

        settings = load_settings()
    if engine is None:
        from stocksense.data.db import get_engine, migrate

        engine = get_engine(settings)
        migrate(engine)
    if service is None:
        from stocksense.serving import ForecastService

        service = ForecastService(settings, engine)
    return Backend(
        settings,
        engine,
        service,
        cache_size=config.forecast_cache_size,
        recheck=config.forecast_recheck_seconds,
    )


__all__ = ["create_app", "load_web_config", "WebConfig", "ConfigError", "PROBLEM_JSON"]
