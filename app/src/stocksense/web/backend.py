"""The web layer's view of the ML core: data queries, the LiteRT forecast service and a bounded
forecast cache.  Everything heavy (TensorFlow, pandas) stays out of this process."""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, NamedTuple

log = logging.getLogger("stocksense.web.backend")


class BadSymbol(ValueError):
    pass


class NotFound(LookupError):
    pass


class Unavailable(RuntimeError):
    pass


@functools.cache
def _serving_errors():
    from stocksense.serving import errors

    return errors.UnknownSymbol, errors.ModelUnavailable


def _etag(token: Any) -> str:
    """A strong entity tag derived from a state token (and this package's version)."""
    from stocksense import __version__

    digest = hashlib.blake2b(repr((__version__, token)).encode(), digest_size=12).hexdigest()
    return f'"{digest}"'


class Entry(NamedTuple):
    token: Any
    checked: float  # clock() when the token was last confirmed
    payload: bytes
    etag: str


class StateCache:
    """Bounded LRU of serialized answers keyed by a string, each tagged with the state token it
    was computed for (model versions + data as-of for forecasts).  The token is re-checked at most
    every ``recheck`` seconds per key, so a newly published model or new prices show up within that
    time without a restart.

    Memory is bounded: at most ``maxsize`` entries, and recomputations are serialized per key
    through a fixed set of striped locks (never one lock per key ever requested)."""

    STRIPES = 64

    def __init__(
        self,
        maxsize: int = 256,
        recheck: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        max_bytes: int = 16 * 1024 * 1024,
    ):
        self.maxsize = maxsize
        self.max_bytes = max_bytes
        self.recheck = recheck
        self.clock = clock
        self._bytes = 0
        self._data: OrderedDict[str, Entry] = OrderedDict()
        self._lock = threading.Lock()
        # Re-entrant: a page's token and compute read other entries of this cache (the overview
        # reads each forecast), and two keys can share a stripe; a plain Lock then deadlocks the
        # thread on itself. Only page keys nest, one level deep, so no lock-order cycle forms.
        self._stripes = tuple(threading.RLock() for _ in range(self.STRIPES))
        self.hits = 0
        self.misses = 0

    def _fresh(self, key: str) -> Entry | None:
        """The entry if its token was confirmed less than ``recheck`` seconds ago."""
        with self._lock:
            entry = self._data.get(key)
            if entry is not None and self.clock() - entry.checked < self.recheck:
                self._data.move_to_end(key)
                self.hits += 1
                return entry
        return None

    def entry(self, key: str, token_fn: Callable[[], Any], compute: Callable[[], bytes]) -> Entry:
        entry = self._fresh(key)
        if entry is not None:
            return entry
        with self._stripes[hash(key) % self.STRIPES]:  # one recomputation per key at a time
            entry = self._fresh(key)
            if entry is not None:
                return entry
            with self._lock:
                entry = self._data.get(key)
            token = token_fn()
            if entry is not None and entry.token == token:
                entry = entry._replace(checked=self.clock())
                counted = "hits"
            else:
                entry = Entry(token, self.clock(), compute(), _etag(token))
                counted = "misses"
            with self._lock:
                setattr(self, counted, getattr(self, counted) + 1)
                self._store(key, entry)
            return entry

    def _store(self, key: str, entry: Entry) -> None:
        """Insert under self._lock, evicting the least recently used beyond either bound."""
        old = self._data.pop(key, None)
        self._bytes -= len(old.payload) if old else 0
        self._data[key] = entry
        self._bytes += len(entry.payload)
        while len(self._data) > 1 and (
            len(self._data) > self.maxsize or self._bytes > self.max_bytes
        ):
            _, evicted = self._data.popitem(last=False)
            self._bytes -= len(evicted.payload)

    def get(self, key: str, token_fn: Callable[[], Any], compute: Callable[[], bytes]) -> bytes:
        return self.entry(key, token_fn, compute).payload

    def clear(self) -> None:
        with self._lock:
            self._data.clear()
            self._bytes = 0

    def __len__(self) -> int:
        return len(self._data)


ForecastCache = StateCache  # the name the tests and benchmarks know


class KnownSymbols:
    """The set of symbols in the database, re-read at most every ``recheck`` seconds, so requests
    for symbols that do not exist cost no query and leave nothing behind."""

    def __init__(self, load: Callable[[], set[str]], recheck: float = 1.0, clock=time.monotonic):
        self._load = load
        self.recheck = recheck
        self.clock = clock
        self._lock = threading.Lock()
        self._symbols: frozenset[str] = frozenset()
        self._loaded_at: float | None = None

    def __contains__(self, symbol: str) -> bool:
        now = self.clock()
        if self._loaded_at is None or now - self._loaded_at >= self.recheck:
            with self._lock:
                if self._loaded_at is None or now - self._loaded_at >= self.recheck:
                    self._symbols = frozenset(self._load())
                    self._loaded_at = self.clock()
        return symbol in self._symbols

    def invalidate(self) -> None:
        with self._lock:
            self._loaded_at = None


