"""The CLI as a user runs it (subprocess, real bundled prices, no network)."""

import json
from pathlib import Path

from stocksense.testing import TINY_ENV, run_cli

HEADER = "Date,Open,High,Low,Close,Adj Close,Volume\n"
# Any proxied request goes to a closed loopback port: a guaranteed network failure.
OFFLINE = {"HTTPS_PROXY": "http://127.0.0.1:9", "https_proxy": "http://127.0.0.1:9",
           "HTTP_PROXY": "http://127.0.0.1:9", "http_proxy": "http://127.0.0.1:9"}


def _json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.startswith(("{", "["))]


def test_seed_symbols_and_import_csv(tmp_path: Path) -> None:
    home = tmp_path / "home"
    seeded = run_cli(home, "seed", "--json")
    assert seeded.returncode == 0, seeded.stderr
    assert {r["symbol"] for r in _json_lines(seeded.stdout)} == {"NVDA", "AMZN", "MSFT"}
    listed = _json_lines(run_cli(home, "symbols", "--json").stdout)[0]
    msft = next(s for s in listed if s["symbol"] == "MSFT")
    assert msft["n_days"] == 1511 and msft["watched"] is True

    good = tmp_path / "mine.csv"
    good.write_text(HEADER + "2024-01-02,1,2,0.5,1.5,1.5,100\n2024-01-03,1.5,2,1,1.8,1.8,200\n")
    ok = run_cli(home, "import-csv", "mine", str(good), "--json")
    assert ok.returncode == 0 and _json_lines(ok.stdout)[0]["rows"] == 2
    again = run_cli(home, "import-csv", "MINE", str(good))  # idempotent
    assert again.returncode == 0
    listed = _json_lines(run_cli(home, "symbols", "--json").stdout)[0]
    assert next(s for s in listed if s["symbol"] == "MINE")["n_days"] == 2

    bad = tmp_path / "bad.csv"
    bad.write_text(HEADER + "2024-01-04,1,2,0.5,1.5,1.5,100\n2024-01-05,1,2,0.5,abc,1.5,100\n")
    proc = run_cli(home, "import-csv", "MINE", str(bad))
    assert proc.returncode == 2
    assert "bad.csv line 3: Close is not a number" in proc.stderr
    assert "Traceback" not in proc.stderr
    listed = _json_lines(run_cli(home, "symbols", "--json").stdout)[0]
    assert next(s for s in listed if s["symbol"] == "MINE")["n_days"] == 2  # untouched


def test_ingest_network_failure_is_clear_and_harmless(tmp_path: Path) -> None:
    home = tmp_path / "home"
    run_cli(home, "seed")
    before = _json_lines(run_cli(home, "symbols", "--json").stdout)[0]
    proc = run_cli(home, "ingest", "MSFT", "not a symbol", "--json", env=OFFLINE, timeout=180)
    assert proc.returncode == 1
    results = {r["symbol"]: r for r in _json_lines(proc.stdout)}
    assert results["MSFT"]["ok"] is False and results["MSFT"]["error"]
    assert results["not a symbol"]["ok"] is False
    assert "invalid symbol" in results["not a symbol"]["error"]
    assert "Traceback" not in proc.stderr
    after = _json_lines(run_cli(home, "symbols", "--json").stdout)[0]
    assert after == before
    refresh = run_cli(home, "refresh", "--json", env=OFFLINE, timeout=300)
    # offline: every symbol fails, none stops the others, the exit code and summary say so
    assert refresh.returncode == 3
    assert _json_lines(refresh.stdout)[-1] == {"event": "done", "ok": False, "n": 3,
                                               "failed": ["AMZN", "MSFT", "NVDA"]}
    assert _json_lines(run_cli(home, "symbols", "--json").stdout)[0] == before


def test_bad_input_exits_nonzero_without_traceback(tmp_path: Path) -> None:
    home = tmp_path / "home"
    run_cli(home, "seed")
    cases = [
        (("train", "ZZZZ", "--json"), "no prices stored for ZZZZ"),
        (("train", "bad symbol"), "invalid symbol"),
        (("backtest", "ZZZZ"), "no prices stored"),
        (("forecast", "AMZN"), "no trained model"),
        (("export", "AMZN", "--out", str(tmp_path / "out")), "no published transformer"),
        (("import-csv", "X", str(tmp_path / "missing.csv")), "cannot read"),
    ]
    for args, message in cases:
        proc = run_cli(home, *args, env=TINY_ENV)
        assert proc.returncode == 2, (args, proc.stdout, proc.stderr)
        assert message in proc.stderr, (args, proc.stderr)
        assert "Traceback" not in proc.stderr
    train = run_cli(home, "train", "ZZZZ", "--json", env=TINY_ENV)
    events = _json_lines(train.stdout)
    assert events[0]["event"] == "start" and events[-1]["event"] == "error"


def test_too_little_history(tmp_path: Path) -> None:
    home = tmp_path / "home"
    rows = []
    import datetime as dt

    day = dt.date(2024, 1, 2)
    while len(rows) < 80:
        if day.weekday() < 5:
            rows.append(f"{day},10,11,9,10.{len(rows):02d},10,1000\n")
        day += dt.timedelta(days=1)
    path = tmp_path / "short.csv"
    path.write_text(HEADER + "".join(rows))
    assert run_cli(home, "import-csv", "SHORT", str(path)).returncode == 0
    proc = run_cli(home, "train", "SHORT", env=TINY_ENV)
    assert proc.returncode == 2
    assert "SHORT has 80 trading days" in proc.stderr and "Traceback" not in proc.stderr


def test_models_export_and_forecast_on_trained_home(trained_home: Path, tmp_path: Path) -> None:
    listed = run_cli(trained_home, "models", "list", "--json", env=TINY_ENV)
    assert listed.returncode == 0
    names = {m["model_name"] for m in _json_lines(listed.stdout)[0]["models"]}
    assert names == {"transformer", "lstm"}
    out = tmp_path / "exported"
    exported = run_cli(trained_home, "export", "MSFT", "--out", str(out), "--json", env=TINY_ENV)
    assert exported.returncode == 0, exported.stderr
    assert (out / "MSFT" / "lstm" / "model.tflite").stat().st_size > 1000
    meta = json.loads((out / "MSFT" / "transformer" / "meta.json").read_text())
    assert meta["features"] and meta["scaler"]["mean"] and meta["content_hash"]
    text = run_cli(trained_home, "forecast", "MSFT", env=TINY_ENV)
    assert text.returncode == 0 and "ensemble" in text.stdout


def test_corrupt_artifact_is_a_clear_error(trained_copy, tmp_path: Path) -> None:
    registry = Path(trained_copy.registry_url)
    version = json.loads((registry / "MSFT/lstm/latest").read_text())["version"]
    (registry / "MSFT/lstm/versions" / version / "model.tflite").write_bytes(b"garbage")
    proc = run_cli(trained_copy.home, "export", "MSFT", "--out", str(tmp_path / "o"),
                   env=TINY_ENV)
    assert proc.returncode == 2
    assert "corrupt artifact" in proc.stderr and "Traceback" not in proc.stderr


def test_backtest_prints_table(trained_copy) -> None:
    proc = run_cli(trained_copy.home, "backtest", "MSFT", "--test-days", "20",
                   "--refit-every", "10", "--days", "300", env=TINY_ENV, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "skill_vs_persist" in proc.stdout
    for name in ("persistence", "drift", "transformer", "lstm", "ensemble"):
        assert name in proc.stdout
    assert "serving from now on: point = " in proc.stdout
