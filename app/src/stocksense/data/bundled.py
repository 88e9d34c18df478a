"""Real daily prices shipped inside the package (see bundled/ATTRIBUTION.md)."""

from __future__ import annotations

from importlib import resources

from stocksense.data.csvfile import parse_csv_text
from stocksense.data.prices import PriceRow

BUNDLED: dict[str, str] = {
    "NVDA": "NVIDIA Corporation",
    "AMZN": "Amazon.com, Inc.",
    "MSFT": "Microsoft Corporation",
}


def load_bundled(symbol: str) -> list[PriceRow]:
    if symbol not in BUNDLED:
        raise KeyError(f"no bundled prices for {symbol}; available: {', '.join(BUNDLED)}")
    text = resources.files("stocksense.bundled").joinpath(f"{symbol}.csv").read_text()
    return parse_csv_text(text, source=f"bundled {symbol}.csv")
