"""JSON API under /api/v1 plus /version.  Errors are RFC 9457 problem responses.

Each view declares its contract with `contract.operation`; the same declarations validate the
request and generate /api/v1/openapi.json."""

from __future__ import annotations

import platform
import time
from datetime import date

from flask import Blueprint, current_app, jsonify

from . import contract as c
from .backend import BadSymbol, NotFound, Unavailable
from .caching import cacheable
from .problems import ApiProblem

bp = Blueprint("api", __name__, url_prefix="/api/v1")
meta = Blueprint("meta", __name__)

DEFAULT_DAYS = c.DEFAULT_DAYS
BAD_SYMBOL = "malformed symbol"
UNKNOWN = "unknown symbol"
NOT_YET = "no model or backtest yet (Retry-After)"
SYMBOL_ERRORS = {400: BAD_SYMBOL, 404: UNKNOWN}


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
@c.operation(
    c.Operation(
        "Stored symbols",
        c.SymbolList,
        query=c.SymbolsQuery,
        errors={400: "invalid parameter", 503: "database unavailable"},
    )
)
def symbols(watched: str | None = None):
    rows = backend().list_symbols(watched_only=watched == "true")
    return jsonify({"symbols": [symbol_row(s) for s in rows]})


@bp.get("/symbols/<symbol>")
@c.operation(c.Operation("One symbol", c.Symbol, path=c.SymbolPath, errors=SYMBOL_ERRORS))
def symbol_detail(symbol: str):
    info = _guard(backend().symbol, symbol)
    return jsonify(symbol_row(info))


@bp.get("/symbols/<symbol>/history")
@c.operation(
    c.Operation(
        "Daily prices, oldest first",
        c.History,
        path=c.SymbolPath,
        query=c.HistoryQuery,
        errors={400: "malformed symbol or days", 404: UNKNOWN},
        cacheable=True,
    )
)
def history(symbol: str, days: int):
    return cacheable(_guard(backend().history_answer, symbol, days))


@bp.get("/symbols/<symbol>/forecast")
@c.operation(
    c.Operation(
        "Next trading day's close: each model and the ensemble",
        c.Forecast,
        path=c.SymbolPath,
        errors={**SYMBOL_ERRORS, 503: NOT_YET},
        cacheable=True,
    )
)
def forecast(symbol: str):
    return cacheable(_guard(backend().forecast_answer, symbol))


@bp.get("/symbols/<symbol>/backtest")
@c.operation(
    c.Operation(
        "Latest walk-forward backtest",
        c.Backtest,
        path=c.SymbolPath,
        errors={**SYMBOL_ERRORS, 503: NOT_YET},
        cacheable=True,
    )
)
def backtest(symbol: str):
    return cacheable(_guard(backend().backtest_answer, symbol))


@bp.get("/models")
@c.operation(
    c.Operation(
        "Published models (latest version of each)",
        c.ModelList,
        query=c.ModelsQuery,
        errors={400: "malformed symbol"},
    )
)
def models(symbol: str | None = None):
    rows = backend().models()
    if symbol:
        sym = _guard(backend().validate, symbol)
        rows = [m for m in rows if m.get("symbol") == sym]
    return jsonify({"models": rows})


@bp.get("/openapi.json")
def openapi():
    from .openapi import spec_json

    return current_app.response_class(spec_json(current_app), mimetype="application/json")


@meta.get("/version")
@c.operation(c.Operation("Name, version, commit and uptime", c.Version, tag="meta"))
def version():
    from stocksense import __version__ as pkg_version  # noqa: PLC0415

    conf = cfg()
    started = current_app.extensions["stocksense.started"]
    return jsonify(
        {
            "name": "stocksense",
            "version": pkg_version,
            "api": "v1",
            "commit": conf.extra.get("STOCKSENSE_GIT_SHA"),
            "environment": conf.env,
            "python": platform.python_version(),
            "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
            "uptime_seconds": round(time.time() - started, 1),
            "inference": "litert",
        }
    )


blueprints = (bp, meta)
