"""The API's declarations: marshmallow schemas that validate each operation's path and query
parameters, and describe its answers.  `openapi.py` turns the same declarations into the OpenAPI
document, so the contract cannot drift from what the server accepts."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

from flask import request
from marshmallow import EXCLUDE, INCLUDE, Schema, ValidationError, fields, validate

from .problems import ApiProblem

# Yahoo-style tickers, case-insensitive (the server upper-cases): see stocksense.data.symbols.
SYMBOL_PATTERN = r"^[A-Za-z0-9^][A-Za-z0-9.=^-]{0,14}$"
MAX_HISTORY_DAYS = 3650
DEFAULT_DAYS = 365


def _symbol(description: str = "Ticker symbol, case-insensitive (e.g. MSFT, BRK-B, ^GSPC).", **kw):
    return fields.String(
        validate=validate.Regexp(SYMBOL_PATTERN, error="use 1-15 letters, digits or . - ^ ="),
        metadata={"description": description},
        **kw,
    )


# -- requests ---------------------------------------------------------------------------------
class SymbolPath(Schema):
    symbol = _symbol(required=True)


class SymbolsQuery(Schema):
    class Meta:
        unknown = EXCLUDE

    watched = fields.String(
        validate=validate.OneOf(["true", "false"]),
        metadata={"description": "true: only watched symbols; false or absent: all symbols."},
    )


class HistoryQuery(Schema):
    class Meta:
        unknown = EXCLUDE

    days = fields.Integer(
        load_default=DEFAULT_DAYS,
        validate=validate.Range(1, MAX_HISTORY_DAYS),
        metadata={"description": "Trading days up to the latest one.", "default": DEFAULT_DAYS},
    )


class ModelsQuery(Schema):
    class Meta:
        unknown = EXCLUDE

    symbol = _symbol("Only this symbol's models.")


# -- answers ----------------------------------------------------------------------------------
class Answer(Schema):
    """Answers may gain fields (e.g. forecast quantiles) without breaking clients."""

    class Meta:
        unknown = INCLUDE


_date = functools.partial(fields.Date, allow_none=True)
_num = functools.partial(fields.Float, allow_none=True)


class Problem(Answer):
    type = fields.String(required=True)
    title = fields.String(required=True)
    status = fields.Integer(required=True)
    detail = fields.String()
    parameter = fields.String()


class Symbol(Answer):
    symbol = fields.String(required=True)
    name = fields.String(allow_none=True)
    watched = fields.Boolean(required=True)
    first_date = _date()
    last_date = _date(required=True)
    n_days = fields.Integer(allow_none=True)
    stale = fields.Boolean(required=True)


class SymbolList(Answer):
    symbols = fields.List(fields.Nested(Symbol), required=True)


class Price(Answer):
    date = fields.Date(required=True)
    open = _num()
    high = _num()
    low = _num()
    close = fields.Float(required=True)
    adj_close = _num()
    volume = _num()


class History(Answer):
    symbol = fields.String(required=True)
    days = fields.Integer(required=True)
    prices = fields.List(fields.Nested(Price), required=True)


class ModelForecast(Answer):
    predicted_return = fields.Float(required=True)
    predicted_close = fields.Float(required=True)
    model_version = fields.String(required=True)
    data_as_of = fields.String(allow_none=True)
    skill_vs_persistence = _num()


class EnsembleForecast(ModelForecast):
    method = fields.String()


class Forecast(Answer):
    symbol = fields.String(required=True)
    as_of = fields.String(required=True)
    last_close = fields.Float(required=True)
    models = fields.Dict(
        keys=fields.String(), values=fields.Nested(ModelForecast), required=True
    )
    ensemble = fields.Nested(EnsembleForecast, required=True)


class Backtest(Answer):
    symbol = fields.String(required=True)
    metrics = fields.Dict(required=True)
    points = fields.List(fields.Dict(), required=True)


class Model(Answer):
    symbol = fields.String(required=True)
    model_name = fields.String(required=True)
    version = fields.String(required=True)
    created_at = fields.String(allow_none=True)
    metrics = fields.Dict()
    content_hash = fields.String(allow_none=True)
    data_range = fields.Dict()


class ModelList(Answer):
    models = fields.List(fields.Nested(Model), required=True)


class Live(Answer):
    status = fields.String(required=True, validate=validate.OneOf(["ok"]))


class Ready(Answer):
    status = fields.String(required=True, validate=validate.OneOf(["ok", "degraded"]))
    database = fields.Boolean(required=True)
    watched = fields.Integer(required=True)
    with_model = fields.Integer(required=True)
    reasons = fields.List(fields.String(), required=True)


class Version(Answer):
    name = fields.String(required=True)
    version = fields.String(required=True)
    api = fields.String(required=True)
    commit = fields.String(allow_none=True)
    environment = fields.String(required=True)
    python = fields.String(required=True)
    started_at = fields.String(required=True)
    uptime_seconds = fields.Float(required=True)
    inference = fields.String(required=True)


# -- operations -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Operation:
    """One declared operation: what it accepts and what it may answer."""

    summary: str
    ok: type[Schema]
    path: type[Schema] | None = None
    query: type[Schema] | None = None
    errors: dict[int, str] = field(default_factory=dict)
    cacheable: bool = False  # answers carry ETag + Cache-Control until the next data refresh
    tag: str = "api"


def _first_error(exc: ValidationError) -> tuple[str, str]:
    name, messages = next(iter(exc.normalized_messages().items()))
    if isinstance(messages, dict):  # nested: not used by flat parameter schemas
        messages = list(messages.values())
    return name, "; ".join(str(m) for m in messages)


def _load(schema: Schema, data, where: str) -> dict:
    try:
        return schema.load(data)
    except ValidationError as exc:
        name, message = _first_error(exc)
        if name == "symbol" and where == "path":
            raise ApiProblem(
                400,
                f"malformed symbol: {message}",
                type_="invalid-symbol",
                title="Invalid symbol",
                parameter=name,
            ) from None
        raise ApiProblem(
            400,
            f"{name}: {message}",
            type_="invalid-parameter",
            title="Invalid parameter",
            parameter=name,
        ) from None


def _fast_path_check(schema: Schema | None):
    """For path schemas made only of required strings with one Regexp each (the symbol), a check
    using those very patterns: the hot read paths skip marshmallow's machinery when the values
    match, and fall back to the full load (and its error) when they do not."""
    if schema is None:
        return None
    patterns = {}
    for name, fld in schema.fields.items():
        regexps = [v for v in fld.validators if isinstance(v, validate.Regexp)]
        if type(fld) is not fields.String or len(fld.validators) != 1 or not regexps:
            return None
        patterns[name] = regexps[0].regex.match

    def check(values: dict) -> bool:
        return values.keys() == patterns.keys() and all(
            isinstance(values[k], str) and match(values[k]) for k, match in patterns.items()
        )

    return check


def operation(op: Operation):
    """Declare a view's contract; the view receives validated path and query values."""
    path_schema = op.path() if op.path else None
    query_schema = op.query() if op.query else None
    fast_path_ok = _fast_path_check(path_schema)

    def deco(view):
        @functools.wraps(view)
        def wrapper(**kwargs):
            if path_schema is not None and not (fast_path_ok and fast_path_ok(kwargs)):
                kwargs = _load(path_schema, kwargs, "path")
            if query_schema is not None:
                kwargs.update(_load(query_schema, request.args.to_dict(), "query"))
            return view(**kwargs)

        wrapper.operation = op
        return wrapper

    return deco
