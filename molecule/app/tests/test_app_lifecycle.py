"""The service's behaviour: crash recovery, restarts, offline refresh, rollback, bad input.

These run on the scenario's first instance; the rollback and refusal tests run the role again
through ansible-playbook with the scenario's variables plus the override under test.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
import zipfile
from pathlib import Path

import pytest
from conftest import REPO
from helpers import fetch, role_vars, unit_props

ARTIFACTS = REPO / ".cache" / "app-artifacts-molecule"

# Kill the main process with SIGKILL, then time from inside the instance when systemd has started a
# new main process (its restart policy: load-independent) and when /health answers again (the app's
# start-up: Python imports and model loading, slower on a loaded machine).
_KILL_AND_WAIT = r'''
import json, os, signal, subprocess, time, urllib.request
def main_pid():
    return int(subprocess.run(["systemctl", "show", "-p", "MainPID", "--value", "stocksense.service"],
                              capture_output=True, text=True).stdout.strip() or 0)
old = main_pid()
os.kill(old, signal.SIGKILL)
start = time.monotonic()
restarted = healthy = None
while time.monotonic() - start < 60:
    pid = main_pid()
    if restarted is None and pid not in (0, old):
        restarted = round(time.monotonic() - start, 2)
    try:
        with urllib.request.urlopen("http://127.0.0.1:5005/health", timeout=2) as r:
            if r.status == 200 and pid not in (0, old):
                healthy = round(time.monotonic() - start, 2)
                break
    except OSError:
        pass
    time.sleep(0.2)
print(json.dumps({"old": old, "new": main_pid(), "restarted": restarted, "healthy": healthy}))
'''

# Counts that a restart or a failed refresh must leave alone (read with the release's own code).
_DATA_SNAPSHOT = r'''
import json
from stocksense.cli.common import settings_and_engine
from stocksense.data import queries
_s, engine = settings_and_engine()
print(json.dumps({s["symbol"]: [s["n_days"], s["last_date"], s["watched"]] for s in queries.list_symbols(engine)}
                 | {"backtest": queries.latest_backtest_id(engine, "MSFT")}))
'''


def data_snapshot(host) -> dict:
    out = host.check_output("runuser -u stocksense -- env STOCKSENSE_HOME=/var/lib/stocksense "
                            "/opt/stocksense/current/venv/bin/python -c %s", _DATA_SNAPSHOT)
    return json.loads(out.splitlines()[-1])


def test_sigkill_is_restarted_within_10_seconds_and_healthy_again(first_host):
    """systemd's part is timed (a new main process within 10 s: RestartSec plus the fork); the app's
    start-up only has to end within a minute, since its time is the machine's load as much as ours
    (once 11.2 s at load 8-19 with three scenarios side by side). Both figures are printed."""
    result = json.loads(first_host.check_output("python3 -c %s", _KILL_AND_WAIT))
    print(f"SIGKILL -> new main process after {result['restarted']} s, healthy after {result['healthy']} s "
          f"(pid {result['old']} -> {result['new']})")
    assert result["new"] not in (0, result["old"])
    assert result["restarted"] is not None and result["restarted"] < 10
    assert result["healthy"] is not None, "not healthy again within 60 s of the kill"
    assert fetch(first_host, "/health")["status"] == 200


def test_restart_keeps_the_data(first_host):
    before = data_snapshot(first_host)
    inode = first_host.file("/var/lib/stocksense/stocksense.db").inode
    assert before["MSFT"][0] > 1000 and before["backtest"] is not None
    first_host.check_output("systemctl restart stocksense.service")
    ready = first_host.check_output("/opt/stocksense/current/venv/bin/stocksense wait-ready --json --url http://127.0.0.1:5005/health --timeout 30")
    assert json.loads(ready)["ready"]
    assert data_snapshot(first_host) == before
    assert first_host.file("/var/lib/stocksense/stocksense.db").inode == inode


def test_failed_price_refresh_logs_and_keeps_the_data(first_host):
    """The refresh job run with no network at all (a private network namespace): it must finish,
    say what failed, and leave the stored prices as they were. No traffic leaves the instance."""
    dropin = "/run/systemd/system/stocksense-refresh.service.d"
    before = data_snapshot(first_host)
    since = first_host.check_output("date -u '+%Y-%m-%d %H:%M:%S'")
    first_host.check_output(f"mkdir -p {dropin} && printf '[Service]\\nPrivateNetwork=yes\\n' > {dropin}/offline.conf && systemctl daemon-reload")
    try:
        run = first_host.run("systemctl start stocksense-refresh.service")
        assert run.rc == 0, run.stderr
        # Type=exec: start returns once the job runs; wait for it to finish (RuntimeMaxSec bounds it).
        for _ in range(120):
            if unit_props(first_host, "stocksense-refresh.service", "ActiveState")["ActiveState"] != "active":
                break
            time.sleep(0.5)
        assert unit_props(first_host, "stocksense-refresh.service", "Result")["Result"] == "success"
        log = first_host.check_output(f"journalctl --no-pager -o cat -t stocksense-refresh --since '{since}'")
        events = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
        msft = [e for e in events if e.get("symbol") == "MSFT"]
        assert msft and msft[-1]["ok"] is False and msft[-1]["error"], log
        assert any(e.get("event") == "done" for e in events)
    finally:
        first_host.run(f"rm -rf {dropin} && systemctl daemon-reload")
    assert data_snapshot(first_host) == before


def broken_wheel(good: Path, dest: Path) -> Path:
    """The good wheel with run_server raising at start: installs fine, never serves."""
    target = "stocksense/web/cli.py"
    marker = b"def run_server(cfg, app=None, ready=None) -> None:\n"
    out = dest / good.name
    with zipfile.ZipFile(good) as zin, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
        record = next(n for n in zin.namelist() if n.endswith(".dist-info/RECORD"))
        patched = zin.read(target)
        assert marker in patched, "run_server moved: update the broken-release test"
        patched = patched.replace(marker, marker + b'    raise RuntimeError("deliberately broken release")\n', 1)
        for item in zin.infolist():
            if item.filename == record:
                continue
            zout.writestr(item, patched if item.filename == target else zin.read(item.filename))
        digest = base64.urlsafe_b64encode(hashlib.sha256(patched).digest()).rstrip(b"=").decode()
        lines = [f"{target},sha256={digest},{len(patched)}" if line.startswith(target + ",") else line
                 for line in zin.read(record).decode().splitlines()]
        zout.writestr(record, "\n".join(lines) + "\n")
    return out


def test_broken_release_is_rolled_back(first_host, run_role, scenario_vars, tmp_path):
    good = next((ARTIFACTS / "dist").glob("stocksense-*.whl"))
    wheel = broken_wheel(good, tmp_path)
    current = first_host.file("/opt/stocksense/current").linked_to
    releases = first_host.check_output("ls /opt/stocksense/releases").split()
    result = run_role("app", role_vars(scenario_vars, app_wheel=str(wheel), app_health_timeout=15))
    assert result.failed, result.output[-3000:]
    assert "did not turn healthy" in result.output
    assert "last /ready answer" in result.output, "the gate is readiness, not liveness"
    assert "deliberately broken release" in result.output
    assert "Rolled back" in result.output
    assert first_host.file("/opt/stocksense/current").linked_to == current
    assert first_host.check_output("ls /opt/stocksense/releases").split() == releases
    assert fetch(first_host, "/health")["status"] == 200


def test_missing_secret_key_is_refused_without_showing_secrets(first_host, run_role, scenario_vars):
    before = first_host.file("/etc/stocksense/secrets.env").md5sum
    result = run_role("app", role_vars(scenario_vars, app_secret_key=""))
    assert result.failed
    assert "app_secret_key must be set" in result.output
    assert scenario_vars["app_admin_password_hash"] not in result.output
    assert first_host.file("/etc/stocksense/secrets.env").md5sum == before


@pytest.mark.parametrize("url", ["/etc/stocksense/prices.json", "/var/lib/stocksense/../../etc/x.json",
                                 "s3://Bad_Bucket/prices.json", "s3://bucket-only", "relative.json"])
def test_a_prices_object_url_outside_app_home_or_s3_is_refused(run_role, scenario_vars, url):
    result = run_role("app", role_vars(scenario_vars, app_prices_object_url=url), tasks_from="validate")
    assert result.failed
    assert "app_prices_object_url empty, s3://bucket/key or a file under /var/lib/stocksense" in result.output


def test_watched_symbol_without_models_is_refused_before_any_change(first_host, run_role, scenario_vars):
    current = first_host.file("/opt/stocksense/current").linked_to
    result = run_role("app", role_vars(scenario_vars, app_watchlist=["MSFT", "NVDA"], app_build_artifacts=False))
    assert result.failed
    assert "NVDA (not in the release)" in result.output
    assert "/health would never answer 200" in result.output
    assert first_host.file("/opt/stocksense/current").linked_to == current
    assert "NVDA" not in [s for s, v in data_snapshot(first_host).items() if isinstance(v, list) and v[2]]


def test_wrong_type_fails_with_the_argument_spec(run_role, scenario_vars):
    result = run_role("app", role_vars(scenario_vars, app_listen_port="http"))
    assert result.failed
    assert "app_listen_port" in result.output
    assert "argument spec" in result.output.lower() or "argument_spec" in result.output.lower()
