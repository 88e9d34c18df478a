"""Read daily OHLCV in Yahoo Finance's CSV export layout.

Columns: Date, Open, High, Low, Close, Adj Close, Volume (Adj Close may be
absent, then Close is used). Errors name the first bad line.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from stocksense.data.prices import PriceRow, PriceValidationError, validate_rows

REQUIRED = ("Date", "Open", "High", "Low", "Close", "Volume")


def _number(text: str, column: str, where: str) -> float:
    try:
        return float(text)
    except (TypeError, ValueError) as exc:
        raise PriceValidationError(f"{where}: {column} is not a number ({text!r})") from exc


def parse_csv_text(text: str, source: str = "CSV") -> list[PriceRow]:
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip() for h in (reader.fieldnames or [])]
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise PriceValidationError(
            f"{source}: missing column(s) {', '.join(missing)}; expected "
            "Date, Open, High, Low, Close, Adj Close, Volume"
        )
    reader.fieldnames = header
    rows: list[PriceRow] = []
    labels: list[str] = []
    for line_no, raw in enumerate(reader, start=2):  # line 1 is the header
        where = f"{source} line {line_no}"
        if not any((v or "").strip() for v in raw.values()):
            continue  # blank trailing line
        adj_text = raw.get("Adj Close") or raw["Close"]
        volume = _number(raw["Volume"], "Volume", where)
        if volume != int(volume):
            raise PriceValidationError(f"{where}: Volume is not a whole number ({volume})")
        rows.append(PriceRow(
            date=(raw["Date"] or "").strip()[:10],
            open=_number(raw["Open"], "Open", where),
            high=_number(raw["High"], "High", where),
            low=_number(raw["Low"], "Low", where),
            close=_number(raw["Close"], "Close", where),
            adj_close=_number(adj_text, "Adj Close", where),
            volume=int(volume),
        ))
        labels.append(where)
    if not rows:
        raise PriceValidationError(f"{source}: no data rows")
    return validate_rows(rows, labels)


def read_csv_file(path: str | Path) -> list[PriceRow]:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise PriceValidationError(f"cannot read {path}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise PriceValidationError(f"{path} is not a UTF-8 text file") from exc
    return parse_csv_text(text, source=path.name)
