"""The refresh function (stocksense.lambda_refresh), invoked in-process against moto standing in for
S3 (the `s3` fixture; AWS and Yahoo cannot be reached here). Yahoo is replaced by a fake fetcher
that serves the bundled real daily prices: the object starts 10 trading days behind them and the
fetcher's "last month" brings it up to date, as a daily run would."""

from __future__ import annotations

import glob
import hashlib
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from stocksense import lambda_refresh as lr
from stocksense.data.bundled import BUNDLED, load_bundled
from stocksense.data.prices import PriceRow
from stocksense.layout import PRICES_OBJECT_FORMAT
from stocksense.registry.stores import S3Store
from stocksense.serving.prices import ObjectPrices, encode_prices_object

APP = Path(__file__).resolve().parents[1]
DAYS = 512
BEHIND = 10  # trading days the first object lacks
MONTH = 22
SYMBOLS = sorted(BUNDLED)
METRICS = {"served": {"selection": {"rule": "kept as written"}}}


@pytest.fixture(scope="module")
def bundled() -> dict[str, list[PriceRow]]:
    return {symbol: load_bundled(symbol) for symbol in SYMBOLS}


def window(rows: list[PriceRow]) -> list[dict]:
    return [row.as_dict() for row in rows[-DAYS:]]


class FakeYahoo:
    """A Fetcher serving the bundled prices: the last MONTH days for 1mo, everything for 5y;
    `failing` symbols raise, `scale` multiplies every price (a split)."""

    def __init__(self, rows: dict[str, list[PriceRow]], failing=(), scale: float = 1.0) -> None:
        self.rows, self.failing, self.scale, self.calls = rows, set(failing), scale, []

    def __call__(self, symbol: str, period: str, cache_dir: Path | None):
        self.calls.append((symbol, period))
        if symbol in self.failing:
            raise ConnectionError(f"{symbol}: no route to Yahoo")
        rows = self.rows[symbol][-MONTH:] if period == lr.RECENT_PERIOD else self.rows[symbol]
        scaled = [
            PriceRow(
                r.date,
                r.open * self.scale,
                r.high * self.scale,
                r.low * self.scale,
                r.close * self.scale,
                r.adj_close * self.scale,
                r.volume,
            )
            for r in rows
        ]
        return scaled, {}


@pytest.fixture
def prices_url(s3, bundled) -> str:
    """An object 10 days behind the bundled prices, each symbol with a backtest's metrics."""
    _, client, bucket = s3
    behind = {
        s: {"prices": window(rows[:-BEHIND]), "backtest_metrics": METRICS}
        for s, rows in bundled.items()
    }
    client.put_object(
        Bucket=bucket, Key="prices/latest.json", Body=encode_prices_object(behind, DAYS)
    )
    return f"s3://{bucket}/prices/latest.json"


def read_object(s3) -> tuple[bytes, str]:
    _, client, bucket = s3
    got = client.get_object(Bucket=bucket, Key="prices/latest.json")
    return got["Body"].read(), got["ETag"]


def test_handler_brings_every_symbol_up_to_date_in_one_put(s3, prices_url, bundled, monkeypatch):
    monkeypatch.setenv("STOCKSENSE_PRICES_OBJECT", prices_url)
    monkeypatch.setattr(lr, "_yahoo", FakeYahoo(bundled))
    puts = []
    real_write = S3Store.write_bytes
    monkeypatch.setattr(
        S3Store,
        "write_bytes",
        lambda self, key, data: (puts.append(data), real_write(self, key, data)),
    )
    summary = lr.handler({"source": "aws.events", "detail-type": "Scheduled Event"}, None)
    assert summary["ok"] is True and summary["changed"] is True
    assert (
        summary["refreshed"] == SYMBOLS and summary["failed"] == {} and summary["reingested"] == []
    )
    raw, _ = read_object(s3)
    assert puts == [raw]  # the whole object in one PUT (atomic on S3): never half of it
    document = json.loads(raw)
    assert document["format"] == PRICES_OBJECT_FORMAT and document["days"] == DAYS
    for symbol, rows in bundled.items():
        assert document["symbols"][symbol]["prices"] == window(rows)
        assert document["symbols"][symbol]["backtest_metrics"] == METRICS
    assert ObjectPrices.from_bytes(raw).history("MSFT", 1)[0]["date"] == bundled["MSFT"][-1].date


