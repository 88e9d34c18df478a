"""Server-rendered dashboard pages (readable without JavaScript; charts are an enhancement)."""

from __future__ import annotations

import json
import logging
from datetime import date

from flask import Blueprint, abort, current_app, render_template

from stocksense.layout import MODEL_NAMES

from .api import symbol_row
from .backend import Answer, BadSymbol, NotFound, Unavailable
from .caching import has_session_cookie, public_page

bp = Blueprint("views", __name__)
log = logging.getLogger("stocksense.web.views")

MODEL_ORDER = MODEL_NAMES


def backend():
    return current_app.extensions["stocksense.backend"]


def _forecast_or_reason(symbol: str) -> tuple[dict | None, str | None]:
    try:
        return backend().forecast(symbol), None
    except Unavailable as exc:
        return None, str(exc)
    except NotFound as exc:
        return None, str(exc)


def _model_names(forecasts) -> list[str]:
    names: list[str] = []
    for f in forecasts:
        for name in (f or {}).get("models", {}):
            if name not in names:
                names.append(name)
    known = [m for m in MODEL_ORDER if m in names]
    return known + sorted(n for n in names if n not in known) or list(MODEL_ORDER)


def _stale_info(rows: list[dict]) -> dict | None:
    stale = [r for r in rows if r["stale"]]
    if not stale:
        return None
    dates = [r["last_date"] for r in stale if r["last_date"]]
    return {
        "symbols": [r["symbol"] for r in stale],
        "oldest": min(dates) if dates else None,
        "limit_days": current_app.extensions["stocksense.config"].stale_after_days,
        "today": date.today().isoformat(),
    }


def _overview_token() -> tuple:
    """Everything the overview shows depends on: the watched rows, each forecast's version, the
    date (staleness)."""
    parts: list = [date.today().isoformat()]
    for s in backend().list_symbols(watched_only=True):
        try:
            version = backend().forecast_answer(s["symbol"]).etag
        except (NotFound, Unavailable) as exc:
            version = str(exc)
        row = (s["symbol"], s.get("name"), str(s.get("last_date")), s.get("n_days"))
        parts.append((*row, version))
    return tuple(parts)


def _render_overview() -> str:
    rows = [symbol_row(s) for s in backend().list_symbols(watched_only=True)]
    table = []
    for r in rows:
        fc, reason = _forecast_or_reason(r["symbol"])
        last_close = fc["last_close"] if fc else None
        if fc is None and r["n_days"]:
            last = backend().history(r["symbol"], 1)
            last_close = last[-1]["close"] if last else None
        table.append({"row": r, "forecast": fc, "reason": reason, "last_close": last_close})
    models = _model_names([t["forecast"] for t in table])
    return render_template("overview.html", table=table, models=models, stale=_stale_info(rows))


@bp.get("/")
def overview():
    if has_session_cookie():  # the admin's page differs (navigation, forms): never shared
        return _render_overview()
    # the same bytes for every visitor until an input changes (checked at most once a second)
    stale_days = current_app.extensions["stocksense.config"].stale_after_days
    entry = backend().cache.entry(
        f"page:overview:{stale_days}", _overview_token, lambda: _render_overview().encode()
    )
    return public_page(Answer(entry.payload, entry.etag))


