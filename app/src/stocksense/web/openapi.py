"""The OpenAPI 3.1 document, generated with apispec from the marshmallow declarations that
validate the requests (`contract.py`): every served route with an `operation` appears, with its
parameters, its answer schema and each declared error."""

from __future__ import annotations

import json
import re

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin

from stocksense import __version__

from . import contract as c

PROBLEM = "application/problem+json"
_ARG = re.compile(r"<(?:[^:>]+:)?([^>]+)>")
COMMON_ERRORS = {405: "method not allowed (see Allow)"}


def _responses(op: c.Operation) -> dict:
    ok: dict = {
        "description": "OK",
        "content": {"application/json": {"schema": op.ok}},
    }
    responses = {"200": ok}
    if op.cacheable:
        ok["headers"] = {
            "ETag": {"schema": {"type": "string"}, "description": "strong entity tag"},
            "Cache-Control": {
                "schema": {"type": "string"},
                "description": "public, max-age ending at the next data refresh",
            },
        }
        responses["304"] = {"description": "not modified (If-None-Match matched)"}
    for status, text in {**op.errors, **COMMON_ERRORS}.items():
        responses[str(status)] = {"description": text, "content": {PROBLEM: {"schema": c.Problem}}}
    return responses


def _parameters(op: c.Operation) -> list:
    params = []
    if op.path is not None:
        params.append({"in": "path", "schema": op.path})
    if op.query is not None:
        params.append({"in": "query", "schema": op.query})
    if op.cacheable:
        params.append({"in": "header", "name": "If-None-Match", "schema": {"type": "string"}})
    return params


def build_spec(app) -> dict:
    spec = APISpec(
        title="StockSense API",
        version=__version__,
        openapi_version="3.1.0",
        plugins=[MarshmallowPlugin()],
        info={"description": "Next-day stock forecasts from LiteRT models; read-only."},
    )
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        op = getattr(app.view_functions.get(rule.endpoint), "operation", None)
        if op is None:
            continue
        method = next(m for m in ("GET", "POST") if m in rule.methods).lower()
        spec.path(
            path=_ARG.sub(r"{\1}", rule.rule),
            operations={
                method: {
                    "operationId": rule.endpoint.replace(".", "_"),
                    "summary": op.summary,
                    "tags": [op.tag],
                    "parameters": _parameters(op),
                    "responses": _responses(op),
                }
            },
        )
    return spec.to_dict()


def spec_json(app) -> bytes:
    """The serialized document, built once per app."""
    cached = app.extensions.get("stocksense.openapi")
    if cached is None:
        cached = json.dumps(build_spec(app), separators=(",", ":")).encode()
        app.extensions["stocksense.openapi"] = cached
    return cached