def test_a_second_run_with_nothing_new_writes_nothing(s3, prices_url, bundled):
    first = lr.refresh_prices_object(prices_url, FakeYahoo(bundled))
    raw, etag = read_object(s3)
    again = lr.refresh_prices_object(prices_url, FakeYahoo(bundled))
    assert first["changed"] is True and again["changed"] is False
    assert read_object(s3) == (raw, etag)


def test_a_failed_symbol_keeps_its_previous_prices(s3, prices_url, bundled, capsys, monkeypatch):
    before = json.loads(read_object(s3)[0])
    monkeypatch.setenv("STOCKSENSE_PRICES_OBJECT", prices_url)
    monkeypatch.setattr(lr, "_yahoo", FakeYahoo(bundled, failing={"NVDA"}))
    summary = lr.handler()
    assert summary["ok"] is False and summary["changed"] is True
    assert summary["refreshed"] == ["AMZN", "MSFT"] and list(summary["failed"]) == ["NVDA"]
    assert "no route to Yahoo" in summary["failed"]["NVDA"]
    assert json.loads(capsys.readouterr().out.strip()) == summary  # the log line is the summary
    document = json.loads(read_object(s3)[0])
    assert document["symbols"]["NVDA"] == before["symbols"]["NVDA"]
    assert document["symbols"]["MSFT"]["prices"] == window(bundled["MSFT"])


def test_nothing_refreshed_raises_and_leaves_the_object_intact(
    s3, prices_url, bundled, capsys, monkeypatch
):
    before = read_object(s3)
    monkeypatch.setenv("STOCKSENSE_PRICES_OBJECT", prices_url)
    monkeypatch.setattr(lr, "_yahoo", FakeYahoo(bundled, failing=set(SYMBOLS)))
    with pytest.raises(lr.NothingRefreshed) as raised:
        lr.handler()
    assert json.loads(str(raised.value))["failed"].keys() == set(SYMBOLS)
    logged = json.loads(capsys.readouterr().out.strip())
    assert logged["ok"] is False and "NothingRefreshed" in logged["error"]
    assert read_object(s3) == before


def test_a_rescaled_symbol_gets_its_whole_window_again(s3, prices_url, bundled):
    fake = FakeYahoo(bundled, scale=0.5)  # Yahoo halved every price: a 2:1 split
    summary = lr.refresh_prices_object(prices_url, fake)
    assert summary["reingested"] == SYMBOLS
    assert ("MSFT", lr.FULL_PERIOD) in fake.calls
    prices = json.loads(read_object(s3)[0])["symbols"]["MSFT"]["prices"]
    assert len(prices) == DAYS
    assert prices[0]["close"] == pytest.approx(bundled["MSFT"][-DAYS].close * 0.5)  # one scale


def test_no_prices_object_raises(s3):
    _, _, bucket = s3
    with pytest.raises(lr.NothingRefreshed, match="stocksense prices export"):
        lr.refresh_prices_object(f"s3://{bucket}/prices/missing.json", FakeYahoo({}))


