"""ForecastService: next-day forecasts from published LiteRT models.

Picks up a newly published version without restart: each call stats the
registry's `latest` pointer and reloads only when it changed. An s3:// registry is read
through a local cache (stocksense.registry.cache) whose pointers follow S3's at most once
per poll interval, so a forecast never waits on S3.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from sqlalchemy.engine import Engine

from stocksense.config import Settings
from stocksense.data import queries
from stocksense.data.symbols import InvalidSymbol, validate_symbol
from stocksense.features.bands import MEDIAN_INDEX, calibrated_quantiles
from stocksense.features.indicators import SERVING_LOOKBACK
from stocksense.features.inference import NotEnoughHistory, latest_sigma, latest_window
from stocksense.features.windows import Scaler
from stocksense.layout import MODEL_NAMES
from stocksense.registry import CorruptArtifact, open_registry
from stocksense.serving.errors import ModelUnavailable, UnknownSymbol
from stocksense.serving.prices import DbPrices, PricesSource
from stocksense.serving.runtime import TFLiteModel
from stocksense.serving.served import baseline_bands, model_entry, price_quantiles, served_entry


class Predictor(Protocol):
    def predict(self, x: np.ndarray) -> np.ndarray: ...


@dataclass
class _Loaded:
    stamp: object
    meta: dict[str, Any]
    model: Predictor
    scaler: Scaler
    shrink: float = 1.0
    band_scale: dict[str, float] | None = None

    def returns(self, raw: np.ndarray, sigma: float) -> tuple[float, np.ndarray | None]:
        """(median log return, return quantiles or None for a legacy one-output model).

        `sigma` is today's EWMA volatility: the unit of models whose meta says
        target_unit "ewma_sigma" (older models predict the return itself).
        """
        raw = np.asarray(raw, dtype=np.float64).reshape(1, -1)
        unit = sigma if self.meta.get("target_unit") == "ewma_sigma" else 1.0
        if not self.meta.get("quantiles") or raw.shape[1] == 1:
            return float(self.scaler.unscale_target(self.shrink * raw[:, 0])[0]) * unit, None
        q = self.scaler.unscale_target(calibrated_quantiles(raw, self.shrink,
                                                            self.band_scale))[0] * unit
        return float(q[MEDIAN_INDEX]), q


class ForecastService:
    def __init__(self, settings: Settings, engine: Engine | None,
                 prices: PricesSource | None = None) -> None:
        """Prices come from `prices` when given (the Lambda's prices object), else the database."""
        if engine is None and prices is None:
            raise ValueError("ForecastService needs a database engine or a prices source")
        self.settings = settings
        self.engine = engine
        self.prices: PricesSource = prices if prices is not None else DbPrices(engine)
        self.registry = open_registry(settings.registry_url,
                                      cache_dir=settings.registry_cache or
                                      settings.home / "registry-cache",
                                      poll_seconds=settings.registry_poll_seconds)
        self._cache: dict[tuple[str, str], _Loaded] = {}
        self._lock = threading.Lock()

    # -- model loading -------------------------------------------------
    def _get_model(self, symbol: str, model_name: str) -> _Loaded | None:
        stamp = self.registry.latest_stamp(symbol, model_name)
        key = (symbol, model_name)
        if stamp is None:
            self._cache.pop(key, None)
            return None
        cached = self._cache.get(key)
        if cached is not None and cached.stamp == stamp:
            return cached
        with self._lock:
            cached = self._cache.get(key)
            if cached is not None and cached.stamp == stamp:
                return cached
            meta, data = self.registry.load(symbol, model_name)
            model = self._runtime(symbol, model_name, meta, data)
            calibration = meta.get("calibration") or {}
            loaded = _Loaded(stamp, meta, model, Scaler.from_dict(meta["scaler"]),
                             float(calibration.get("shrink", 1.0)),
                             calibration.get("band_scale"))
            self._cache[key] = loaded
            return loaded

    def _runtime(self, symbol: str, model_name: str, meta: dict[str, Any],
                 data: bytes) -> Predictor:
        try:
            return TFLiteModel(data)
        except (ValueError, RuntimeError) as exc:
            raise CorruptArtifact(f"{symbol}/{model_name}: LiteRT cannot load it: {exc}") from exc

    def _refusals(self, symbol: str | None = None) -> list[str]:
        """Why an s3:// registry's cache holds nothing for a model (the fetch refused or failed)."""
        refused = getattr(self.registry, "refused", {})
        return [why for (sym, _name), why in sorted(refused.items())
                if symbol is None or sym == symbol]

    # -- public API ------------------------------------------------------
    def forecast(self, symbol: str, record: bool = False) -> dict[str, Any]:
        try:
            symbol = validate_symbol(symbol)
        except InvalidSymbol as exc:
            raise UnknownSymbol(str(exc)) from exc
        if self.prices.n_days(symbol) == 0:
            raise UnknownSymbol(f"no prices stored for {symbol}")
        bt_metrics = self.prices.backtest_metrics(symbol) or {}

        loaded: dict[str, _Loaded] = {}
        problems: list[str] = []
        for name in MODEL_NAMES:
            try:
                item = self._get_model(symbol, name)
            except (CorruptArtifact, FileNotFoundError, KeyError) as exc:
                problems.append(str(exc))
                continue
            if item is not None:
                loaded[name] = item
        if not loaded:
            problems += self._refusals(symbol)
            detail = "; ".join(problems) or f"no trained model for {symbol}"
            raise ModelUnavailable(detail)

        window = max(int(item.meta["window"]) for item in loaded.values())
        rows = self.prices.history(symbol, window + SERVING_LOOKBACK)
        last_close = float(rows[-1]["close"])
        as_of = str(rows[-1]["date"])

        sigma = latest_sigma(rows)
        models: dict[str, Any] = {}
        quantiles: dict[str, np.ndarray] = {}
        for name, item in loaded.items():
            try:
                x = latest_window(rows, int(item.meta["window"]), item.scaler,
                                  item.meta["features"])
            except NotEnoughHistory as exc:
                raise ModelUnavailable(f"{symbol}: {exc}") from exc
            ret, q = item.returns(item.model.predict(x), sigma)
            if q is not None:
                quantiles[name] = q
            models[name] = {
                "predicted_return": ret,
                "predicted_close": last_close * math.exp(ret),
                "model_version": item.meta["version"],
                "data_as_of": item.meta.get("data_range", {}).get("end"),
                "skill_vs_persistence": (bt_metrics.get(name) or {}).get("skill_vs_persistence"),
                **model_entry(q, ret, last_close),
            }

        close = np.array([float(r["close"]) for r in rows])
        selection = ((bt_metrics.get("served") or {}).get("selection")) or {}
        baselines = baseline_bands(close, selection)
        # The ensemble combines quantiles only when every model has them.
        combinable = quantiles if len(quantiles) == len(models) else {}
        ensemble = served_entry(models, combinable, baselines, bt_metrics, last_close)
        result = {"symbol": symbol, "as_of": as_of, "last_close": last_close,
                  "models": models, "ensemble": ensemble,
                  "baselines": {name: {"quantiles": price_quantiles(last_close, q)}
                                for name, q in baselines.items()}}
        if record:
            if self.engine is None:
                raise ValueError("recording a forecast needs the database")
            queries.record_forecasts(self.engine, symbol=symbol, as_of=as_of,
                                     entries={**models, "ensemble": ensemble})
        return result

    def state_token(self, symbol: str) -> tuple[object, ...]:
        """Changes when the symbol's data, a published model or its backtest changes.

        No inference and no model loading: one small query, one backtest-id query
        and a stat of each `latest` pointer. The web layer caches forecasts by it.
        """
        try:
            symbol = validate_symbol(symbol)
        except InvalidSymbol as exc:
            raise UnknownSymbol(str(exc)) from exc
        info = queries.get_symbol(self.engine, symbol)
        last_date = info["last_date"] if info else None
        n_days = info["n_days"] if info else 0
        stamps = tuple(self.registry.latest_stamp(symbol, name) for name in MODEL_NAMES)
        return (symbol, last_date, n_days, stamps, queries.latest_backtest_id(self.engine, symbol))

    def list_models(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for symbol in self.registry.symbols():
            for name in self.registry.model_names(symbol):
                try:
                    version = self.registry.latest_version(symbol, name)
                    if version is None:
                        continue
                    meta = self.registry.read_meta(symbol, name, version)
                except CorruptArtifact:
                    continue
                out.append({
                    "symbol": symbol, "model_name": name, "version": version,
                    "created_at": meta.get("created_at"), "metrics": meta.get("metrics", {}),
                    "content_hash": meta.get("content_hash"),
                    "data_range": meta.get("data_range", {}),
                })
        return out

    def health(self) -> dict[str, Any]:
        reasons: list[str] = []
        symbols: list[str] = []
        try:
            symbols = [s["symbol"] for s in queries.list_symbols(self.engine)]
        except Exception as exc:  # any DB failure makes the service unhealthy
            reasons.append(f"database: {type(exc).__name__}: {exc}")
        loaded = 0
        try:
            for symbol in self.registry.symbols():
                for name in self.registry.model_names(symbol):
                    try:
                        if self._get_model(symbol, name) is not None:
                            loaded += 1
                    except (CorruptArtifact, FileNotFoundError, KeyError) as exc:
                        reasons.append(str(exc))
        except OSError as exc:
            reasons.append(f"registry: {exc}")
        if loaded == 0:
            reasons += ["no models loaded", *self._refusals()]
        return {"ok": not reasons, "reasons": reasons, "models_loaded": loaded,
                "symbols": symbols}
