"""The web layer's view of the ML core: data queries, the LiteRT forecast service and a bounded
forecast cache.  Everything heavy (TensorFlow, pandas) stays out of this process."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

log = logging.getLogger("stocksense.web.backend")


class BadSymbol(ValueError):
    pass


class NotFound(LookupError):
    pass


class Unavailable(RuntimeError):
    pass


def _serving_errors():
    from stocksense.serving import errors

    return errors.UnknownSymbol, errors.ModelUnavailable


class ForecastCache:
    """Bounded LRU of serialized forecasts keyed by symbol, each entry tagged with the state token
    (model versions + data as-of) it was computed for.  The token is re-checked at most every
    ``recheck`` seconds per symbol, so a newly published model or new prices show up within that
    time
    without a restart."""

    def __init__(
        self, maxsize: int = 256, recheck: float = 1.0, clock: Callable[[], float] = time.monotonic
    ):
        self.maxsize = maxsize
        self.recheck = recheck
        self.clock = clock
        self._data: OrderedDict[str, tuple[Any, float, bytes]] = OrderedDict()
        self._lock = threading.Lock()
        self._compute_locks: dict[str, threading.Lock] = {}
        self.hits = 0
        self.misses = 0

    def get(self, symbol: str, token_fn: Callable[[], Any], compute: Callable[[], bytes]) -> bytes:
        now = self.clock()
        with self._lock:
            entry = self._data.get(symbol)
            if entry is not None and now - entry[1] < self.recheck:
                self._data.move_to_end(symbol)
                self.hits += 1
                return entry[2]
            lock = self._compute_locks.setdefault(symbol, threading.Lock())
        with lock:  # one recomputation per symbol at a time
            with self._lock:
                entry = self._data.get(symbol)
                if entry is not None and self.clock() - entry[1] < self.recheck:
                    self.hits += 1
                    return entry[2]
            token = token_fn()
            if entry is not None and entry[0] == token:
                with self._lock:
                    self._data[symbol] = (token, self.clock(), entry[2])
                    self._data.move_to_end(symbol)
                    self.hits += 1
                return entry[2]
            payload = compute()
            with self._lock:
                self.misses += 1
                self._data[symbol] = (token, self.clock(), payload)
                self._data.move_to_end(symbol)
                while len(self._data) > self.maxsize:
                    old, _ = self._data.popitem(last=False)
                    self._compute_locks.pop(old, None)
            return payload

    def clear(self) -> None:
        with self._lock:
            self._data.clear()

    def __len__(self) -> int:
        return len(self._data)


class Backend:
    def __init__(
        self,
        settings,
        engine,
        service,
        *,
        cache_size: int = 256,
        recheck: float = 1.0,
        cache_enabled: bool = True,
    ):
        self.settings = settings
        self.cache_enabled = cache_enabled
        self.engine = engine
        self.service = service
        self.cache = ForecastCache(cache_size, recheck)
        from stocksense.data import queries
        from stocksense.data.symbols import InvalidSymbol, validate_symbol

        self._q = queries
        self._validate = validate_symbol
        self._invalid = InvalidSymbol

    # -- symbols and data -------------------------------------------------------------------
    def validate(self, symbol: str) -> str:
        try:
            return self._validate(symbol)
        except (self._invalid, ValueError, TypeError) as exc:
            raise BadSymbol(str(exc) or "malformed symbol") from None

    def symbol(self, symbol: str) -> dict:
        sym = self.validate(symbol)
        info = self._q.get_symbol(self.engine, sym)
        if info is None:
            raise NotFound(f"unknown symbol {sym}")
        return info

    def list_symbols(self, watched_only: bool = False) -> list[dict]:
        return self._q.list_symbols(self.engine, watched_only=watched_only)

    def history(self, symbol: str, days: int) -> list[dict]:
        info = self.symbol(symbol)
        return self._q.get_history(self.engine, info["symbol"], days)

    def backtest(self, symbol: str) -> dict:
        info = self.symbol(symbol)
        bt = self._q.latest_backtest(self.engine, info["symbol"])
        if bt is None:
            raise Unavailable(
                f"no backtest has been run for {info['symbol']}; run `stocksense backtest "
                f"{info['symbol']}` or retrain it"
            )
        return bt

    def add_symbol(self, symbol: str, name: str | None = None) -> str:
        sym = self.validate(symbol)
        if self._q.get_symbol(self.engine, sym) is None:
            self._q.add_symbol(self.engine, sym, name=name)
        self._q.set_watched(self.engine, sym, True)
        self.cache.clear()
        return sym

    def unwatch_symbol(self, symbol: str) -> str:
        info = self.symbol(symbol)
        self._q.set_watched(self.engine, info["symbol"], False)
        self.cache.clear()
        return info["symbol"]

    # -- models and forecasts ---------------------------------------------------------------
    def models(self) -> list[dict]:
        return self.service.list_models()

    def _token(self, symbol: str):
        fn = getattr(self.service, "state_token", None)
        if fn is not None:
            return fn(symbol)
        info = self._q.get_symbol(self.engine, symbol) or {}
        data_state = (info.get("last_date"), info.get("n_days"))
        registry = getattr(self.service, "registry", None)
        if registry is not None and hasattr(registry, "latest_stamp"):
            try:
                names = tuple(registry.model_names(symbol))
            except (OSError, KeyError):
                names = ()
            return data_state, tuple((n, registry.latest_stamp(symbol, n)) for n in names)
        versions = tuple(
            sorted(
                (m.get("model_name"), str(m.get("version")))
                for m in self.service.list_models()
                if m.get("symbol") == symbol
            )
        )
        return data_state, versions

    def forecast_json(self, symbol: str) -> bytes:
        """Serialized forecast; raises BadSymbol, NotFound, Unavailable."""
        sym = self.validate(symbol)
        unknown, unavailable = _serving_errors()

        def compute() -> bytes:
            try:
                result = self.service.forecast(sym)
            except unknown as exc:
                raise NotFound(str(exc) or f"unknown symbol {sym}") from None
            except unavailable as exc:
                raise Unavailable(str(exc) or f"no model available for {sym}") from None
            return json.dumps(result, separators=(",", ":"), default=str).encode()

        try:
            if not self.cache_enabled:  # benchmark of raw inference only
                return compute()
            return self.cache.get(sym, lambda: self._token(sym), compute)
        except (NotFound, Unavailable) as exc:
            # unknown to the database: 404; known but without a usable model: 503
            if self._q.get_symbol(self.engine, sym) is None:
                raise NotFound(f"unknown symbol {sym}") from None
            if isinstance(exc, NotFound):
                raise Unavailable(f"no model has been published for {sym} yet") from None
            raise

    def forecast(self, symbol: str) -> dict:
        return json.loads(self.forecast_json(symbol))

    def _missing_models(self) -> list[str]:
        """Every model of every watched symbol must be published (and so loaded by the service)."""
        try:
            from stocksense.serving.service import MODEL_NAMES
        except ImportError:
            MODEL_NAMES = ("transformer", "lstm")
        have = {(m.get("symbol"), m.get("model_name")) for m in self.service.list_models()}
        missing = []
        for s in self.list_symbols(watched_only=True):
            names = [n for n in MODEL_NAMES if (s["symbol"], n) not in have]
            if names:
                missing.append(f"{s['symbol']}: no published {' or '.join(names)} model")
        return missing

    # -- health -----------------------------------------------------------------------------
    def db_ok(self) -> tuple[bool, str | None]:
        try:
            from sqlalchemy import text

            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1")).scalar_one()
            return True, None
        except Exception as exc:  # noqa: BLE001 - reported, not raised
            return False, f"database: {type(exc).__name__}"

    def health(self) -> dict:
        ok, reason = self.db_ok()
        reasons: list[str] = [] if ok else [reason or "database unavailable"]
        detail: dict = {}
        if ok:
            try:
                h = self.service.health()
                detail = {k: v for k, v in h.items() if k not in {"ok", "reasons"}}
                if not h.get("ok"):
                    reasons.extend(h.get("reasons") or ["models not loaded"])
                reasons.extend(self._missing_models())
            except Exception as exc:  # noqa: BLE001
                log.warning("health check failed", exc_info=True)
                reasons.append(f"forecast service: {type(exc).__name__}")
        return {"ok": not reasons, "database": ok, "reasons": reasons, **detail}
