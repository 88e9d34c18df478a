"""Training-side code (needs the `train` extra: TensorFlow/Keras). Never imported by serving."""

from stocksense.layout import MODEL_NAMES

__all__ = ["MODEL_NAMES"]
