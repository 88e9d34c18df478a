"""Keras -> TFLite (builtin ops, dynamic batch) with a parity gate."""

from __future__ import annotations

from typing import Any

import numpy as np

PARITY_TOLERANCE = 1e-4


class ParityError(RuntimeError):
    """The converted model does not reproduce Keras; it must not be published."""


def to_tflite(model: Any, window: int, n_features: int) -> bytes:
    import tensorflow as tf
    from tensorflow.python.framework.convert_to_constants import (
        convert_variables_to_constants_v2,
    )

    @tf.function(input_signature=[tf.TensorSpec([None, window, n_features], tf.float32,
                                                 name="window")])
    def serve(x):  # type: ignore[no-untyped-def]
        return model(x, training=False)

    concrete = serve.get_concrete_function()
    # Keras 3 variables must be frozen to constants first; otherwise the
    # converter keeps READ_VARIABLE ops that return garbage at run time.
    frozen = convert_variables_to_constants_v2(concrete)
    converter = tf.lite.TFLiteConverter.from_concrete_functions([frozen])
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    return bytes(converter.convert())


def parity(model: Any, tflite_bytes: bytes, x: np.ndarray, chunk: int = 32) -> float:
    """Max |Keras - LiteRT| over the windows in x (scaled output units).

    Runs in chunks: a 360-window batch through both runtimes at once costs
    ~50 MB of peak memory in `stocksense train` for no extra assurance.
    """
    from stocksense.models.training import predict_keras
    from stocksense.serving.runtime import TFLiteModel

    lite = TFLiteModel(tflite_bytes)
    diff = 0.0
    for start in range(0, len(x), chunk):
        part = x[start:start + chunk]
        expected = predict_keras(model, part)
        diff = max(diff, float(np.max(np.abs(lite.predict(part) - expected))))
    # Batch of one too: serving runs batch 1 (exercises the dynamic batch dimension).
    for i in range(min(len(x), 8)):
        expected = predict_keras(model, x[i:i + 1])
        diff = max(diff, float(np.max(np.abs(lite.predict(x[i:i + 1]) - expected))))
    return diff


def export_checked(model: Any, x_holdout: np.ndarray,
                   tolerance: float = PARITY_TOLERANCE) -> tuple[bytes, float]:
    from stocksense.models.architectures import export_twin

    data = to_tflite(export_twin(model), x_holdout.shape[1], x_holdout.shape[2])
    # Compare against the model as trained, so the twin copy is checked too.
    diff = parity(model, data, x_holdout)
    if not np.isfinite(diff) or diff > tolerance:
        raise ParityError(f"LiteRT output differs from Keras by {diff:.3g} (> {tolerance:g})")
    return data, diff
