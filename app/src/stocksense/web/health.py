"""Liveness (/health) and readiness (/ready).

* ``/health`` says the process serves requests: constant bytes, no database, no registry, no I/O.
* ``/ready`` says this instance can serve forecasts: the database answers and every watched symbol
  has at least one published model.  Partial coverage is ``200`` with ``"status": "degraded"`` and
  the reasons; ``503`` only when the database is unreachable or no watched symbol has any model.
  The answer is computed at most once per ``ready_cache_seconds``; public answers name causes,
  never exception text (that goes to the log).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable

from flask import Blueprint, Response, current_app

from . import contract as c
from .problems import PROBLEM_JSON

log = logging.getLogger("stocksense.web.health")
bp = Blueprint("health", __name__)

LIVE_BODY = b'{"status":"ok"}'
NO_STORE = "no-store"


class Readiness:
    """Cached readiness verdict: (status code, serialized body)."""

    def __init__(self, backend, ttl: float = 1.0, clock: Callable[[], float] = time.monotonic):
        self.backend = backend
        self.ttl = ttl
        self.clock = clock
        self._lock = threading.Lock()
        self._answer: tuple[float, int, bytes] | None = None
        # A database that stays down is logged once (with the details), not on every check.
        self._database_down = False

    def answer(self) -> tuple[int, bytes]:
        with self._lock:
            now = self.clock()
            if self._answer is None or now - self._answer[0] >= self.ttl:
                status, body = self._evaluate()
                self._answer = (now, status, json.dumps(body, separators=(",", ":")).encode())
            return self._answer[1], self._answer[2]

    def _evaluate(self) -> tuple[int, dict]:
        try:
            coverage = self.backend.model_coverage()
        except Exception:  # noqa: BLE001 - reported without detail, logged with it
            if not self._database_down:
                log.warning("readiness: database check failed; not ready until it answers",
                            exc_info=True)
            self._database_down = True
            return 503, _unready("the database is not reachable", database=False)
        if self._database_down:
            log.info("readiness: the database answers again")
            self._database_down = False
        watched = len(coverage)
        without = sorted(sym for sym, n in coverage.items() if n == 0)
        if watched and len(without) == watched:
            return 503, _unready("no watched symbol has a published model", database=True)
        reasons = [f"{sym}: no published model" for sym in without]
        if not watched:
            reasons.append("no symbol is watched")
        return 200, {
            "status": "degraded" if reasons else "ok",
            "database": True,
            "watched": watched,
            "with_model": watched - len(without),
            "reasons": reasons,
        }


def _unready(detail: str, *, database: bool) -> dict:
    return {
        "type": "https://stocksense.invalid/problems/not-ready",
        "title": "Service unavailable",
        "status": 503,
        "detail": detail,
        "database": database,
        "reasons": [detail],
    }


@bp.get("/health")
@c.operation(c.Operation("Liveness: the process serves requests", c.Live, tag="meta"))
def health():
    return Response(LIVE_BODY, mimetype="application/json", headers={"Cache-Control": NO_STORE})


@bp.get("/ready")
@c.operation(
    c.Operation(
        "Readiness: database reachable and a model for every watched symbol",
        c.Ready,
        errors={503: "no database, or no watched symbol has a model"},
        tag="meta",
    )
)
def ready():
    status, body = current_app.extensions["stocksense.readiness"].answer()
    mimetype = "application/json" if status == 200 else PROBLEM_JSON
    headers = {"Cache-Control": NO_STORE}
    if status == 503:
        headers["Retry-After"] = "5"
    return Response(body, status=status, mimetype=mimetype, headers=headers)