@bp.get("/symbols/<symbol>")
def symbol_page(symbol: str):
    try:
        info = backend().symbol(symbol)
    except BadSymbol:
        abort(400, description="That is not a valid ticker symbol.")
    except NotFound:
        abort(404, description=f"No symbol {symbol.upper()!s} in the database.")
    sym = info["symbol"]
    row = symbol_row(info)
    history = backend().history(sym, 365)
    fc, fc_reason = _forecast_or_reason(sym)
    try:
        bt, bt_reason = backend().backtest(sym), None
    except Unavailable as exc:
        bt, bt_reason = None, str(exc)
    models = _model_names([fc] if fc else [])
    bt_series: list[str] = []
    if bt:
        keys = [k for k in (bt.get("points") or [{}])[0].keys() if k not in ("date", "actual")]
        bt_series = [k for k in ("ensemble", *models, "persistence", "drift") if k in keys] + [
            k for k in keys if k not in ("ensemble", *models, "persistence", "drift")
        ]
    chart_data = {
        "symbol": sym,
        "history": {"dates": [p["date"] for p in history], "close": [p["close"] for p in history]},
        "forecast": (
            {
                "date": "next",
                "ensemble": fc["ensemble"]["predicted_close"],
                "models": {k: v["predicted_close"] for k, v in fc["models"].items()},
            }
            if fc
            else None
        ),
        "backtest": (
            {
                "dates": [p["date"] for p in bt["points"]],
                "actual": [p["actual"] for p in bt["points"]],
                "series": {k: [p.get(k) for p in bt["points"]] for k in bt_series},
            }
            if bt
            else None
        ),
    }
    recent_bt = bt["points"][-10:] if bt else []
    return render_template(
        "symbol.html",
        row=row,
        info=info,
        forecast=fc,
        fc_reason=fc_reason,
        backtest=bt,
        bt_reason=bt_reason,
        models=models,
        bt_series=bt_series,
        recent_bt=recent_bt,
        recent_prices=history[-10:][::-1],
        chart_json=_script_json(chart_data),
        stale=_stale_info([row]),
    )


def _script_json(data) -> str:
    """JSON safe to embed in a <script type="application/json"> block."""
    return (
        json.dumps(data, separators=(",", ":"), default=str)
        .replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
    )


@bp.get("/models")
def models_page():
    models = sorted(
        backend().models(),
        key=lambda m: (
            m.get("symbol") or "",
            MODEL_ORDER.index(m["model_name"]) if m.get("model_name") in MODEL_ORDER else 99,
        ),
    )
    backtests: dict[str, dict] = {}
    for m in models:
        sym = m.get("symbol")
        if sym not in backtests:
            try:
                backtests[sym] = backend().backtest(sym).get("metrics") or {}
            except (BadSymbol, NotFound, Unavailable):
                backtests[sym] = {}
    rows = [
        {"m": m, "bt": backtests.get(m.get("symbol"), {}).get(m.get("model_name")) or {}}
        for m in models
    ]
    return render_template("models.html", rows=rows)


@bp.app_template_filter("pct")
def pct(value, digits: int = 2, signed: bool = True):
    if value is None:
        return "n/a"
    try:
        v = float(value) * 100
    except (TypeError, ValueError):
        return "n/a"
    return f"{v:+.{digits}f}%" if signed else f"{v:.{digits}f}%"


MODEL_LABELS = {
    "transformer": "Transformer",
    "lstm": "LSTM",
    "ensemble": "Ensemble",
    "persistence": "Persistence",
    "drift": "Drift",
}


@bp.app_template_filter("modelname")
def modelname(name) -> str:
    return MODEL_LABELS.get(str(name), str(name).capitalize())


@bp.app_template_filter("money")
def money(value):
    if value is None:
        return "n/a"
    try:
        return f"{float(value):,.2f}"
    except (TypeError, ValueError):
        return "n/a"


@bp.app_template_filter("num")
def num(value, digits: int = 3):
    if value is None:
        return "n/a"
    try:
        return f"{float(value):.{digits}f}"
    except (TypeError, ValueError):
        return str(value)


@bp.app_template_filter("skillclass")
def skillclass(value):
    """CSS class for a skill score; the text always carries the meaning too (not colour alone)."""
    if value is None:
        return "skill-na"
    try:
        v = float(value)
    except (TypeError, ValueError):
        return "skill-na"
    if v > 0.01:
        return "skill-good"
    if v < -0.01:
        return "skill-bad"
    return "skill-even"


@bp.app_template_filter("skilltext")
def skilltext(value):
    if value is None:
        return "no backtest"
    try:
        v = float(value)
    except (TypeError, ValueError):
        return "no backtest"
    if v > 0.01:
        return "beats persistence"
    if v < -0.01:
        return "worse than persistence"
    return "on par with persistence"
