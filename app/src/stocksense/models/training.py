"""Seeded Keras training of quantile models: pinball loss, time-ordered validation,
early stopping, then calibration on the validation slice."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from stocksense.features.bands import (
    MEDIAN_INDEX,
    QUANTILES,
    calibrated_quantiles,
    fit_band_scale,
)
from stocksense.models.dataset import TrainingSet

Progress = Callable[[dict[str, Any]], None]


def configure_tensorflow(threads: int = 1) -> None:
    """Quiet logs and pin TF to few threads: the box is small and shared."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    # oneDNN's fused kernels raise peak memory and make runs less repeatable.
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    except RuntimeError:
        pass  # already initialised in this process; keep the first setting


@dataclass
class TrainConfig:
    epochs: int = 40
    batch_size: int = 64
    patience: int = 6
    learning_rate: float = 1e-3
    seed: int = 42


@dataclass
class TrainResult:
    model: Any  # keras.Model
    epochs_run: int
    best_val_loss: float
    train_seconds: float
    # Multiplier in [0, 1] applied to the scaled median (see calibrate_shrink).
    shrink: float = 1.0
    # Width factor per interval ("80", "90"), fitted on validation (see fit_band_scale).
    band_scale: dict[str, float] | None = None

    def calibrated(self, raw: np.ndarray) -> np.ndarray:
        """Raw scaled outputs (n, K) -> calibrated scaled quantiles (n, K)."""
        return calibrated_quantiles(raw, self.shrink, self.band_scale)


def calibrate_shrink(pred: np.ndarray, actual: np.ndarray) -> float:
    """Least-squares slope of actual on predicted (through the training mean), clipped to [0, 1].

    Daily returns are mostly noise; a network's raw output usually overstates
    its signal. Fitted on the time-ordered validation slice (data before the
    forecast period), this shrinks predictions toward the training-window
    mean return, all the way when validation shows no positive relation.
    """
    denom = float(np.dot(pred, pred))
    if denom <= 0 or not np.isfinite(denom):
        return 0.0
    return float(np.clip(np.dot(pred, actual) / denom, 0.0, 1.0))


def pinball_loss(y_true, y_pred):  # type: ignore[no-untyped-def]
    """Mean quantile (pinball) loss over the QUANTILES levels; y_true is (batch,) or (batch, 1)."""
    from keras import ops

    tau = ops.convert_to_tensor(np.asarray(QUANTILES, dtype=np.float32))[None, :]
    diff = ops.reshape(ops.cast(y_true, "float32"), (-1, 1)) - y_pred
    return ops.mean(ops.maximum(tau * diff, (tau - 1.0) * diff), axis=-1)


def train_model(name: str, data: TrainingSet, window: int, cfg: TrainConfig,
                progress: Progress | None = None) -> TrainResult:
    import keras

    from stocksense.models.architectures import BUILDERS

    keras.utils.set_random_seed(cfg.seed)
    model = BUILDERS[name](window, data.x_train.shape[-1])
    # Pinball loss: each output learns one quantile of the next-day return; its
    # median is the MAE-optimal point forecast. No XLA: compiling costs more
    # memory and start-up time than it saves here.
    model.compile(optimizer=keras.optimizers.Adam(cfg.learning_rate),
                  loss=pinball_loss, jit_compile=False)

    class _Report(keras.callbacks.Callback):
        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            if progress is not None:
                logs = logs or {}
                progress({"event": "epoch", "model": name, "epoch": epoch + 1, "of": cfg.epochs,
                          "loss": float(logs.get("loss", np.nan)),
                          "val_loss": float(logs.get("val_loss", np.nan))})

    stopper = keras.callbacks.EarlyStopping(monitor="val_loss", patience=cfg.patience,
                                            restore_best_weights=True)
    started = time.perf_counter()
    history = model.fit(
        data.x_train, data.y_train, validation_data=(data.x_val, data.y_val),
        epochs=cfg.epochs, batch_size=cfg.batch_size, shuffle=True, verbose=0,
        callbacks=[stopper, _Report()],
    )
    val = history.history.get("val_loss", [float("nan")])
    raw = np.sort(predict_keras(model, data.x_val), axis=1)
    shrink = calibrate_shrink(raw[:, MEDIAN_INDEX], data.y_val)
    scale = fit_band_scale(raw, data.y_val, shrink * raw[:, MEDIAN_INDEX])
    return TrainResult(model, len(val), float(np.nanmin(val)), time.perf_counter() - started,
                       shrink, scale)


def predict_keras(model: Any, x: np.ndarray) -> np.ndarray:
    """(n, outputs) raw model outputs. Direct call, not model.predict: no tf.data pipeline."""
    return np.asarray(model(x, training=False)).reshape(len(x), -1)


def release_memory() -> None:
    """Hand freed heap back to the OS between stages.

    Training leaves many freed blocks in glibc's arenas; the TFLite converter
    then allocates on top of them, and the peak RSS is what a 1 GB box feels.
    """
    import ctypes
    import gc

    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except OSError:
        pass  # not glibc: nothing to trim
