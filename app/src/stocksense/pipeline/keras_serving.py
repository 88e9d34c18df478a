"""ForecastService running the Keras models in process (benchmarks only).

Imports TensorFlow: never imported by stocksense.serving or stocksense.web.
It exists so the benchmark can compare memory/latency with the LiteRT path.
"""

from __future__ import annotations

import os
import tempfile
from typing import Any

import numpy as np

from stocksense.registry import CorruptArtifact
from stocksense.serving.service import ForecastService


class _KerasPredictor:
    def __init__(self, model: Any) -> None:
        self.model = model

    def predict(self, x: np.ndarray) -> np.ndarray:
        from stocksense.models.training import predict_keras

        return predict_keras(self.model, np.asarray(x, dtype=np.float32))


class KerasForecastService(ForecastService):
    def _runtime(self, symbol: str, model_name: str, meta: dict[str, Any],
                 data: bytes) -> _KerasPredictor:
        from stocksense.models.training import configure_tensorflow

        configure_tensorflow()
        import keras

        import stocksense.models.architectures  # noqa: F401  (registers custom layers)

        raw = self.registry.load_extra(symbol, model_name, meta["version"], "model.keras")
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "model.keras")
            with open(path, "wb") as fh:
                fh.write(raw)
            try:
                model = keras.saving.load_model(path, compile=False)
            except Exception as exc:  # Keras raises many types for a bad file
                raise CorruptArtifact(f"{symbol}/{model_name}: Keras cannot load it: {exc}") \
                    from exc
        return _KerasPredictor(model)
