"""The ops interface: the subcommands roles and scripts call (app/INTERFACES.md).

Each prints exactly one JSON object on stdout with --json, human text on stderr, and exits 0, 1
(check or wait failed) or 2 (bad input). Run as a user would: subprocesses, real bundled prices.
"""

from __future__ import annotations

import http.server
import json
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from stocksense.layout import MODEL_NAMES
from stocksense.testing import TINY_ENV, run_cli

SECRET_KEY = "k" * 40
ARGON = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo"
BACKTEST = {"refit_every": 20, "metrics": {"served": {"mae": 1.0}}, "points": [],
            "created_at": "2026-01-01"}


def one_object(stdout: str) -> dict:
    """The contract: stdout is exactly one JSON object (one line)."""
    lines = stdout.splitlines()
    assert len(lines) == 1, stdout
    value = json.loads(lines[0])
    assert isinstance(value, dict)
    return value


def write(path: Path, text: str) -> str:
    path.write_text(text, encoding="utf-8")
    return str(path)


@pytest.mark.parametrize(("kind", "text", "code", "says"), [
    ("settings", "STOCKSENSE_PORT=6000\nexport STOCKSENSE_THREADS='8'\n# comment\n", 0, None),
    ("settings", "STOCKSENSE_PORT=abc\n", 1, "STOCKSENSE_PORT must be an integer"),
    ("settings", "STOCKSENSE_PORT=6000\nno equals sign\n", 1, ":2: expected KEY=VALUE"),
    ("settings", f"STOCKSENSE_SECRET_KEY={SECRET_KEY}\n", 1, "secrets belong in the secrets file"),
    ("secrets", f"STOCKSENSE_SECRET_KEY={SECRET_KEY}\n"
                f"STOCKSENSE_ADMIN_PASSWORD_HASH={ARGON}\n", 0, None),
    ("secrets", "STOCKSENSE_ADMIN_PASSWORD_HASH=plain-text\n", 1, "not an Argon2id hash"),
    ("secrets", "STOCKSENSE_PORT=6000\n", 1, "unexpected keys in the secrets file"),
])
def test_config_check(tmp_path: Path, kind: str, text: str, code: int, says: str | None) -> None:
    proc = run_cli(tmp_path / "home", "config", "check", "--kind", kind,
                   write(tmp_path / "x.env", text), "--json")
    assert proc.returncode == code, proc.stderr
    result = one_object(proc.stdout)
    assert result["ok"] is (code == 0) and result["kind"] == kind
    if says:
        assert says in result["error"] and says in proc.stderr
    assert SECRET_KEY not in proc.stdout + proc.stderr and ARGON not in proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "home").exists(), "a config check must not create the data directory"


def test_config_check_bad_input(tmp_path: Path) -> None:
    missing = run_cli(tmp_path, "config", "check", "--kind", "settings", str(tmp_path / "no.env"),
                      "--json")
    assert missing.returncode == 2 and "cannot read" in one_object(missing.stdout)["error"]
    wrong_kind = run_cli(tmp_path, "config", "check", "--kind", "other", str(tmp_path / "no.env"))
    assert wrong_kind.returncode == 2 and "Invalid value for '--kind'" in wrong_kind.stderr


