"""JSON API under /api/v1 plus /health and /version.  Errors are RFC 9457 problem responses."""

from __future__ import annotations

import platform
import time
from datetime import date

from flask import Blueprint, Response, current_app, jsonify, request

from .backend import BadSymbol, NotFound, Unavailable
from .problems import ApiProblem, problem

bp = Blueprint("api", __name__, url_prefix="/api/v1")
meta = Blueprint("meta", __name__)

DEFAULT_DAYS = 365


def backend():
    return current_app.extensions["stocksense.backend"]


def cfg():
    return current_app.extensions["stocksense.config"]


def _guard(fn, *args):
    """Map backend exceptions to problem responses."""
    try:
        return fn(*args)
    except BadSymbol as exc:
        raise ApiProblem(
            400, f"malformed symbol: {exc}", type_="invalid-symbol", title="Invalid symbol"
        ) from None
    except NotFound as exc:
        raise ApiProblem(404, str(exc), type_="unknown-symbol", title="Unknown symbol") from None
    except Unavailable as exc:
        raise ApiProblem(
            503,
            str(exc),
            type_="model-unavailable",
            title="Not available",
            headers={"Retry-After": "60"},
        ) from None


def _days() -> int:
    raw = request.args.get("days")
    if raw is None or raw == "":
        return DEFAULT_DAYS
    hi = cfg().max_history_days
    try:
        days = int(raw)
    except ValueError:
        raise ApiProblem(
            400,
            f"days must be an integer between 1 and {hi}",
            type_="invalid-parameter",
            title="Invalid parameter",
            parameter="days",
        ) from None
    if not 1 <= days <= hi:
        raise ApiProblem(
            400,
            f"days must be between 1 and {hi}, got {days}",
            type_="invalid-parameter",
            title="Invalid parameter",
            parameter="days",
        )
    return days


def _stale(last_date: str | None) -> bool:
    if not last_date:
        return True
    try:
        return (
            date.today() - date.fromisoformat(str(last_date)[:10])
        ).days > cfg().stale_after_days
    except ValueError:
        return True


def symbol_row(s: dict) -> dict:
    return {
        "symbol": s["symbol"],
        "name": s.get("name"),
        "watched": bool(s.get("watched")),
        "first_date": _d(s.get("first_date")),
        "last_date": _d(s.get("last_date")),
        "n_days": s.get("n_days"),
        "stale": _stale(s.get("last_date")),
    }


def _d(v):
    return None if v is None else str(v)[:10]


@bp.get("/symbols")
def symbols():
    watched = request.args.get("watched")
    if watched not in (None, "", "true", "false"):
        raise ApiProblem(
            400,
            "watched must be true or false",
            type_="invalid-parameter",
            title="Invalid parameter",
            parameter="watched",
        )
    rows = backend().list_symbols(watched_only=watched == "true")
    return jsonify({"symbols": [symbol_row(s) for s in rows]})


@bp.get("/symbols/<symbol>")
def symbol_detail(symbol: str):
    info = _guard(backend().symbol, symbol)
    return jsonify(symbol_row(info))


@bp.get("/symbols/<symbol>/history")
def history(symbol: str):
    days = _days()
    prices = _guard(backend().history, symbol, days)
    sym = backend().validate(symbol)
    return jsonify({"symbol": sym, "days": days, "prices": prices})


@bp.get("/symbols/<symbol>/forecast")
def forecast(symbol: str):
    body = _guard(backend().forecast_json, symbol)
    return Response(body, mimetype="application/json")


@bp.get("/symbols/<symbol>/backtest")
def backtest(symbol: str):
    return jsonify(_guard(backend().backtest, symbol))


@bp.get("/models")
def models():
    sym = request.args.get("symbol")
    rows = backend().models()
    if sym:
        sym = _guard(backend().validate, sym)
        rows = [m for m in rows if m.get("symbol") == sym]
    return jsonify({"models": rows})


@bp.get("/openapi.json")
def openapi():
    from .openapi import build_spec

    return jsonify(build_spec(current_app))


@meta.get("/health")
def health():
    h = backend().health()
    if h["ok"]:
        return jsonify({"status": "ok", **h})
    return problem(
        503,
        "; ".join(h["reasons"]),
        title="Service unavailable",
        type_="unhealthy",
        **{k: v for k, v in h.items() if k != "ok"},
    )


@meta.get("/version")
def version():
    from stocksense import __version__ as pkg_version  # noqa: PLC0415

    c = cfg()
    started = current_app.extensions["stocksense.started"]
    return jsonify(
        {
            "name": "stocksense",
            "version": pkg_version,
            "api": "v1",
            "commit": c.extra.get("STOCKSENSE_GIT_SHA"),
            "environment": c.env,
            "python": platform.python_version(),
            "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
            "uptime_seconds": round(time.time() - started, 1),
            "inference": "litert",
        }
    )


blueprints = (bp, meta)
