"""Error handlers: problem documents for the API, HTML pages for people; never exception text."""

from __future__ import annotations

import logging
import secrets

from flask import Flask, render_template, request
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import HTTPException

from .problems import ApiProblem, problem

log = logging.getLogger("stocksense.web")
DB_DOWN = "the database is not available right now; try again shortly"


def _wants_problem() -> bool:
    return request.path.startswith("/api/") or request.path in ("/health", "/ready", "/version")


def _http_error(exc: HTTPException):
    if _wants_problem():
        detail = exc.description
        if exc.code == 404:
            detail = "no such resource; see /api/v1/openapi.json"
        resp = problem(exc.code or 500, detail)
        if exc.code == 405 and exc.valid_methods:
            resp.headers["Allow"] = ", ".join(exc.valid_methods)
        return resp
    page = render_template("error.html", code=exc.code, title=exc.name, detail=exc.description)
    headers = {"Allow": ", ".join(exc.valid_methods)} if getattr(exc, "valid_methods", None) else {}
    return page, exc.code, headers


def _database_error(exc: SQLAlchemyError):
    log.warning("database error", extra={"exc_type": type(exc).__name__, "path": request.path})
    if _wants_problem():
        return problem(503, DB_DOWN, type_="database-unavailable", headers={"Retry-After": "30"})
    page = render_template(
        "error.html", code=503, title="Service unavailable", detail=DB_DOWN.capitalize() + "."
    )
    return page, 503


def _unhandled(exc: Exception):
    if isinstance(exc, HTTPException):
        return _http_error(exc)
    ref = secrets.token_hex(6)
    log.error("unhandled error", exc_info=exc, extra={"ref": ref, "path": request.path})
    if _wants_problem():
        return problem(500, f"internal error (reference {ref})")
    detail = f"Something went wrong on our side (reference {ref})."
    return render_template("error.html", code=500, title="Internal error", detail=detail), 500


def register(app: Flask) -> None:
    app.register_error_handler(ApiProblem, lambda exc: exc.response())
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(SQLAlchemyError, _database_error)
    app.register_error_handler(Exception, _unhandled)
