"""Train -> export (parity-gated) -> publish, for one symbol."""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.engine import Engine

from stocksense import __version__
from stocksense.config import Settings
from stocksense.data import queries
from stocksense.features.bands import QUANTILES
from stocksense.features.indicators import FEATURES
from stocksense.features.inference import NotEnoughHistory
from stocksense.models import MODEL_NAMES
from stocksense.models.dataset import build_training_set, min_days, prepare
from stocksense.models.training import (
    Progress,
    TrainConfig,
    configure_tensorflow,
    release_memory,
    train_model,
)
from stocksense.registry import open_registry
from stocksense.serving.errors import UnknownSymbol

log = logging.getLogger(__name__)


@dataclass
class TrainOptions:
    models: Sequence[str] = MODEL_NAMES
    days: int | None = None  # trading days of history; settings.train_days when None
    config: TrainConfig = field(default_factory=TrainConfig)


def load_rows(engine: Engine, symbol: str, days: int, window: int) -> list[dict[str, Any]]:
    info = queries.get_symbol(engine, symbol)
    if info is None or info["n_days"] == 0:
        raise UnknownSymbol(f"no prices stored for {symbol}; run `stocksense seed` or "
                            f"`stocksense ingest {symbol}` first")
    rows = queries.get_history(engine, symbol, days)
    if len(rows) < min_days(window):
        raise NotEnoughHistory(f"{symbol} has {len(rows)} trading days; a {window}-day window "
                               f"needs at least {min_days(window)}")
    return rows


def keras_bytes(model: Any) -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model.keras")
        model.save(path)
        with open(path, "rb") as fh:
            return fh.read()


def train_symbol(settings: Settings, engine: Engine, symbol: str, options: TrainOptions,
                 progress: Progress | None = None) -> list[dict[str, Any]]:
    """Train and publish each requested model; returns the published metadata."""
    configure_tensorflow()
    import keras

    from stocksense.models.architectures import inference_copy
    from stocksense.pipeline.export import export_checked

    window = settings.window
    rows = load_rows(engine, symbol, options.days or settings.train_days, window)
    series = prepare(rows)
    data = build_training_set(series, window, train_end=len(rows) - 2)
    registry = open_registry(settings.registry_url)
    published: list[dict[str, Any]] = []
    for name in options.models:
        result = train_model(name, data, window, options.config, progress)
        if progress:
            progress({"event": "export", "model": name})
        trained = result.model
        result.model = None
        keras.backend.clear_session()
        model = inference_copy(trained)
        del trained
        release_memory()
        # Validation windows were never used for gradient steps: parity is
        # checked on them, and nothing is published if LiteRT disagrees.
        tflite, diff = export_checked(model, data.x_val)
        meta = {
            "window": window,
            "features": list(FEATURES),
            "scaler": data.scaler.to_dict(),
            # One output per quantile level. Serving computes (features.bands):
            # returns = unscale(calibrated_quantiles(outputs, shrink, band_scale)).
            "quantiles": list(QUANTILES),
            "calibration": {"shrink": result.shrink, "band_scale": result.band_scale},
            "data_range": {"start": rows[0]["date"], "end": rows[-1]["date"],
                           "n_days": len(rows)},
            "metrics": {"val_loss": result.best_val_loss, "epochs": result.epochs_run,
                        "train_seconds": round(result.train_seconds, 2),
                        "parity_max_abs_diff": diff, "shrink": result.shrink,
                        "band_scale": result.band_scale,
                        "n_train": int(len(data.y_train)), "n_val": int(len(data.y_val))},
            "target": "quantiles of the next-day log return / EWMA volatility (scaled)",
            # Serving multiplies unscaled outputs by this unit (features.bands.ewma_sigma).
            "target_unit": "ewma_sigma",
            "seed": options.config.seed,
            "stocksense_version": __version__,
            "keras_version": keras.__version__,
        }
        full = registry.publish(symbol, name, tflite, meta,
                                extra_files={"model.keras": keras_bytes(model)})
        queries.record_model(
            engine, symbol=symbol, model_name=name, version=full["version"],
            created_at=full["created_at"], data_start=rows[0]["date"],
            data_end=rows[-1]["date"], content_hash=full["content_hash"],
            artifact_uri=full["artifact_uri"], metrics=full["metrics"])
        published.append(full)
        log.info("published %s/%s %s (val_loss %.4f, parity %.2g, shrink %.3f)", symbol, name,
                 full["version"], result.best_val_loss, diff, result.shrink)
        if progress:
            progress({"event": "published", "model": name, "version": full["version"],
                      "parity_max_abs_diff": diff, "val_loss": result.best_val_loss})
        del result, model
        keras.backend.clear_session()  # release graph memory before the next model
        release_memory()
    return published

