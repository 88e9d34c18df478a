"""`stocksense prices export`: the prices object for the Lambda predict function, written after a
refresh only when it says something new. Run as the refresh unit runs it: a subprocess, real
bundled prices."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stocksense.serving.prices import ObjectPrices
from stocksense.testing import run_cli


@pytest.fixture(scope="module")
def seeded_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("prices") / "home"
    seeded = run_cli(home, "seed")
    assert seeded.returncode == 0, seeded.stderr
    return home


def export(home: Path, *args: str) -> tuple[int, dict, str]:
    proc = run_cli(home, "prices", "export", *args, "--json")
    lines = proc.stdout.splitlines()
    assert len(lines) == 1, proc.stdout + proc.stderr  # one JSON object on stdout
    assert "Traceback" not in proc.stderr
    return proc.returncode, json.loads(lines[0]), proc.stderr


def test_writes_every_stored_symbol_then_nothing_while_unchanged(seeded_home: Path,
                                                                 tmp_path: Path) -> None:
    target = tmp_path / "out" / "prices.json"
    code, first, _ = export(seeded_home, "--to", str(target))
    assert code == 0 and first["changed"] is True and first["symbols"] >= 3
    written = target.read_bytes()
    assert first["bytes"] == len(written)
    document = ObjectPrices.from_bytes(written)
    assert document.n_days("MSFT") > 300 and document.history("MSFT", 1)[0]["close"] > 0
    mtime = target.stat().st_mtime_ns
    code, again, _ = export(seeded_home, "--to", str(target))
    assert code == 0 and again["changed"] is False
    assert target.read_bytes() == written and target.stat().st_mtime_ns == mtime


def test_only_the_named_symbols(seeded_home: Path, tmp_path: Path) -> None:
    target = tmp_path / "one.json"
    code, summary, _ = export(seeded_home, "--to", str(target), "--symbol", "msft")
    assert code == 0 and summary["symbols"] == 1
    assert set(json.loads(target.read_bytes())["symbols"]) == {"MSFT"}


def test_a_changed_object_is_replaced(seeded_home: Path, tmp_path: Path) -> None:
    target = tmp_path / "prices.json"
    target.write_text('{"format": 1, "symbols": {}}')
    code, summary, _ = export(seeded_home, "--to", str(target))
    assert code == 0 and summary["changed"] is True
    assert json.loads(target.read_bytes())["symbols"]


@pytest.mark.parametrize(("args", "code", "words"), [
    (("--to", "s3://"), 2, "not an object URL"),
    (("--to", "s3://bucket-only"), 2, "not an object URL"),
    (("--to", "{dir}/p.json", "--symbol", "no way!"), 2, "symbol"),
])
def test_bad_input_is_one_clear_line(seeded_home: Path, tmp_path: Path, args, code, words) -> None:
    filled = [a.replace("{dir}", str(tmp_path)) for a in args]
    returned, summary, stderr = export(seeded_home, *filled)
    assert returned == code and summary["ok"] is False and words in summary["error"]
    assert stderr.startswith("stocksense: error:") and not (tmp_path / "p.json").exists()


def test_an_unwritable_target_fails_with_one_line(seeded_home: Path, tmp_path: Path) -> None:
    blocked = tmp_path / "blocked"  # a file where the folder should be: even root cannot write
    blocked.write_text("a file, not a folder")
    target = blocked / "prices.json"
    code, summary, stderr = export(seeded_home, "--to", str(target))
    assert code == 1 and "writing the prices object failed" in summary["error"]
    assert stderr.count("\n") == 1


OFFLINE = {"HTTPS_PROXY": "http://127.0.0.1:9", "https_proxy": "http://127.0.0.1:9",
           "HTTP_PROXY": "http://127.0.0.1:9", "http_proxy": "http://127.0.0.1:9"}


def test_refresh_writes_it_after_a_partial_refresh_and_fails_when_it_cannot(
        seeded_home: Path, tmp_path: Path) -> None:
    """As the refresh unit runs it (app role, app_prices_object_url): offline, every fetch fails
    (exit 3) and what is stored is still exported; an unwritable target makes the unit fail."""
    target = tmp_path / "prices.json"
    proc = run_cli(seeded_home, "refresh", "--prices-object", str(target), "--json",
                   env=OFFLINE, timeout=300)
    events = [json.loads(line) for line in proc.stdout.splitlines()]
    assert proc.returncode == 3, proc.stderr
    assert events[-1]["event"] == "prices_object" and events[-1]["ok"] is True
    assert events[-1]["changed"] is True and set(json.loads(target.read_bytes())["symbols"])
    blocked = tmp_path / "blocked"
    blocked.write_text("a file, not a folder")
    proc = run_cli(seeded_home, "refresh", "--prices-object", str(blocked / "p.json"), "--json",
                   env=OFFLINE, timeout=300)
    last = json.loads(proc.stdout.splitlines()[-1])
    assert proc.returncode == 1 and last["ok"] is False
    assert "writing the prices object failed" in last["error"] and "Traceback" not in proc.stderr


def test_s3_target_written_once_then_left_alone(seeded_home: Path, s3) -> None:
    """moto stands in for S3: one PUT, then nothing while the data is the same."""
    env, client, bucket = s3
    url = f"s3://{bucket}/lambda/prices.json"
    first = run_cli(seeded_home, "prices", "export", "--to", url, "--json", env=env)
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["changed"] is True
    stored = client.get_object(Bucket=bucket, Key="lambda/prices.json")["Body"].read()
    assert ObjectPrices.from_bytes(stored).n_days("MSFT") > 300
    # the same data stamped long ago: an export that wrote again would replace the stamp
    marked = {**json.loads(stored), "written_at": "2000-01-01T00:00:00+00:00"}
    client.put_object(Bucket=bucket, Key="lambda/prices.json", Body=json.dumps(marked).encode())
    again = run_cli(seeded_home, "prices", "export", "--to", url, "--json", env=env)
    assert json.loads(again.stdout)["changed"] is False
    kept = client.get_object(Bucket=bucket, Key="lambda/prices.json")["Body"].read()
    assert json.loads(kept)["written_at"] == "2000-01-01T00:00:00+00:00"
    missing = run_cli(seeded_home, "prices", "export", "--to", f"s3://no-such-{bucket}/p.json",
                      "--json", env=env)
    assert missing.returncode == 1 and "writing the prices object failed" in missing.stdout
