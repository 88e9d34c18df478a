"""StockSense web layer: Flask app factory, JSON API, dashboard and admin.

Import-light by design: no TensorFlow, Keras or pandas ever enters this process; forecasts come from
the LiteRT models through `stocksense.serving`.
"""

from __future__ import annotations

import time
from datetime import timedelta

from flask import Flask
from flask.sessions import SecureCookieSessionInterface
from werkzeug.middleware.proxy_fix import ProxyFix

from . import metrics
from .config import ConfigError, WebConfig, load_web_config  # noqa: F401 - re-exported
from .hooks import CSP, SECURITY_HEADERS  # noqa: F401 - re-exported
from .problems import PROBLEM_JSON


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
    config = _checked(config)
    app = _flask(config, start_time)
    _trust_proxies(app, config)
    backend = backend or _build_backend(config, settings, engine, forecast_service)
    _attach_services(app, config, backend)
    _register_routes(app, config)
    metrics.init_app(app)  # EMF app metrics to the CloudWatch agent (web/metrics.py)
    return app


def _checked(config: WebConfig | None) -> WebConfig:
    config = config or load_web_config()
    if not config.secret_key:
        raise ConfigError("no secret key configured")
    return config


def _flask(config: WebConfig, start_time: float | None) -> Flask:
    app = Flask(__name__, static_folder="static", template_folder="templates")
    app.config.update(
        SECRET_KEY=config.secret_key,
        SESSION_COOKIE_NAME="stocksense_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SECURE=config.secure_cookies,
        SESSION_COOKIE_SAMESITE="Lax",
        PERMANENT_SESSION_LIFETIME=timedelta(hours=8),
        MAX_CONTENT_LENGTH=64 * 1024,
        TESTING=config.env == "testing",
    )
    app.json.sort_keys = False
    app.json.compact = True
    app.session_interface = _SessionInterface()
    app.extensions["stocksense.config"] = config
    app.extensions["stocksense.started"] = start_time or time.time()
    return app


class _SessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, with the signing serializer built once per app instead of
    on every request (the profile showed it on every API call, cookie or not)."""

    def get_signing_serializer(self, app: Flask):
        serializer = app.extensions.get("stocksense.session_serializer")
        if serializer is None:
            serializer = super().get_signing_serializer(app)
            app.extensions["stocksense.session_serializer"] = serializer
        return serializer


def _trust_proxies(app: Flask, config: WebConfig) -> None:
    if config.trusted_proxies > 0:
        n = config.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n, x_port=0, x_prefix=0)


def _attach_services(app: Flask, config: WebConfig, backend) -> None:
    from .auth import LoginRateLimiter
    from .health import Readiness
    from .runners import build_runner

    app.extensions["stocksense.backend"] = backend
    app.extensions["stocksense.readiness"] = Readiness(backend, config.ready_cache_seconds)
    app.extensions["stocksense.login_limiter"] = LoginRateLimiter(
        config.login_max_attempts, config.login_window_seconds
    )
    # a finished job may have new prices or models: drop every cached answer
    app.extensions["stocksense.jobs"] = build_runner(
        config, on_finish=lambda job: backend.changed()
    )


def _register_routes(app: Flask, config: WebConfig) -> None:
    from . import admin, api, errors, health, hooks, views
    from .auth import is_admin
    from .csrf import csrf_token, protect

    for blueprint in (*api.blueprints, health.bp, views.bp, admin.bp):
        app.register_blueprint(blueprint)
    app.before_request(protect)
    hooks.register(app, config)
    errors.register(app)
    app.context_processor(
        lambda: {"csrf_token": csrf_token, "is_admin": is_admin(), "cfg": config}
    )


def _build_backend(config: WebConfig, settings, engine, service):
    from .backend import Backend

    if settings is None:
        from stocksense.config import load_settings

        settings = load_settings()
    if engine is None:
        from stocksense.data.db import get_engine, migrate

        engine = get_engine(settings)
        _migrate_or_report(migrate, engine)
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


def _migrate_or_report(migrate, engine) -> None:
    """A database that is down at start must not crash-loop the service: liveness answers and
    /ready says "the database is not reachable" until it is back (`stocksense data sync` creates
    the schema at deploy). One log line, the driver's first line: never the URL or password."""
    import logging

    from sqlalchemy.exc import OperationalError

    try:
        migrate(engine)
    except OperationalError as exc:
        reason = str(exc.orig or exc).strip().splitlines()[0]
        logging.getLogger("stocksense.web").error("database not reachable at start: %s", reason)


__all__ = ["create_app", "load_web_config", "WebConfig", "ConfigError", "PROBLEM_JSON"]
