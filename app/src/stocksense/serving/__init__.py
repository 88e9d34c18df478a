"""Inference with LiteRT only: never imports tensorflow, keras, pandas or yfinance."""

from stocksense.serving.errors import ModelUnavailable, UnknownSymbol
from stocksense.serving.service import ForecastService

__all__ = ["ForecastService", "ModelUnavailable", "UnknownSymbol"]
