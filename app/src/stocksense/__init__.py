"""StockSense: daily stock forecasting (Keras training, LiteRT serving)."""

__version__ = "0.1.0"
