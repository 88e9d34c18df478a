"""Inference with LiteRT only: never imports tensorflow, keras, pandas or yfinance."""

from typing import Any

from stocksense.serving.errors import ModelUnavailable, UnknownSymbol

__all__ = ["ForecastService", "ModelUnavailable", "UnknownSymbol"]


def __getattr__(name: str) -> Any:
    """ForecastService (and with it LiteRT) loads on first use, so stocksense.serving.prices alone
    stays light: the Lambda refresh function writes the prices object without LiteRT in its zip."""
    if name == "ForecastService":
        from stocksense.serving.service import ForecastService

        return ForecastService
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