def test_data_sync_seeds_watches_imports_then_changes_nothing(tmp_path: Path) -> None:
    home, backtests = tmp_path / "home", tmp_path / "backtests"
    backtests.mkdir()
    backtest = {"refit_every": 20, "metrics": {"served": {"mae": 1.0}}, "points": [],
                "created_at": "2026-01-01"}
    write(backtests / "MSFT.json", json.dumps(backtest))
    first = run_cli(home, "data", "sync", "--backtests", str(backtests), "MSFT", "NVDA", "--json")
    assert first.returncode == 0, first.stderr
    result = one_object(first.stdout)
    assert result["changed"] is True
    assert result["actions"] == ["seeded MSFT: 1511 bundled rows", "seeded NVDA: 2516 bundled rows",
                                 "watch MSFT", "watch NVDA",
                                 "stored backtest of MSFT from 2026-01-01"]
    again = one_object(run_cli(home, "data", "sync", "--backtests", str(backtests), "MSFT", "NVDA",
                               "--json").stdout)
    assert again == {"ok": True, "changed": False, "actions": []}
    narrowed = one_object(run_cli(home, "data", "sync", "--backtests", str(backtests), "MSFT",
                                  "--json").stdout)
    assert narrowed["actions"] == ["unwatch NVDA"]
    symbols = json.loads(run_cli(home, "symbols", "--json").stdout)
    assert {s["symbol"]: s["n_days"] for s in symbols} == {"MSFT": 1511, "NVDA": 2516}


def test_data_sync_refuses_an_unknown_symbol_clearly(tmp_path: Path) -> None:
    proc = run_cli(tmp_path / "home", "data", "sync", "--backtests", str(tmp_path), "ZZZZ",
                   "--json")
    assert proc.returncode == 2
    assert "ZZZZ has no prices and none are bundled" in one_object(proc.stdout)["error"]
    bad = run_cli(tmp_path / "home", "data", "sync", "--backtests", str(tmp_path), "no way!")
    assert bad.returncode == 2 and "Traceback" not in bad.stderr


def _as_reader_without_root_bypass() -> list[str]:
    """Root reads a chmod 000 file anyway (CAP_DAC_OVERRIDE): run the CLI as root without that
    capability (and CAP_DAC_READ_SEARCH), so the kernel really refuses the read as it does for the
    service user. A non-root run needs no prefix."""
    if os.geteuid() != 0:
        return []
    assert shutil.which("setpriv"), "setpriv (util-linux) is needed to drop root's bypass"
    return ["setpriv", "--bounding-set=-dac_override,-dac_read_search", "--"]


def _unreadable(folder: Path) -> list[str]:
    path = folder / "MSFT.json"
    write(path, json.dumps(BACKTEST))
    path.chmod(0)
    return _as_reader_without_root_bypass()


def _not_json(folder: Path) -> list[str]:
    write(folder / "MSFT.json", "{not json")
    return []


def _not_a_backtest(folder: Path) -> list[str]:
    write(folder / "MSFT.json", '{"points": []}')
    return []


def _a_folder_as_file(folder: Path) -> list[str]:
    (folder / "MSFT.json").mkdir()
    return []


def _no_folder(folder: Path) -> list[str]:
    folder.rmdir()
    return []


# Each way the backtests can be bad: (set it up, returning the command's prefix; the error says).
BAD_BACKTESTS = {
    "permission denied": (_unreadable, "cannot read it (Permission denied)"),
    "not JSON": (_not_json, "not JSON"),
    "not a backtest": (_not_a_backtest, "missing refit_every"),
    "a folder, not a file": (_a_folder_as_file, "cannot read it"),
    "no folder": (_no_folder, "does not exist"),
}


@pytest.mark.parametrize("case", list(BAD_BACKTESTS))
def test_data_sync_refuses_a_bad_backtest_clearly_and_changes_nothing(tmp_path: Path,
                                                                      case: str) -> None:
    """Exit 2 with one JSON object naming the path, no traceback, and nothing written: the bad
    file is read before anything is seeded or watched."""
    home, backtests = tmp_path / "home", tmp_path / "backtests"
    backtests.mkdir()
    setup, says = BAD_BACKTESTS[case]
    prefix = setup(backtests)
    named = str(backtests if case == "no folder" else backtests / "MSFT.json")
    proc = subprocess.run([*prefix, sys.executable, "-m", "stocksense", "data", "sync",
                           "--backtests", str(backtests), "MSFT", "--json"],
                          env={**os.environ, "STOCKSENSE_HOME": str(home)},
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 2, proc.stderr
    result = one_object(proc.stdout)
    assert result["ok"] is False and result["changed"] is False and result["actions"] == []
    assert named in result["error"] and says in result["error"], result["error"]
    assert proc.stderr.strip().splitlines() == [f"stocksense: error: {result['error']}"]
    assert json.loads(run_cli(home, "symbols", "--json").stdout) == [], "nothing may be seeded"


class _Answer(http.server.BaseHTTPRequestHandler):
    status = 503

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        self.send_response(type(self).status)
        self.end_headers()
        self.wfile.write(b'{"status": "starting"}')

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Answer)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield httpd
    httpd.shutdown()
    _Answer.status = 503


