"""Keras model definitions: a small Transformer encoder and an LSTM.

Both map a (batch, window, features) tensor to quantiles of the scaled next-day
log return (one output per level in stocksense.features.bands.QUANTILES).
Both are built so that TFLite conversion yields builtin ops only, with a
dynamic batch dimension (see pipeline/export.py).
"""

from __future__ import annotations

import keras
from keras import layers

from stocksense.features.bands import QUANTILES

N_OUTPUTS = len(QUANTILES)


@keras.saving.register_keras_serializable(package="stocksense")
class PositionalEmbedding(layers.Layer):
    """Learned per-position vector added to each time step.

    A weight (not `ops.arange` inside the functional graph): an arange there is
    folded into a frozen constant tied to the traced batch, which breaks export.
    """

    def __init__(self, length: int, dim: int, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(**kwargs)
        self.length = length
        self.dim = dim

    def build(self, input_shape) -> None:  # type: ignore[no-untyped-def]
        self.position = self.add_weight(
            name="position", shape=(self.length, self.dim),
            initializer=keras.initializers.RandomNormal(stddev=0.02), trainable=True)

    def call(self, x):  # type: ignore[no-untyped-def]
        return x + self.position[None, :, :]

    def get_config(self) -> dict:
        return {**super().get_config(), "length": self.length, "dim": self.dim}


def build_transformer(window: int, n_features: int, d_model: int = 32, heads: int = 2,
                      ff_dim: int = 64, blocks: int = 1, dropout: float = 0.1,
                      outputs: int = N_OUTPUTS) -> keras.Model:
    inputs = keras.Input(shape=(window, n_features), name="window")
    x = layers.Dense(d_model, name="embed")(inputs)
    x = PositionalEmbedding(window, d_model, name="position")(x)
    for i in range(blocks):
        attn = layers.MultiHeadAttention(num_heads=heads, key_dim=d_model // heads,
                                         dropout=dropout, name=f"mha_{i}")(x, x)
        x = layers.LayerNormalization(epsilon=1e-6, name=f"ln_attn_{i}")(x + attn)
        ff = layers.Dense(ff_dim, activation="relu", name=f"ff1_{i}")(x)
        ff = layers.Dropout(dropout)(ff)
        ff = layers.Dense(d_model, name=f"ff2_{i}")(ff)
        x = layers.LayerNormalization(epsilon=1e-6, name=f"ln_ff_{i}")(x + ff)
    x = layers.GlobalAveragePooling1D(name="pool")(x)
    x = layers.Dropout(dropout)(x)
    head = layers.Dense(outputs, name="head")(x)
    return keras.Model(inputs, head, name="transformer")


def build_lstm(window: int, n_features: int, units: int = 32, dropout: float = 0.1,
               unroll: bool = False, outputs: int = N_OUTPUTS) -> keras.Model:
    """Trained rolled (smaller graph, less memory); exported as an unrolled twin.

    unroll=True makes the converter emit plain builtin ops with a dynamic
    batch. A rolled LSTM needs Flex ops (dynamic batch) or gives wrong results
    after resizing (fixed batch). Both variants share the same weights.
    """
    inputs = keras.Input(shape=(window, n_features), name="window")
    x = layers.LSTM(units, unroll=unroll, name="lstm")(inputs)
    x = layers.Dropout(dropout)(x)
    head = layers.Dense(outputs, name="head")(x)
    return keras.Model(inputs, head, name="lstm")


def inference_copy(model: keras.Model) -> keras.Model:
    """A fresh model with the trained weights and none of the training state.

    Dropping the fitted model (its traced train step, optimizer slots) before
    conversion lowers the peak memory of `stocksense train` by ~100 MB.
    """
    window, n_features = model.input_shape[1], model.input_shape[2]
    outputs = model.output_shape[-1]
    if model.name == "lstm":
        fresh = build_lstm(window, n_features, units=model.get_layer("lstm").units,
                           outputs=outputs)
    else:
        fresh = build_transformer(window, n_features, outputs=outputs)
    fresh.set_weights(model.get_weights())
    return fresh


def export_twin(model: keras.Model) -> keras.Model:
    """The model to convert: the unrolled twin for an LSTM, the model itself otherwise."""
    if model.name != "lstm":
        return model
    window, n_features = model.input_shape[1], model.input_shape[2]
    units = model.get_layer("lstm").units
    twin = build_lstm(window, n_features, units=units, unroll=True,
                      outputs=model.output_shape[-1])
    twin.set_weights(model.get_weights())
    return twin


BUILDERS = {"transformer": build_transformer, "lstm": build_lstm}
