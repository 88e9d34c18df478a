"""The Lambda predict function (stocksense.lambda_predict), invoked in-process with API Gateway
REST API proxy events, over the suite's real tiny LiteRT models (`trained_home`) and a prices
object written from that home's database; its answers are compared byte for byte with the web
API's. AWS itself cannot be reached here: the registry is a local folder (the S3 store and its
cache are tested in test_s3_registry.py) and the zip runs under a local CPython 3.12."""

from __future__ import annotations

import glob
import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from stocksense import lambda_predict as lp
from stocksense.config import load_settings
from stocksense.data.db import get_engine
from stocksense.layout import PRICES_OBJECT_FORMAT
from stocksense.serving.prices import ObjectPrices, PricesObjectError, prices_object
from stocksense.testing import TINY_ENV

APP = Path(__file__).resolve().parents[1]
TRAINED, UNTRAINED = "MSFT", "AMZN"


def event(symbol: str | None, method: str = "GET", path: str | None = None) -> dict:
    """A REST API (v1) proxy integration event for GET /predict/{symbol}."""
    return {
        "resource": lp.ROUTE if path is None else path,
        "path": path if path is not None else f"/predict/{symbol}",
        "httpMethod": method,
        "headers": {"Accept": "application/json"},
        "queryStringParameters": None,
        "pathParameters": None if symbol is None else {"symbol": symbol},
        "requestContext": {"stage": "prod", "resourcePath": lp.ROUTE},
        "body": None,
        "isBase64Encoded": False,
    }