class Answer(NamedTuple):
    """A serialized read answer and its strong entity tag."""

    body: bytes
    etag: str


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
        self.cache = StateCache(cache_size, recheck)
        from stocksense.data import queries
        from stocksense.data.symbols import InvalidSymbol, validate_symbol

        self._q = queries
        self._validate = validate_symbol
        self._invalid = InvalidSymbol
        self.known = KnownSymbols(self._symbol_names, recheck)

    def _symbol_names(self) -> set[str]:
        return {s["symbol"] for s in self._q.list_symbols(self.engine)}

    def changed(self) -> None:
        """Data, watch list or models changed here: drop every cached answer."""
        self.cache.clear()
        self.known.invalidate()

    # -- symbols and data -------------------------------------------------------------------
    def validate(self, symbol: str) -> str:
        try:
            return self._validate(symbol)
        except (self._invalid, ValueError, TypeError) as exc:
            raise BadSymbol(str(exc) or "malformed symbol") from None

    def known_symbol(self, symbol: str) -> str:
        """The validated symbol if it is in the database (no query for unknown ones)."""
        sym = self.validate(symbol)
        if sym not in self.known:
            raise NotFound(f"unknown symbol {sym}")
        return sym

    def symbol(self, symbol: str) -> dict:
        sym = self.known_symbol(symbol)
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
        self.changed()
        return sym

    def unwatch_symbol(self, symbol: str) -> str:
        info = self.symbol(symbol)
        self._q.set_watched(self.engine, info["symbol"], False)
        self.changed()
        return info["symbol"]

    # -- cacheable reads: serialized bytes + strong ETag from the state token ----------------
    def _cached(self, key: str, sym: str, compute: Callable[[], Any]) -> Answer:
        def serialize() -> bytes:
            return json.dumps(compute(), separators=(",", ":"), default=str).encode()

        if not self.cache_enabled:  # benchmark of raw inference only
            token = self._token(sym)
            return Answer(serialize(), _etag(token))
        entry = self.cache.entry(key, lambda: self._token(sym), serialize)
        return Answer(entry.payload, entry.etag)

    def history_answer(self, symbol: str, days: int) -> Answer:
        sym = self.known_symbol(symbol)
        return self._cached(
            f"history:{sym}:{days}",
            sym,
            lambda: {"symbol": sym, "days": days, "prices": self.history(sym, days)},
        )

    def backtest_answer(self, symbol: str) -> Answer:
        sym = self.known_symbol(symbol)
        return self._cached(f"backtest:{sym}", sym, lambda: self.backtest(sym))

    # -- models and forecasts ---------------------------------------------------------------
    def models(self) -> list[dict]:
        return self.service.list_models()

    def _token(self, symbol: str):
        fn = getattr(self.service, "state_token", None)
        if fn is not None:
            return fn(symbol)
        info = self._q.get_symbol(self.engine, symbol) or {}
        data_state = (info.get("last_date"), info.get("n_days"))
        versions = tuple(
            sorted(
                (m.get("model_name"), str(m.get("version")))
                for m in self.service.list_models()
                if m.get("symbol") == symbol
            )
        )
        return data_state, versions, self._q.latest_backtest_id(self.engine, symbol)

    def forecast_answer(self, symbol: str) -> Answer:
        """Serialized forecast and its ETag; raises BadSymbol, NotFound, Unavailable."""
        sym = self.known_symbol(symbol)
        unknown, unavailable = _serving_errors()

        def compute() -> dict:
            try:
                return self.service.forecast(sym)
            except unknown as exc:
                # in the database but without prices (or gone since): no forecast yet
                raise Unavailable(str(exc) or f"no prices stored for {sym}") from None
            except unavailable as exc:
                raise Unavailable(str(exc) or f"no model available for {sym}") from None

        return self._cached(f"forecast:{sym}", sym, compute)

    def forecast_json(self, symbol: str) -> bytes:
        return self.forecast_answer(symbol).body

    def forecast(self, symbol: str) -> dict:
        return json.loads(self.forecast_json(symbol))

    # -- readiness --------------------------------------------------------------------------
    def model_coverage(self) -> dict[str, int]:
        """Watched symbol -> number of published models; stats the registry's `latest` pointers,
        reads no model metadata.  Raises when the database cannot be queried."""
        watched = [s["symbol"] for s in self.list_symbols(watched_only=True)]
        registry = getattr(self.service, "registry", None)
        if registry is not None and hasattr(registry, "latest_stamp"):
            from stocksense.layout import MODEL_NAMES
            return {
                sym: sum(registry.latest_stamp(sym, n) is not None for n in MODEL_NAMES)
                for sym in watched
            }
        have = [m.get("symbol") for m in self.service.list_models()]
        return {sym: have.count(sym) for sym in watched}

    def warm_up(self) -> list[str]:
        """Load every watched symbol's models now (not on the first request); the reasons why
        some could not be."""
        reasons = []
        for s in self.list_symbols(watched_only=True):
            try:
                self.forecast_answer(s["symbol"])
            except (NotFound, Unavailable) as exc:
                reasons.append(f"{s['symbol']}: {exc}")
        return reasons
