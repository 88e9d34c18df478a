import datetime as dt
import math
from pathlib import Path

import pytest

from stocksense.data import queries
from stocksense.data.bundled import BUNDLED, load_bundled
from stocksense.data.csvfile import parse_csv_text, read_csv_file
from stocksense.data.prices import PriceRow, PriceValidationError, validate_rows
from stocksense.data.symbols import InvalidSymbol, validate_symbol

HEADER = "Date,Open,High,Low,Close,Adj Close,Volume\n"


def test_symbol_validation() -> None:
    assert validate_symbol(" brk-b ") == "BRK-B"
    assert validate_symbol("^gspc") == "^GSPC"
    for bad in ["", "A B", "x" * 20, "../etc", "AAPL;DROP"]:
        with pytest.raises(InvalidSymbol):
            validate_symbol(bad)


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (PriceRow("2024-01-02", -1.0, 2.0, 0.5, 1.0, 1.0, 1), "open must be positive"),
        (PriceRow("2024-01-02", 1.0, 2.0, 0.5, math.nan, 1.0, 1), "close is not a number"),
        (PriceRow("2024-01-06", 1.0, 2.0, 0.5, 1.0, 1.0, 1), "weekend"),
        (PriceRow("2024-13-02", 1.0, 2.0, 0.5, 1.0, 1.0, 1), "bad date"),
        (PriceRow("2024-01-02", 1.0, 0.4, 0.5, 1.0, 1.0, 1), "below low"),
    ],
)
def test_bad_rows_are_rejected(row: PriceRow, message: str) -> None:
    with pytest.raises(PriceValidationError, match=message):
        validate_rows([row])


def test_unsorted_and_duplicate_dates_rejected() -> None:
    a = PriceRow("2024-01-03", 1.0, 2.0, 0.5, 1.0, 1.0, 1)
    b = PriceRow("2024-01-02", 1.0, 2.0, 0.5, 1.0, 1.0, 1)
    with pytest.raises(PriceValidationError, match="out-of-order"):
        validate_rows([a, b])
    with pytest.raises(PriceValidationError, match="duplicate"):
        validate_rows([a, a])


def test_csv_error_names_first_bad_line() -> None:
    text = HEADER + "2024-01-02,1,2,0.5,1.5,1.5,100\n2024-01-03,1,2,0.5,null,null,100\n" \
        "2024-01-04,1,2,0.5,-3,1,100\n"
    with pytest.raises(PriceValidationError, match=r"mine.csv line 3: Close is not a number"):
        parse_csv_text(text, source="mine.csv")


def test_csv_missing_columns() -> None:
    with pytest.raises(PriceValidationError, match="missing column"):
        parse_csv_text("Date,Close\n2024-01-02,1\n")


def test_csv_reads_yahoo_layout(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text(HEADER + "2024-01-02,1,2,0.5,1.5,1.4,100\n2024-01-03,1.5,2,1,1.8,1.7,200\n\n")
    rows = read_csv_file(path)
    assert [r.date for r in rows] == ["2024-01-02", "2024-01-03"]
    assert rows[1].adj_close == 1.7 and rows[1].volume == 200


@pytest.mark.parametrize("symbol", sorted(BUNDLED))
def test_bundled_series_are_clean_trading_days(symbol: str) -> None:
    rows = load_bundled(symbol)  # runs the full validation
    days = [dt.date.fromisoformat(r.date) for r in rows]
    assert len(rows) > 1400
    assert all(d.weekday() < 5 for d in days)
    # Trading calendars never skip more than a long weekend plus holidays.
    assert max((b - a).days for a, b in zip(days, days[1:], strict=False)) <= 5
    # Split-adjusted: no daily move beyond +/-40%.
    closes = [r.close for r in rows]
    assert max(abs(math.log(b / a)) for a, b in zip(closes, closes[1:], strict=False)) < 0.4


def test_failed_import_leaves_data_untouched(seeded_engine, tmp_path: Path) -> None:
    before = queries.get_history(seeded_engine, "MSFT", None)
    path = tmp_path / "bad.csv"
    path.write_text(HEADER + "2021-04-01,1,2,0.5,1.5,1.5,100\n2021-04-02,1,2,0.5,0,1.5,100\n")
    with pytest.raises(PriceValidationError):
        queries.upsert_prices(seeded_engine, "MSFT", read_csv_file(path))
    assert queries.get_history(seeded_engine, "MSFT", None) == before