def test_wait_ready(tmp_path: Path, server) -> None:
    url = f"http://127.0.0.1:{server.server_address[1]}/ready"
    never = run_cli(tmp_path, "wait-ready", "--url", url, "--timeout", "1", "--json")
    assert never.returncode == 1
    assert one_object(never.stdout) == {"ok": False, "ready": False, "status": 503,
                                        "body": '{"status": "starting"}'}
    _Answer.status = 200
    ready = run_cli(tmp_path, "wait-ready", "--url", url, "--timeout", "5", "--json")
    assert ready.returncode == 0 and one_object(ready.stdout)["ready"] is True
    bad = run_cli(tmp_path, "wait-ready", "--url", "ftp://x", "--timeout", "1")
    assert bad.returncode == 2 and "http:// or https://" in bad.stderr


def test_models_list_and_release_export(trained_home: Path, tmp_path: Path) -> None:
    listed = run_cli(trained_home, "models", "list", "MSFT", "--complete", "--json", env=TINY_ENV)
    assert listed.returncode == 0, listed.stderr
    result = one_object(listed.stdout)
    assert result["complete"] is True and result["model_names"] == list(MODEL_NAMES)
    versions = result["symbols"]["MSFT"]
    assert set(versions) == set(MODEL_NAMES) and all(versions.values())
    incomplete = run_cli(trained_home, "models", "list", "MSFT", "AMZN", "--complete", "--json",
                         env=TINY_ENV)
    assert incomplete.returncode == 1
    assert one_object(incomplete.stdout)["missing"] == [f"AMZN {m}" for m in MODEL_NAMES]

    out = tmp_path / "bundle"
    exported = run_cli(trained_home, "release", "export", "--out", str(out), "MSFT", "AMZN",
                       "--json", env=TINY_ENV)
    assert exported.returncode == 0, exported.stderr
    report = one_object(exported.stdout)
    assert report["symbols"]["MSFT"] == {"models": versions, "backtest": True}
    assert report["complete"] is False
    assert report["missing"] == [f"AMZN {m}" for m in MODEL_NAMES] + ["AMZN backtest"]
    # Only the latest version of each model, and the bundle is itself a registry the CLI reads.
    for model, version in versions.items():
        assert [p.name for p in (out / "registry/MSFT" / model / "versions").iterdir()] == [version]
    again = one_object(run_cli(trained_home, "models", "list", "--registry", str(out / "registry"),
                               "--json").stdout)
    assert again["symbols"] == {"MSFT": versions}
    assert json.loads((out / "import/backtests/MSFT.json").read_text())["symbol"] == "MSFT"

    # From files (models downloaded from S3): the same bundle, byte for byte.
    files = tmp_path / "files"
    shutil.copytree(out / "import/backtests", files)
    second = tmp_path / "bundle2"
    assert run_cli(trained_home, "release", "export", "--out", str(second), "--registry",
                   str(trained_home / "registry"), "--backtests", str(files), "MSFT",
                   env=TINY_ENV).returncode == 0
    assert sorted(_tree(second)) == sorted(p for p in _tree(out) if "AMZN" not in p)
    assert all((second / p).read_bytes() == (out / p).read_bytes() for p in _tree(second))


def _tree(root: Path) -> list[str]:
    return [str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()]
