"""`GET /predict/{symbol}` on AWS Lambda behind an API Gateway REST API (proxy integration).

The same JSON as the web API's forecast (`GET /api/v1/symbols/{symbol}/forecast`) and the same
problem documents (400 malformed symbol, 404 unknown symbol, 503 no model yet), computed by the
serving layer's ForecastService, with two differences of source only:
- models come from the registry in STOCKSENSE_REGISTRY (s3://bucket/prefix), read through a local
  cache under /tmp (the only writable folder on Lambda);
- prices and the backtest's choice come from the prices object in STOCKSENSE_PRICES_OBJECT
  (s3://bucket/key.json or a file; written by the refresh job, stocksense.serving.prices), re-read
  when it changed, at most every STOCKSENSE_PRICES_POLL_SECONDS (default 300). No database.

A forecast carries a strong ETag (a hash of its bytes: If-None-Match answers 304) and
`Cache-Control: public, max-age=STOCKSENSE_PREDICT_MAX_AGE` (default 300 s, the prices poll), so
API Gateway's cache or CloudFront can serve repeats; problem documents are `no-store`.

Settings, the registry and the prices object are loaded once per container (cold start). The
handler never raises: anything unexpected is a 500 with a generic problem document, the details
in the log (CloudWatch).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from http import HTTPStatus
from typing import Any

from stocksense.config import load_settings
from stocksense.data.symbols import InvalidSymbol, validate_symbol
from stocksense.serving import ForecastService, ModelUnavailable, UnknownSymbol
from stocksense.serving.prices import ObjectPrices, open_object

log = logging.getLogger("stocksense.lambda")

ROUTE = "/predict/{symbol}"
LAMBDA_HOME = "/tmp/stocksense"  # STOCKSENSE_HOME unless set: the registry cache lives here
# The web API's problem documents (stocksense.web.problems; that module needs Flask, which the
# Lambda zip leaves out). tests/test_lambda_predict.py compares both byte for byte.
PROBLEM_TYPE_BASE = "https://stocksense.invalid/problems/"
BAD_SYMBOL_DETAIL = "malformed symbol: use 1-15 letters, digits or . - ^ ="
DEFAULT_MAX_AGE = 300  # seconds: the default prices poll, so a cached answer is never much older
MAX_AGE_LIMIT = 86400


# -- responses ------------------------------------------------------------------------------------
def _response(status: int, body: bytes | str, content_type: str,
              headers: Mapping[str, str] | None = None) -> dict[str, Any]:
    return {"statusCode": status,
            "headers": {"Content-Type": content_type, **(headers or {})},
            "body": body.decode() if isinstance(body, bytes) else body,
            "isBase64Encoded": False}


def problem(status: int, detail: str | None = None, *, type_: str | None = None,
            title: str | None = None, headers: Mapping[str, str] | None = None,
            **extensions: Any) -> dict[str, Any]:
    """An RFC 9457 problem response, the same document as the web API's."""
    body: dict[str, Any] = {"type": PROBLEM_TYPE_BASE + type_ if type_ else "about:blank",
                            "title": title or HTTPStatus(status).phrase, "status": status}
    if detail:
        body["detail"] = detail
    body.update(extensions)
    return _response(status, json.dumps(body, separators=(",", ":")),
                     "application/problem+json", {"Cache-Control": "no-store", **(headers or {})})


def _bad_symbol() -> dict[str, Any]:
    return problem(400, BAD_SYMBOL_DETAIL, type_="invalid-symbol", title="Invalid symbol",
                   parameter="symbol")


