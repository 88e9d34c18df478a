"""Benchmark-only variant of the forecast service that runs the Keras models in process (imports
TensorFlow), for comparison with the LiteRT production path.  Never imported by stocksense.web."""

from __future__ import annotations

import io
import tempfile
from pathlib import Path

import numpy as np

from stocksense.features.windows import Scaler
from stocksense.serving.service import ForecastService, _Loaded

KERAS_FILE_NAMES = ("model.keras", "keras_model.keras")


class _KerasModel:
    def __init__(self, model):
        self.model = model

    def predict(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(self.model(np.asarray(x, dtype=np.float32), training=False)).reshape(-1)


def _load_keras(data: bytes):
    import keras

    import stocksense.models.architectures  # noqa: F401 - registers the custom layers
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "model.keras"
        path.write_bytes(data)
        return keras.models.load_model(path, compile=False)


class KerasForecastService(ForecastService):
    """Same interface and outputs as ForecastService, but inference through Keras/TensorFlow."""

    def _get_model(self, symbol: str, model_name: str):
        stamp = self.registry.latest_stamp(symbol, model_name)
        key = (symbol, model_name)
        if stamp is None:
            return None
        cached = self._cache.get(key)
        if cached is not None and cached.stamp == stamp:
            return cached
        with self._lock:
            version = self.registry.latest_version(symbol, model_name)
            meta = self.registry.read_meta(symbol, model_name, version)
            extras = meta.get("extra_files") or {}
            name = next((n for n in KERAS_FILE_NAMES if n in extras),
                        next((n for n in extras if n.endswith(".keras")), None))
            if name is None:
                raise FileNotFoundError(f"{symbol}/{model_name}@{version}: no Keras file in the registry")
            model = _load_keras(self.registry.load_extra(symbol, model_name, version, name))
            loaded = _Loaded(stamp, meta, _KerasModel(model), Scaler.from_dict(meta["scaler"]))
            self._cache[key] = loaded
            return loaded


__all__ = ["KerasForecastService", "io"]
