"""Keras models, LiteRT export parity gate and training on real prices (tiny)."""

import numpy as np
import pytest

from stocksense.data.bundled import load_bundled
from stocksense.models.dataset import build_training_set, prepare


@pytest.fixture(scope="module")
def data():
    rows = [r.as_dict() for r in load_bundled("NVDA")][-330:]
    return build_training_set(prepare(rows), window=20, train_end=len(rows) - 2)


@pytest.mark.parametrize("name", ["transformer", "lstm"])
def test_train_export_parity(data, name: str) -> None:
    from stocksense.models.training import TrainConfig, configure_tensorflow, train_model
    from stocksense.pipeline.export import export_checked

    configure_tensorflow()
    events: list[dict] = []
    result = train_model(name, data, 20, TrainConfig(epochs=2, seed=7), events.append)
    assert [e["epoch"] for e in events] == list(range(1, result.epochs_run + 1))
    assert np.isfinite(result.best_val_loss)
    tflite, diff = export_checked(result.model, data.x_val)
    assert diff <= 1e-4 and tflite[4:8] == b"TFL3"
    # LiteRT carries every quantile output; calibrated quantiles never cross.
    from stocksense.features.bands import QUANTILES
    from stocksense.serving.runtime import TFLiteModel

    raw = TFLiteModel(tflite).predict(data.x_val)
    assert raw.shape == (len(data.x_val), len(QUANTILES))
    served = result.calibrated(raw)
    assert np.all(np.diff(served, axis=1) >= 0)
    assert 0.0 <= result.shrink <= 1.0 and set(result.band_scale) == {"80", "90"}


def test_parity_gate_refuses_mismatch(data) -> None:
    from stocksense.models.architectures import build_transformer
    from stocksense.models.training import configure_tensorflow
    from stocksense.pipeline.export import ParityError, export_checked, parity, to_tflite

    configure_tensorflow()
    model = build_transformer(20, data.x_val.shape[-1])
    exported = to_tflite(model, 20, data.x_val.shape[-1])
    assert parity(model, exported, data.x_val) <= 1e-4
    # Changing the Keras weights after export must show up as a parity failure.
    model.set_weights([w * 1.5 for w in model.get_weights()])
    assert parity(model, exported, data.x_val) > 1e-4
    with pytest.raises(ParityError):
        export_checked(model, data.x_val, tolerance=-1.0)


def test_training_is_seeded(data) -> None:
    from stocksense.models.training import (
        TrainConfig,
        configure_tensorflow,
        predict_keras,
        train_model,
    )

    configure_tensorflow()
    a = train_model("lstm", data, 20, TrainConfig(epochs=1, seed=3))
    b = train_model("lstm", data, 20, TrainConfig(epochs=1, seed=3))
    np.testing.assert_allclose(predict_keras(a.model, data.x_val),
                               predict_keras(b.model, data.x_val), atol=1e-6)