# -- the prices object, followed ------------------------------------------------------------------
class FollowedPrices:
    """The prices object as a PricesSource, re-read when its stamp (ETag, mtime) changed, at most
    every poll_seconds. A failed re-read keeps the previous prices (logged)."""

    def __init__(self, url: str, poll_seconds: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.store, self.key = open_object(url)
        self.uri = self.store.uri(self.key)
        self.poll_seconds = poll_seconds
        self.clock = clock
        self._lock = threading.Lock()
        self._stamp = self.store.stamp(self.key)
        self._current = self._read()  # cold start: no prices object is a configuration error
        self._checked = clock()

    def _read(self) -> ObjectPrices:
        raw = self.store.read_bytes(self.key)
        if raw is None:
            raise FileNotFoundError(f"no prices object at {self.uri}")
        return ObjectPrices.from_bytes(raw)

    def current(self) -> ObjectPrices:
        if self.clock() - self._checked < self.poll_seconds:
            return self._current
        with self._lock:
            self._checked = self.clock()
            try:
                stamp = self.store.stamp(self.key)
                if stamp is not None and stamp != self._stamp:
                    self._current, self._stamp = self._read(), stamp
            except Exception:  # the previous prices keep serving
                log.exception("re-reading the prices object %s failed", self.uri)
        return self._current

    def n_days(self, symbol: str) -> int:
        return self.current().n_days(symbol)

    def history(self, symbol: str, days: int) -> list[dict[str, Any]]:
        return self.current().history(symbol, days)

    def backtest_metrics(self, symbol: str) -> dict[str, Any] | None:
        return self.current().backtest_metrics(symbol)


# -- HTTP caching ---------------------------------------------------------------------------------
def etag_of(body: str) -> str:
    """A strong entity tag of the answer's bytes: equal bytes, equal tag, on every container."""
    return '"' + hashlib.blake2b(body.encode(), digest_size=12).hexdigest() + '"'


def _if_none_match(event: Mapping[str, Any]) -> list[str]:
    """The request's If-None-Match tags (API Gateway keeps the client's header-name case)."""
    headers = event.get("headers") or {}
    if not isinstance(headers, Mapping):
        return []
    value = next((v for k, v in headers.items() if str(k).lower() == "if-none-match"), None)
    if not isinstance(value, str):
        return []
    return [tag.strip().removeprefix("W/") for tag in value.split(",")]


def cache_seconds(environ: Mapping[str, str]) -> int:
    """STOCKSENSE_PREDICT_MAX_AGE: how long a forecast may be reused, 0-86400 s."""
    raw = environ.get("STOCKSENSE_PREDICT_MAX_AGE") or str(DEFAULT_MAX_AGE)
    if not raw.isdigit() or int(raw) > MAX_AGE_LIMIT:
        raise ValueError(
            f"STOCKSENSE_PREDICT_MAX_AGE must be 0-{MAX_AGE_LIMIT} seconds, not {raw!r}")
    return int(raw)


def _forecast_response(body: str, event: Mapping[str, Any], max_age: int) -> dict[str, Any]:
    tag = etag_of(body)
    headers = {"ETag": tag, "Cache-Control": f"public, max-age={max_age}"}
    matches = _if_none_match(event)
    if tag in matches or "*" in matches:
        return {"statusCode": 304, "headers": headers, "body": "", "isBase64Encoded": False}
    return _response(200, body, "application/json", headers)


# -- cold start -----------------------------------------------------------------------------------
def build_service(environ: Mapping[str, str] = os.environ) -> ForecastService:
    """The forecast service from the environment (once per container)."""
    env = {"STOCKSENSE_HOME": LAMBDA_HOME, **environ}
    url = env.get("STOCKSENSE_PRICES_OBJECT")
    if not url:
        raise ValueError("STOCKSENSE_PRICES_OBJECT is not set (s3://bucket/key.json or a file)")
    poll = float(env.get("STOCKSENSE_PRICES_POLL_SECONDS") or 300)
    settings = load_settings(env)
    return ForecastService(settings, None, prices=FollowedPrices(url, poll))


def _cold_start() -> tuple[ForecastService | None, int, str | None]:
    try:
        max_age = cache_seconds(os.environ)
        return build_service(), max_age, None
    except Exception as exc:  # answered as 500 on every call, logged once here
        log.exception("predict function cannot start")
        return None, 0, f"{type(exc).__name__}: {exc}"


# -- the handler ----------------------------------------------------------------------------------
def _symbol_param(event: Mapping[str, Any]) -> str | None:
    params = event.get("pathParameters") or {}
    value = params.get("symbol") if isinstance(params, Mapping) else None
    if value is None and str(event.get("path", "")).startswith("/predict/"):
        value = str(event["path"])[len("/predict/"):]
    return value if isinstance(value, str) else None


def _validated(raw: str | None) -> str | None:
    """The upper-cased symbol, or None when the web API would refuse it (its pattern has no
    surrounding spaces; stocksense.data.symbols strips them)."""
    if not raw or raw != raw.strip():
        return None
    try:
        return validate_symbol(raw)
    except InvalidSymbol:
        return None


def _is_predict(event: Mapping[str, Any]) -> bool:
    if event.get("resource") == ROUTE:
        return True
    path = str(event.get("path") or "")
    return path.startswith("/predict/") and "/" not in path[len("/predict/"):]


def predict(service: ForecastService, event: Mapping[str, Any],
            max_age: int = DEFAULT_MAX_AGE) -> dict[str, Any]:
    if not _is_predict(event):
        return problem(404, "no such resource; use GET /predict/{symbol}")
    if event.get("httpMethod") != "GET":
        return problem(405, f"{event.get('httpMethod')} is not allowed here; use GET",
                       headers={"Allow": "GET"})
    symbol = _validated(_symbol_param(event))
    if symbol is None:
        return _bad_symbol()
    try:
        answer = service.forecast(symbol)
    except UnknownSymbol:
        return problem(404, f"unknown symbol {symbol}", type_="unknown-symbol",
                       title="Unknown symbol")
    except ModelUnavailable as exc:
        return problem(503, str(exc) or f"no model available for {symbol}",
                       type_="model-unavailable", title="Not available",
                       headers={"Retry-After": "60"})
    body = json.dumps(answer, separators=(",", ":"), default=str)
    return _forecast_response(body, event, max_age)


def handle(service: ForecastService | None, startup_error: str | None,
           event: Any, max_age: int = DEFAULT_MAX_AGE) -> dict[str, Any]:
    """One invocation; never raises."""
    try:
        if service is None:
            log.error("predict function not started: %s", startup_error)
            return problem(500, "internal error")
        if not isinstance(event, Mapping):
            return problem(400, "not an API Gateway proxy event")
        return predict(service, event, max_age)
    except Exception:
        log.exception("predict failed for %r", _safe_path(event))
        return problem(500, "internal error")


def _safe_path(event: Any) -> str:
    return str(event.get("path"))[:200] if isinstance(event, Mapping) else type(event).__name__


SERVICE, MAX_AGE, STARTUP_ERROR = _cold_start()


def handler(event: Any, context: Any = None) -> dict[str, Any]:
    """The Lambda entry point: stocksense.lambda_predict.handler."""
    return handle(SERVICE, STARTUP_ERROR, event, MAX_AGE)
