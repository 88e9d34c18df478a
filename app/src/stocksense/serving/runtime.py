"""A thin, thread-safe wrapper around one LiteRT interpreter."""

from __future__ import annotations

import threading

import numpy as np
from ai_edge_litert.interpreter import Interpreter


class TFLiteModel:
    def __init__(self, model_bytes: bytes, num_threads: int = 1) -> None:
        # Interpreter keeps a pointer into the buffer: hold a reference.
        self._bytes = model_bytes
        self._interp = Interpreter(model_content=model_bytes, num_threads=num_threads)
        self._input = self._interp.get_input_details()[0]
        self._output = self._interp.get_output_details()[0]
        self._batch = 0
        # One interpreter is not re-entrant; waitress serves from several threads.
        self._lock = threading.Lock()

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(int(d) for d in self._input["shape_signature"])

    def predict(self, x: np.ndarray) -> np.ndarray:
        """x: (batch, window, features) float32 -> (batch, outputs) float32."""
        x = np.ascontiguousarray(x, dtype=np.float32)
        with self._lock:
            if x.shape[0] != self._batch:
                self._interp.resize_tensor_input(self._input["index"], list(x.shape))
                self._interp.allocate_tensors()
                self._batch = x.shape[0]
            self._interp.set_tensor(self._input["index"], x)
            self._interp.invoke()
            out = self._interp.get_tensor(self._output["index"]).copy()
        return out.reshape(x.shape[0], -1)