@pytest.fixture(scope="module")
def lambda_env(trained_home: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """What the function's configuration sets: the registry, the prices object, a /tmp home."""
    base = tmp_path_factory.mktemp("lambda")
    engine = get_engine(load_settings({"STOCKSENSE_HOME": str(trained_home)}))
    (base / "prices.json").write_bytes(prices_object(engine))
    engine.dispose()
    return {"STOCKSENSE_HOME": str(base / "tmp-home"),
            "STOCKSENSE_REGISTRY": str(trained_home / "registry"),
            "STOCKSENSE_PRICES_OBJECT": str(base / "prices.json")}


@pytest.fixture(scope="module")
def service(lambda_env):
    return lp.build_service(lambda_env)


def invoke(service, ev) -> dict:
    return lp.handle(service, None, ev)


@pytest.fixture(scope="module")
def web_client(trained_home: Path, tmp_path_factory: pytest.TempPathFactory):
    """The web API over a copy of the same trained home (same models, same database)."""
    from stocksense.web import create_app
    from stocksense.web.config import load_web_config

    home = tmp_path_factory.mktemp("lambda-web") / "home"
    shutil.copytree(trained_home, home)
    config = load_web_config({"STOCKSENSE_ENV": "testing", "STOCKSENSE_SECRET_KEY": "t" * 32})
    app = create_app(config, settings=load_settings({**TINY_ENV, "STOCKSENSE_HOME": str(home)}))
    yield app.test_client()
    app.extensions["stocksense.jobs"].shutdown()


def web_forecast(client, symbol: str):
    return client.get(f"/api/v1/symbols/{symbol}/forecast")


@pytest.mark.parametrize("symbol", [TRAINED, TRAINED.lower()])
def test_forecast_is_the_web_apis_answer(service, web_client, symbol) -> None:
    answer = invoke(service, event(symbol))
    web = web_forecast(web_client, symbol)
    assert answer["statusCode"] == 200 == web.status_code, answer
    assert answer["headers"]["Content-Type"] == "application/json"
    body = json.loads(answer["body"])
    assert body["symbol"] == TRAINED and set(body["models"]) == {"transformer", "lstm"}
    assert answer["body"].encode() == web.data  # same prices, models, backtest and JSON


def test_unknown_symbol_is_the_web_apis_404(service, web_client) -> None:
    answer = invoke(service, event("ZZZZ"))
    web = web_forecast(web_client, "ZZZZ")
    assert answer["statusCode"] == 404 == web.status_code
    assert answer["headers"]["Content-Type"] == "application/problem+json" == web.content_type
    assert answer["body"].encode() == web.data


def test_untrained_symbol_is_the_web_apis_503(service, web_client) -> None:
    answer = invoke(service, event(UNTRAINED))
    web = web_forecast(web_client, UNTRAINED)
    assert answer["statusCode"] == 503 == web.status_code
    assert answer["headers"]["Retry-After"] == web.headers["Retry-After"]
    assert answer["body"].encode() == web.data


@pytest.mark.parametrize("symbol", ["A" * 50, "b@d", " MSFT", "MS FT", "MSFT!"])
def test_malformed_symbol_is_the_web_apis_400(service, web_client, symbol) -> None:
    answer = invoke(service, event(symbol))
    web = web_forecast(web_client, symbol.replace(" ", "%20"))
    assert answer["statusCode"] == 400 == web.status_code, (answer, web.data)
    assert answer["headers"]["Content-Type"] == "application/problem+json"
    assert answer["body"].encode() == web.data


@pytest.mark.parametrize("symbol", ["", "../x", "..", "MSFT/../AAPL", None, "A" * 5000])
def test_symbols_the_web_cannot_route_are_400(service, symbol) -> None:
    answer = invoke(service, event(symbol, path=lp.ROUTE if symbol is None else None))
    assert answer["statusCode"] == 400, answer
    problem = json.loads(answer["body"])
    assert problem["type"].endswith("/invalid-symbol") and problem["status"] == 400


@pytest.mark.parametrize("method", ["POST", "DELETE", "PUT"])
def test_other_methods_are_405(service, method) -> None:
    answer = invoke(service, event(TRAINED, method=method))
    assert answer["statusCode"] == 405 and answer["headers"]["Allow"] == "GET"
    assert json.loads(answer["body"])["status"] == 405


@pytest.mark.parametrize("path", ["/", "/predict", "/forecast/MSFT", "/predict/MSFT/extra"])
def test_other_paths_are_404(service, path) -> None:
    ev = {**event(TRAINED), "resource": path, "path": path}
    answer = invoke(service, ev)
    assert answer["statusCode"] == 404
    assert answer["headers"]["Content-Type"] == "application/problem+json"


def test_an_unexpected_error_is_a_generic_500_never_a_raise(service, monkeypatch, caplog) -> None:
    def broken(symbol: str):
        raise RuntimeError("secret internals /var/task/x.py")

    monkeypatch.setattr(service, "forecast", broken)
    with caplog.at_level(logging.ERROR, logger="stocksense.lambda"):
        answer = invoke(service, event(TRAINED))
    assert answer["statusCode"] == 500
    assert "secret" not in answer["body"] and json.loads(answer["body"])["status"] == 500
    assert "secret internals" in caplog.text  # the details go to the log only
    assert invoke(service, "not a dict")["statusCode"] == 400


def test_a_forecast_is_cacheable_and_a_repeat_gets_304(service) -> None:
    first = lp.handle(service, None, event(TRAINED), 120)
    tag = first["headers"]["ETag"]
    assert first["headers"]["Cache-Control"] == "public, max-age=120"
    assert tag == lp.etag_of(first["body"]) and tag.startswith('"') and tag.endswith('"')
    assert invoke(service, event(TRAINED))["headers"]["ETag"] == tag  # same bytes, same tag
    repeat = {**event(TRAINED), "headers": {"if-none-match": f'"stale", W/{tag}'}}
    answer = lp.handle(service, None, repeat, 120)
    assert answer["statusCode"] == 304 and answer["body"] == ""
    assert answer["headers"]["ETag"] == tag
    other = {**event(TRAINED), "headers": {"If-None-Match": '"stale"'}}
    assert invoke(service, other)["statusCode"] == 200


@pytest.mark.parametrize("ev", [event(UNTRAINED), event("QQQQQ"), event("bad symbol"),
                                event(TRAINED, method="POST"), event(None, path="/other")])
def test_problem_documents_are_never_stored_by_a_cache(service, ev) -> None:
    answer = invoke(service, ev)
    assert answer["statusCode"] >= 400 and "ETag" not in answer["headers"]
    assert answer["headers"]["Cache-Control"] == "no-store"


@pytest.mark.parametrize("raw", ["abc", "-1", "86401", " 60", "1e3"])
def test_a_bad_max_age_is_refused_with_its_name(raw) -> None:
    with pytest.raises(ValueError, match="STOCKSENSE_PREDICT_MAX_AGE must be 0-86400"):
        lp.cache_seconds({"STOCKSENSE_PREDICT_MAX_AGE": raw})
    assert lp.cache_seconds({}) == lp.DEFAULT_MAX_AGE
    assert lp.cache_seconds({"STOCKSENSE_PREDICT_MAX_AGE": "0"}) == 0


def test_a_failed_cold_start_answers_500_on_each_call(caplog) -> None:
    with caplog.at_level(logging.ERROR, logger="stocksense.lambda"):
        answer = lp.handle(None, "ValueError: STOCKSENSE_PRICES_OBJECT is not set", event("MSFT"))
    assert answer["statusCode"] == 500 and "PRICES_OBJECT" not in answer["body"]
    assert "PRICES_OBJECT" in caplog.text
    with pytest.raises(ValueError, match="STOCKSENSE_PRICES_OBJECT"):
        lp.build_service({"STOCKSENSE_REGISTRY": "/nonexistent"})


def test_prices_object_holds_enough_days_for_the_same_forecast(lambda_env) -> None:
    raw = Path(lambda_env["STOCKSENSE_PRICES_OBJECT"]).read_bytes()
    doc = json.loads(raw)
    assert doc["format"] == PRICES_OBJECT_FORMAT
    msft = doc["symbols"][TRAINED]
    assert len(msft["prices"]) == doc["days"] and msft["backtest_metrics"]["served"]
    assert [r["date"] for r in msft["prices"]] == sorted(r["date"] for r in msft["prices"])
    print(f"\nprices object: {len(raw) / 1024:.0f} KiB for {len(doc['symbols'])} symbols")
    with pytest.raises(PricesObjectError, match="format"):
        ObjectPrices({**doc, "format": 99})
    with pytest.raises(PricesObjectError, match="not JSON"):
        ObjectPrices.from_bytes(b"{half")


def test_a_new_prices_object_is_followed_and_a_bad_one_ignored(lambda_env, tmp_path) -> None:
    path = tmp_path / "prices.json"
    doc = json.loads(Path(lambda_env["STOCKSENSE_PRICES_OBJECT"]).read_bytes())
    path.write_text(json.dumps(doc))
    now = [0.0]
    prices = lp.FollowedPrices(str(path), poll_seconds=60, clock=lambda: now[0])
    assert prices.n_days(TRAINED) == doc["days"]
    del doc["symbols"][TRAINED]
    path.write_text(json.dumps(doc))
    assert prices.n_days(TRAINED) > 0  # not re-checked before the poll interval
    now[0] = 61.0
    assert prices.n_days(TRAINED) == 0  # the refresh job's new object
    path.write_text("{broken")
    now[0] = 200.0
    assert prices.n_days(UNTRAINED) > 0  # the previous object keeps serving


COLD_START = """
import json, sys, time
t0 = time.perf_counter()
import stocksense.lambda_predict as lp
t1 = time.perf_counter()
answer = lp.handler(json.loads(sys.argv[1]), None)
t2 = time.perf_counter()
lp.handler(json.loads(sys.argv[1]), None)
t3 = time.perf_counter()
print(json.dumps({"status": answer["statusCode"], "python": sys.version.split()[0],
                  "import": t1 - t0, "first": t2 - t1, "warm": t3 - t2,
                  "numpy": sys.modules["numpy"].__file__}))
"""


def cold_start(python: list[str], env: dict[str, str]) -> dict:
    """Import + first forecast (models loaded) in a fresh process pinned to one core."""
    pin = ["taskset", "-c", "0"] if shutil.which("taskset") else []
    out = subprocess.run([*pin, *python, "-c", COLD_START, json.dumps(event(TRAINED))],
                         env=env, capture_output=True, text=True, timeout=120, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def test_cold_start_in_a_subprocess(lambda_env) -> None:
    env = {**os.environ, **lambda_env, "PYTHONPATH": str(APP / "src")}
    figures = cold_start([sys.executable], env)
    print(f"\ncold start (app venv, python {figures['python']}, one core): import "
          f"{figures['import']:.2f} s + first forecast {figures['first']:.2f} s, warm "
          f"{figures['warm'] * 1000:.1f} ms; load average {_load()}")
    assert figures["status"] == 200
    assert figures["import"] + figures["first"] < 15  # generous: a shared 2-core machine


# -- the zip --------------------------------------------------------------------------------------
def python312() -> str | None:
    """A real CPython 3.12 executable (on PATH, or pyenv's, whose shim needs a version chosen)."""
    candidates = [shutil.which("python3.12"),
                  *sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.12*/bin/python3.12")))]
    for candidate in filter(None, candidates):
        done = subprocess.run([candidate, "-c", "import sys; print(sys.executable)"],
                              capture_output=True, text=True)
        if done.returncode == 0 and done.stdout.strip():
            return done.stdout.strip()
    return None


ZIP_CACHE = APP.parent / ".cache" / "lambda-zip"


def zip_inputs_digest(compile_with: str | None) -> str:
    """Everything the zip is made from: the script, the pins, the package's files, and the Python
    that compiles its .pyc. Equal digest, equal zip (the wheels are pinned by constraints.txt)."""
    digest = hashlib.sha256()
    files = [APP / "scripts" / "build-lambda-zip.py", APP / "constraints.txt",
             APP / "pyproject.toml",
             *sorted(p for p in (APP / "src" / "stocksense").rglob("*")
                     if p.is_file() and "__pycache__" not in p.parts)]
    for path in files:
        digest.update(str(path.relative_to(APP)).encode() + b"\0" + path.read_bytes() + b"\0")
    if compile_with:
        version = subprocess.run([compile_with, "-VV"], capture_output=True, text=True).stdout
        digest.update(version.encode())
    return digest.hexdigest()[:20]


@pytest.fixture(scope="module")
def lambda_zip(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The zip built from PyPI (manylinux x86_64 wheels for Python 3.12) by the real script, kept
    in .cache/lambda-zip/ under the digest of its inputs: a run with unchanged inputs reuses it
    (about 30 s saved at a quiet load); any change to them builds it again."""
    python = python312()
    cached = ZIP_CACHE / zip_inputs_digest(python)
    if not (cached / "report.txt").is_file():
        out = tmp_path_factory.mktemp("lambda-zip")
        compile_with = ["--compile-with", python] if python else []
        done = subprocess.run([sys.executable, str(APP / "scripts" / "build-lambda-zip.py"),
                               "--out", str(out), "--python-version", "3.12", *compile_with],
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-3000:]
        (out / "report.txt").write_text(done.stdout)  # last: marks the entry complete
        shutil.rmtree(ZIP_CACHE, ignore_errors=True)  # one entry: older inputs' zips go
        ZIP_CACHE.mkdir(parents=True)
        shutil.move(str(out), cached)
    return next(cached.glob("*.zip")), (cached / "report.txt").read_text()


def test_zip_holds_the_handler_and_no_training_stack(lambda_zip) -> None:
    path, report = lambda_zip
    with zipfile.ZipFile(path) as zf:
        infos = zf.infolist()
    names = {i.filename for i in infos}
    unzipped = sum(i.file_size for i in infos)
    print(f"\n{report.strip()}")
    assert "stocksense/lambda_predict.py" in names
    assert "stocksense/serving/service.py" in names
    tops = {n.split("/", 1)[0].lower() for n in names}
    for unwanted in ("tensorflow", "keras", "pandas", "yfinance", "arch", "flask", "boto3",
                     "botocore", "waitress"):
        assert unwanted not in tops, unwanted
    for needed in ("numpy", "sqlalchemy", "ai_edge_litert"):
        assert needed in tops, needed
    assert any(n.endswith(".cpython-312-x86_64-linux-gnu.so") for n in names)
    if python312() is not None:  # precompiled for the runtime: no compiling on a cold start
        assert "stocksense/__pycache__/lambda_predict.cpython-312.pyc" in names
    assert unzipped < 250 * 1024 * 1024
    assert f"unzipped: {unzipped / 1024 / 1024:.1f} MiB" in report


def test_zip_runs_under_python_312(lambda_zip, lambda_env, tmp_path) -> None:
    """Unzipped as on Lambda (/var/task first on sys.path) and run by a local CPython 3.12: the
    handler imports and forecasts from the zip's own wheels alone, not the app's venv."""
    python = python312()
    if python is None:
        pytest.skip("no python3.12 here to run the zip with")
    task = tmp_path / "task"
    with zipfile.ZipFile(lambda_zip[0]) as zf:
        zf.extractall(task)
    # /var/task is read-only on Lambda: no .pyc written, only those shipped in the zip are used.
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(task), "HOME": str(tmp_path),
           "PYTHONDONTWRITEBYTECODE": "1", **lambda_env}
    figures = cold_start([python, "-s"], env)
    print(f"\ncold start (the zip, python {figures['python']}, one core): import "
          f"{figures['import']:.2f} s + first forecast {figures['first']:.2f} s, warm "
          f"{figures['warm'] * 1000:.1f} ms; load average {_load()}")
    assert figures["python"].startswith("3.12") and figures["status"] == 200
    assert figures["numpy"].startswith(str(task))
