"""Admin pages: login/logout, refresh data, retrain a symbol (background job), watch/unwatch."""

from __future__ import annotations

import logging

from flask import (
    Blueprint,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)

from .auth import check_credentials, is_admin, limiter, login_required, safe_next
from .backend import BadSymbol, NotFound
from .csrf import rotate
from .jobs import JobBusy

bp = Blueprint("admin", __name__, url_prefix="/admin")
log = logging.getLogger("stocksense.web.admin")


def _cfg():
    return current_app.extensions["stocksense.config"]


def _jobs():
    return current_app.extensions["stocksense.jobs"]


def _backend():
    return current_app.extensions["stocksense.backend"]


@bp.route("/login", methods=["GET", "POST"])
def login():
    nxt = request.values.get("next")
    if request.method == "GET":
        if is_admin():
            return redirect(safe_next(nxt))
        return render_template(
            "login.html", next=nxt or "", error=None, configured=bool(_cfg().admin_password_hash)
        )
    ip = request.remote_addr or "unknown"
    wait = limiter().retry_after(ip)
    if wait:
        log.warning("login rate-limited", extra={"remote": ip})
        resp = current_app.make_response(
            (
                render_template(
                    "login.html",
                    next=nxt or "",
                    configured=True,
                    error=f"Too many failed attempts. Try again in {wait} seconds.",
                ),
                429,
            )
        )
        resp.headers["Retry-After"] = str(wait)
        return resp
    username = request.form.get("username", "")[:200]
    password = request.form.get("password", "")[:1024]
    if check_credentials(_cfg(), username, password):
        limiter().succeeded(ip)
        session.clear()
        session["admin"] = True
        session.permanent = True
        rotate()
        log.info("admin login", extra={"remote": ip})
        return redirect(safe_next(nxt))
    limiter().failed(ip)
    log.warning("admin login failed", extra={"remote": ip})
    return render_template(
        "login.html",
        next=nxt or "",
        configured=bool(_cfg().admin_password_hash),
        error="Wrong user name or password.",
    ), 401


@bp.post("/logout")
def logout():
    session.clear()
    return redirect(url_for("views.overview"))


@bp.get("/")
@login_required
def index():
    jobs = _jobs()
    current = jobs.current()
    symbols = _backend().list_symbols()
    return render_template(
        "admin.html",
        job=current.to_dict() if current else None,
        recent=[j.to_dict() for j in jobs.recent()],
        symbols=symbols,
        watched=[s for s in symbols if s.get("watched")],
        training_available=jobs.training_available,
    )


@bp.get("/jobs/current")
@login_required
def job_current():
    current = _jobs().current()
    return jsonify({"job": current.to_dict() if current else None})


def _start(begin, ok_message: str):
    try:
        begin()
        flash(ok_message, "info")
    except JobBusy as exc:
        flash(f"Not started: {exc}. Wait for it to finish.", "error")
    return redirect(url_for("admin.index"))


@bp.post("/retrain")
@login_required
def retrain():
    if not _jobs().training_available:
        flash("Retraining is not available on this instance (no training installed).", "error")
        return redirect(url_for("admin.index"))
    try:
        sym = _backend().symbol(request.form.get("symbol", ""))["symbol"]
    except (BadSymbol, NotFound):
        flash("Choose a known symbol to retrain.", "error")
        return redirect(url_for("admin.index"))
    return _start(lambda: _jobs().start_retrain(sym), f"Retraining {sym} started.")


@bp.post("/refresh")
@login_required
def refresh():
    return _start(_jobs().start_refresh, "Data refresh started.")


@bp.post("/symbols")
@login_required
def add_symbol():
    try:
        sym = _backend().add_symbol(
            request.form.get("symbol", ""), name=request.form.get("name") or None
        )
    except BadSymbol:
        flash("That is not a valid ticker symbol (letters, digits, '.', '-' or '^').", "error")
        return redirect(url_for("admin.index"))
    flash(f"{sym} is now watched. Refresh data and retrain it to get forecasts.", "info")
    return redirect(url_for("admin.index"))


@bp.post("/symbols/<symbol>/unwatch")
@login_required
def unwatch_symbol(symbol: str):
    try:
        sym = _backend().unwatch_symbol(symbol)
    except (BadSymbol, NotFound):
        flash("Unknown symbol.", "error")
        return redirect(url_for("admin.index"))
    flash(f"{sym} is no longer watched.", "info")
    return redirect(url_for("admin.index"))
