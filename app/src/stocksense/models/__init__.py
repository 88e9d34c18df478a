"""Training-side code (needs the `train` extra: TensorFlow/Keras). Never imported by serving."""

MODEL_NAMES = ("transformer", "lstm")
