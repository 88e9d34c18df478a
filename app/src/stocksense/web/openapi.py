"""The OpenAPI 3.1 document for /api/v1 (hand-written; tests check it against the live routes and
validate real responses against its schemas)."""

from __future__ import annotations

from stocksense import __version__

_NUM = {"type": "number"}
_NUM_OR_NULL = {"type": ["number", "null"]}
_DATE = {"type": "string", "format": "date"}


def _problem_ref():
    return {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}


def _resp(desc: str, ref: str | None = None) -> dict:
    if ref is None:
        return {"description": desc, "content": _problem_ref()}
    return {
        "description": desc,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ref}"}}},
    }


SYMBOL_PARAM = {
    "name": "symbol",
    "in": "path",
    "required": True,
    "description": "Ticker symbol, case-insensitive: 1-15 letters, digits or . - ^ = "
    "(not starting with . - =).",
    "schema": {"type": "string", "minLength": 1},
}


def build_spec(app=None) -> dict:
    max_days = 3650
    if app is not None:
        max_days = app.extensions["stocksense.config"].max_history_days
    schemas = {
        "Problem": {
            "type": "object",
            "required": ["type", "title", "status"],
            "properties": {
                "type": {"type": "string"},
                "title": {"type": "string"},
                "status": {"type": "integer"},
                "detail": {"type": "string"},
                "parameter": {"type": "string"},
            },
        },
        "Symbol": {
            "type": "object",
            "required": ["symbol", "watched", "last_date", "stale"],
            "properties": {
                "symbol": {"type": "string"},
                "name": {"type": ["string", "null"]},
                "watched": {"type": "boolean"},
                "first_date": {"type": ["string", "null"], "format": "date"},
                "last_date": {"type": ["string", "null"], "format": "date"},
                "n_days": {"type": ["integer", "null"]},
                "stale": {
                    "type": "boolean",
                    "description": "last price older than the staleness limit",
                },
            },
        },
        "SymbolList": {
            "type": "object",
            "required": ["symbols"],
            "properties": {
                "symbols": {"type": "array", "items": {"$ref": "#/components/schemas/Symbol"}}
            },
        },
        "Price": {
            "type": "object",
            "required": ["date", "close"],
            "properties": {
                "date": _DATE,
                "open": _NUM_OR_NULL,
                "high": _NUM_OR_NULL,
                "low": _NUM_OR_NULL,
                "close": _NUM,
                "adj_close": _NUM_OR_NULL,
                "volume": _NUM_OR_NULL,
            },
        },
        "History": {
            "type": "object",
            "required": ["symbol", "days", "prices"],
            "properties": {
                "symbol": {"type": "string"},
                "days": {"type": "integer"},
                "prices": {"type": "array", "items": {"$ref": "#/components/schemas/Price"}},
            },
        },
        "ModelForecast": {
            "type": "object",
            "required": ["predicted_return", "predicted_close", "model_version", "data_as_of"],
            "properties": {
                "predicted_return": _NUM,
                "predicted_close": _NUM,
                "model_version": {"type": ["string", "integer", "null"]},
                "data_as_of": _DATE,
                "skill_vs_persistence": {
                    **_NUM_OR_NULL,
                    "description": "backtest skill: 1 - MAE(model)/MAE(persistence)",
                },
            },
        },
        "Forecast": {
            "type": "object",
            "required": ["symbol", "as_of", "last_close", "models", "ensemble"],
            "properties": {
                "symbol": {"type": "string"},
                "as_of": _DATE,
                "last_close": _NUM,
                "models": {
                    "type": "object",
                    "additionalProperties": {"$ref": "#/components/schemas/ModelForecast"},
                },
                "ensemble": {
                    "type": "object",
                    "required": ["predicted_return", "predicted_close", "method"],
                    "properties": {
                        "predicted_return": _NUM,
                        "predicted_close": _NUM,
                        "method": {"type": "string", "enum": ["mean", "persistence-fallback"]},
                        "model_version": {"type": ["string", "integer", "null"]},
                        "data_as_of": _DATE,
                        "skill_vs_persistence": _NUM_OR_NULL,
                    },
                },
            },
        },
        "Metrics": {
            "type": "object",
            "properties": {
                "mae": _NUM_OR_NULL,
                "rmse": _NUM_OR_NULL,
                "directional_accuracy": _NUM_OR_NULL,
                "skill_vs_persistence": _NUM_OR_NULL,
                "skill_vs_drift": _NUM_OR_NULL,
                "n": {"type": ["integer", "null"]},
            },
        },
        "Backtest": {
            "type": "object",
            "required": ["symbol", "metrics", "points"],
            "properties": {
                "symbol": {"type": "string"},
                "created_at": {"type": ["string", "null"]},
                "refit_every": {"type": ["integer", "null"]},
                "metrics": {
                    "type": "object",
                    "additionalProperties": {"$ref": "#/components/schemas/Metrics"},
                },
                "points": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["date", "actual"],
                        "properties": {"date": _DATE, "actual": _NUM},
                        "additionalProperties": _NUM_OR_NULL,
                    },
                },
            },
        },
        "Model": {
            "type": "object",
            "required": ["symbol", "model_name", "version"],
            "properties": {
                "symbol": {"type": "string"},
                "model_name": {"type": "string"},
                "version": {"type": ["string", "integer"]},
                "created_at": {"type": ["string", "null"]},
                "metrics": {"type": ["object", "null"]},
                "content_hash": {"type": ["string", "null"]},
                "data_range": {},
            },
        },
        "ModelList": {
            "type": "object",
            "required": ["models"],
            "properties": {
                "models": {"type": "array", "items": {"$ref": "#/components/schemas/Model"}}
            },
        },
    }
    bad_symbol = _resp("Malformed symbol (problem+json)")
    unknown = _resp("Unknown symbol (problem+json)")
    paths = {
        "/api/v1/symbols": {
            "get": {
                "operationId": "listSymbols",
                "summary": "Symbols in the database",
                "parameters": [
                    {
                        "name": "watched",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "string", "enum": ["true", "false"]},
                        "description": "only watched symbols when true",
                    }
                ],
                "responses": {"200": _resp("Symbols", "SymbolList"), "400": _resp("Bad parameter")},
            }
        },
        "/api/v1/symbols/{symbol}": {
            "get": {
                "operationId": "getSymbol",
                "summary": "One symbol",
                "parameters": [SYMBOL_PARAM],
                "responses": {"200": _resp("Symbol", "Symbol"), "400": bad_symbol, "404": unknown},
            }
        },
        "/api/v1/symbols/{symbol}/history": {
            "get": {
                "operationId": "getHistory",
                "summary": "Daily prices, ascending, last N trading days",
                "parameters": [
                    SYMBOL_PARAM,
                    {
                        "name": "days",
                        "in": "query",
                        "required": False,
                        "schema": {
                            "type": "integer",
                            "minimum": 1,
                            "maximum": max_days,
                            "default": 365,
                        },
                    },
                ],
                "responses": {
                    "200": _resp("Price history", "History"),
                    "400": _resp("Malformed symbol or days"),
                    "404": unknown,
                },
            }
        },
        "/api/v1/symbols/{symbol}/forecast": {
            "get": {
                "operationId": "getForecast",
                "summary": "Next-day forecast per model and the ensemble, with model version, "
                "data as-of date and "
                "backtest skill",
                "parameters": [SYMBOL_PARAM],
                "responses": {
                    "200": _resp("Forecast", "Forecast"),
                    "400": bad_symbol,
                    "404": unknown,
                    "503": _resp("No model published for the symbol (problem+json)"),
                },
            }
        },
        "/api/v1/symbols/{symbol}/backtest": {
            "get": {
                "operationId": "getBacktest",
                "summary": "Latest walk-forward backtest: metrics and points",
                "parameters": [SYMBOL_PARAM],
                "responses": {
                    "200": _resp("Backtest", "Backtest"),
                    "400": bad_symbol,
                    "404": unknown,
                    "503": _resp("No backtest yet (problem+json)"),
                },
            }
        },
        "/api/v1/models": {
            "get": {
                "operationId": "listModels",
                "summary": "Published models (latest version per symbol and model)",
                "parameters": [
                    {
                        "name": "symbol",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "string"},
                    }
                ],
                "responses": {"200": _resp("Models", "ModelList"), "400": bad_symbol},
            }
        },
        "/api/v1/openapi.json": {
            "get": {
                "operationId": "getOpenApi",
                "summary": "This document",
                "responses": {
                    "200": {
                        "description": "OpenAPI document",
                        "content": {"application/json": {"schema": {"type": "object"}}},
                    }
                },
            }
        },
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "StockSense API",
            "version": __version__,
            "description": "Read-only API of StockSense forecasts. "
            "Errors are RFC 9457 problem details.",
        },
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {"schemas": schemas},
    }
