"""Ticker symbol validation shared by the CLI, the loaders and the web layer."""

from __future__ import annotations

import re

# Yahoo-style tickers: letters/digits plus . - ^ = (e.g. BRK-B, ^GSPC, EURUSD=X).
_SYMBOL_RE = re.compile(r"^[A-Z0-9^][A-Z0-9.\-=^]{0,14}$")


class InvalidSymbol(ValueError):
    pass


def validate_symbol(symbol: str) -> str:
    cleaned = (symbol or "").strip().upper()
    if not _SYMBOL_RE.match(cleaned):
        raise InvalidSymbol(f"invalid symbol {symbol!r}: use 1-15 letters, digits or . - ^ =")
    return cleaned