# -- what the function loads, and its zip ---------------------------------------------------
def test_the_handler_module_loads_neither_litert_nor_pandas_nor_yfinance():
    """Only a download loads yfinance and pandas; LiteRT never (stocksense.serving's package
    import is lazy). import-linter cannot see this: it ignores a package's __init__."""
    code = (
        "import sys, stocksense.lambda_refresh; "
        "print(sorted(m for m in ('ai_edge_litert', 'pandas', 'yfinance', 'tensorflow')"
        " if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "PYTHONPATH": str(APP / "src")},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


def python312() -> str | None:
    """A real CPython 3.12 (on PATH, or pyenv's)."""
    found = [
        shutil.which("python3.12"),
        *sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.12*/bin/python3.12"))),
    ]
    return next(
        (p for p in found if p and subprocess.run([p, "-V"], capture_output=True).returncode == 0),
        None,
    )


ZIP_CACHE = APP.parent / ".cache" / "lambda-refresh-zip"


def zip_inputs_digest() -> str:
    """The script, the pins and the package's files: equal digest, equal zip (wheels pinned)."""
    digest = hashlib.sha256()
    files = [
        APP / "scripts" / "build-lambda-zip.py",
        APP / "constraints.txt",
        APP / "pyproject.toml",
        *sorted(
            p
            for p in (APP / "src" / "stocksense").rglob("*")
            if p.is_file() and "__pycache__" not in p.parts
        ),
    ]
    for path in files:
        digest.update(str(path.relative_to(APP)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:20]


@pytest.fixture(scope="module")
def refresh_zip(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The refresh zip built from PyPI by the real script (--function refresh), kept in
    .cache/lambda-refresh-zip/ under the digest of its inputs."""
    cached = ZIP_CACHE / zip_inputs_digest()
    if not (cached / "report.txt").is_file():
        out = tmp_path_factory.mktemp("refresh-zip")
        done = subprocess.run(
            [
                sys.executable,
                str(APP / "scripts" / "build-lambda-zip.py"),
                "--function",
                "refresh",
                "--out",
                str(out),
                "--python-version",
                "3.12",
            ],
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        (out / "report.txt").write_text(done.stdout)  # last: marks the entry complete
        shutil.rmtree(ZIP_CACHE, ignore_errors=True)
        ZIP_CACHE.mkdir(parents=True)
        shutil.move(str(out), cached)
    return next(cached.glob("*.zip")), (cached / "report.txt").read_text()


def test_refresh_zip_holds_the_ingest_stack_and_stays_under_250_mib(refresh_zip):
    path, report = refresh_zip
    with zipfile.ZipFile(path) as zf:
        infos = zf.infolist()
    names = {i.filename for i in infos}
    unzipped = sum(i.file_size for i in infos)
    print(f"\n{report.strip()}")
    assert path.name == "stocksense-refresh-py3.12-x86_64.zip"
    assert "stocksense/lambda_refresh.py" in names and "stocksense/data/yahoo.py" in names
    tops = {n.split("/", 1)[0].lower() for n in names}
    for needed in ("yfinance", "pandas", "numpy", "sqlalchemy"):
        assert needed in tops, needed
    for unwanted in ("ai_edge_litert", "tensorflow", "keras", "arch", "flask", "boto3", "botocore"):
        assert unwanted not in tops, unwanted
    assert unzipped < 250 * 1024 * 1024
    assert f"unzipped: {unzipped / 1024 / 1024:.1f} MiB" in report


DRIVER = """
import json, sys, time
started = time.perf_counter()
import stocksense.lambda_refresh as lr
from stocksense.data.bundled import load_bundled
import yfinance, pandas  # what a real download loads, from the zip
loaded = time.perf_counter() - started
lr._yahoo = lambda symbol, period, cache: (load_bundled(symbol)[-22:], {})
summary = lr.handler({}, None)
print(json.dumps({"loaded": loaded, "summary": summary, "pandas": pandas.__file__}))
"""


def test_refresh_zip_runs_under_python_312(refresh_zip, bundled, tmp_path):
    """Unzipped as on Lambda and run by a local CPython 3.12 against a prices object file (Yahoo
    replaced by the bundled prices): the zip's own wheels import and the object is refreshed."""
    python = python312()
    if python is None:
        pytest.skip("no python3.12 here to run the zip with")
    task = tmp_path / "task"
    with zipfile.ZipFile(refresh_zip[0]) as zf:
        zf.extractall(task)
    target = tmp_path / "prices.json"
    target.write_bytes(
        encode_prices_object(
            {
                s: {"prices": window(r[:-BEHIND]), "backtest_metrics": None}
                for s, r in bundled.items()
            },
            DAYS,
        )
    )
    env = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": str(task),
        "HOME": str(tmp_path),
        "STOCKSENSE_HOME": str(tmp_path / "home"),
        "STOCKSENSE_PRICES_OBJECT": str(target),
    }
    out = subprocess.run(
        [python, "-s", "-c", DRIVER], env=env, capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr[-3000:]
    figures = json.loads(out.stdout.strip().splitlines()[-1])
    print(
        f"\nrefresh zip under python 3.12: handler + yfinance + pandas imported in "
        f"{figures['loaded']:.2f} s (no .pyc shipped); load average {os.getloadavg()[0]:.2f}"
    )
    assert figures["pandas"].startswith(str(task))
    assert figures["summary"]["refreshed"] == SYMBOLS and figures["summary"]["changed"] is True
    assert json.loads(target.read_bytes())["symbols"]["MSFT"]["prices"] == window(bundled["MSFT"])
