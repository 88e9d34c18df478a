"""Restart policy, the unit-failure alert, and the backup timer with a local destination.

Debian 13's systemd 257: after each crash the web service comes back with a growing delay
(RestartSteps=/RestartMaxDelaySec=) and never ends `failed`; every crash and every failed backup
writes {"event": "unit_failed", ...} to the journal (OnFailure=stocksense-unit-failed@%n.service).
The scenario's backup destination is a local directory (vars/main.yml); S3 (moto) is the default
scenario's disaster-recovery drill. No traffic leaves the instance.
"""

from __future__ import annotations

import json
import re
import time

import pytest
from helpers import fetch, unit_props

try:
    from helpers import role_vars
except ImportError:  # helpers without role_vars: the scenario's variables as they are
    def role_vars(scenario_vars: dict, **changes) -> dict:
        return scenario_vars | changes

BACKUP_DIR = "/var/backups/stocksense"
BACKUP = "stocksense-backup.service"
DB = "/var/lib/stocksense/stocksense.db"
EXPOSURE_TARGET = 2.5

# Inside the instance: SIGKILL the main process `kills` times; after each, time how long systemd
# waits before it starts the next main process (from the kill to a new MainPID running).
_KILL_LOOP = r'''
import json, os, signal, subprocess, sys, time
def show():
    out = subprocess.run(["systemctl", "show", "-p", "MainPID", "-p", "SubState", "-p", "ActiveState",
                          "-p", "NRestarts", "stocksense.service"], capture_output=True, text=True).stdout
    return dict(line.split("=", 1) for line in out.splitlines())
delays, states = [], set()
for _ in range(int(sys.argv[1])):
    old = int(show()["MainPID"])
    os.kill(old, signal.SIGKILL)
    start = time.monotonic()
    while time.monotonic() - start < 120:
        props = show()
        states.add(props["ActiveState"])
        if props["SubState"] == "running" and int(props["MainPID"]) not in (0, old):
            break
        time.sleep(0.05)
    delays.append(round(time.monotonic() - start, 2))
    time.sleep(0.5)
print(json.dumps({"delays": delays, "states": sorted(states), "end": show()}))
'''


def wait_healthy(host, timeout: float = 60) -> None:
    """Until /health answers 200 (connection refused while the service starts)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if fetch(host, "/health")["status"] == 200:
                return
        except AssertionError:
            pass
        assert time.monotonic() < deadline, "stocksense.service did not turn healthy again"
        time.sleep(0.5)


def journal_json(host, identifier: str, since: str) -> list[dict]:
    out = host.check_output("journalctl -t %s --since %s -o cat --no-pager", identifier, since)
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def alerts_after(host, since: str, count: int, timeout: float = 30) -> list[dict]:
    """The unit-failure alerts logged since `since`, waiting up to `timeout` s for `count` of them:
    each comes from its own OnFailure= unit, which on a loaded machine can run after the restart
    (3 of 4 were there at once at load 8-10)."""
    deadline = time.monotonic() + timeout
    while len(alerts := journal_json(host, "stocksense-alert", since)) < count and time.monotonic() < deadline:
        time.sleep(1)
    return alerts


def now(host) -> str:
    """The instance's clock, as journalctl --since takes it."""
    return "@" + host.check_output("date +%s.%N")


@pytest.fixture
def fresh_service(host):
    """A manually restarted service (systemd counts the back-off from there); the same afterwards."""
    host.check_output("systemctl restart stocksense.service")
    wait_healthy(host)
    yield
    host.check_output("systemctl restart stocksense.service")
    wait_healthy(host)


def test_web_unit_never_gives_up_and_backs_off(host):
    props = unit_props(host, "stocksense.service", "StartLimitIntervalUSec", "RestartUSec", "RestartSteps",
                       "RestartMaxDelayUSec", "OnFailure")
    assert props["StartLimitIntervalUSec"] == "0"
    assert props["RestartUSec"] == "1s" and props["RestartSteps"] == "6" and props["RestartMaxDelayUSec"] == "1min 4s"
    assert props["OnFailure"] == "stocksense-unit-failed@stocksense.service.service"


def test_crashes_restart_with_growing_delays_each_logged_once(host, fresh_service):
    since = now(host)
    result = json.loads(host.check_output("python3 -c %s 4", _KILL_LOOP))
    print(f"delays between SIGKILL and the next start: {result['delays']} s")
    delays = result["delays"]
    # 1, 2, 4, 8 s (geometric, ratio 2); polling adds a little to each.
    assert delays[0] < 2.5, delays
    assert all(later > earlier * 1.5 for earlier, later in zip(delays, delays[1:])), delays
    assert "failed" not in result["states"] and result["end"]["ActiveState"] == "active", result
    assert int(result["end"]["NRestarts"]) >= 4
    alerts = alerts_after(host, since, count=4)
    assert [a["unit"] for a in alerts] == ["stocksense.service"] * 4, alerts
    assert {(a["event"], a["result"], a["exit_status"]) for a in alerts} == {("unit_failed", "signal", "KILL")}


def test_backup_timer_is_daily_persistent_and_the_unit_hardened(host):
    timer = unit_props(host, "stocksense-backup.timer", "ActiveState", "UnitFileState", "Persistent",
                       "RandomizedDelayUSec", "TimersCalendar")
    assert timer["ActiveState"] == "active" and timer["UnitFileState"] == "enabled"
    assert timer["Persistent"] == "yes" and timer["RandomizedDelayUSec"] == "30min"
    assert "03:30:00" in timer["TimersCalendar"]
    unit = unit_props(host, BACKUP, "Type", "User", "NoNewPrivileges", "ProtectSystem", "ProtectHome",
                      "CapabilityBoundingSet", "ReadWritePaths", "OnFailure", "RuntimeMaxUSec")
    assert unit["Type"] == "oneshot" and unit["User"] == "stocksense"
    assert unit["NoNewPrivileges"] == "yes" and unit["ProtectSystem"] == "strict" and unit["ProtectHome"] == "yes"
    assert unit["CapabilityBoundingSet"] == ""
    assert set(unit["ReadWritePaths"].split()) == {"/var/lib/stocksense", BACKUP_DIR}
    assert unit["OnFailure"] == f"stocksense-unit-failed@{BACKUP}.service"
    assert unit["RuntimeMaxUSec"] == "1h"
    out = host.check_output("systemd-analyze security --no-pager %s", BACKUP)
    score = float(out.rsplit(f"Overall exposure level for {BACKUP}: ", 1)[1].split()[0])
    print(f"systemd-analyze security exposure of {BACKUP}: {score}")
    assert score < EXPOSURE_TARGET


def test_backup_runs_as_the_timer_would_and_names_the_latest(host):
    since = now(host)
    host.check_output("systemctl start %s", BACKUP)
    summary = journal_json(host, "stocksense-backup", since)[-1]
    print(f"backup summary: {summary}")
    latest = host.file(f"{BACKUP_DIR}/backups/LATEST").content_string.strip()
    assert latest == summary["backup"]
    manifest = json.loads(host.file(f"{BACKUP_DIR}/backups/{latest}/manifest.json").content_string)
    assert manifest and summary["files"] >= 2 and summary["bytes"] > 0
    # A second run right after uploads nothing new but the database's changes.
    host.check_output("systemctl start %s", BACKUP)
    again = journal_json(host, "stocksense-backup", since)[-1]
    assert again["backup"] != latest and again["skipped"] >= 1


def test_failed_backup_logs_its_error_and_the_alert(host):
    """A file where the destination directory should be: the command fails, the unit fails."""
    since = now(host)
    host.check_output("mv %s %s.keep && install -o stocksense -m 0600 /dev/null %s", BACKUP_DIR, BACKUP_DIR, BACKUP_DIR)
    try:
        assert host.run("systemctl start %s", BACKUP).rc != 0
        assert unit_props(host, BACKUP, "ActiveState")["ActiveState"] == "failed"
        # --json: the event line on stderr, the summary {"ok": false, ...} on stdout.
        errors = [line for line in journal_json(host, "stocksense-backup", since) if "event" in line]
        assert [e["event"] for e in errors] == ["backup_failed"] and "not a directory" in errors[0]["error"], errors
        deadline = time.monotonic() + 10
        while not (alerts := journal_json(host, "stocksense-alert", since)):
            assert time.monotonic() < deadline, "no unit_failed line for the failed backup"
            time.sleep(0.3)
        assert alerts == [alerts[0]] and alerts[0]["unit"] == BACKUP and alerts[0]["result"] == "exit-code", alerts
    finally:
        host.run("rm -f %s && mv %s.keep %s && systemctl reset-failed %s", BACKUP_DIR, BACKUP_DIR, BACKUP_DIR, BACKUP)


def test_role_restores_an_instance_without_database_and_refuses_a_corrupt_backup(first_host, run_role, scenario_vars):
    """restore_from_backup through the role: a flipped byte stops the play and writes nothing; the
    intact backup is restored before the service starts; a second run changes nothing."""
    host = first_host
    latest = host.file(f"{BACKUP_DIR}/backups/LATEST").content_string.strip()
    manifest = json.loads(host.file(f"{BACKUP_DIR}/backups/{latest}/manifest.json").content_string)
    entry = next(f for f in manifest["files"] if f["path"].startswith("database/"))
    blob = f"{BACKUP_DIR}/objects/sha256/{entry['sha256']}"
    registry = host.check_output("find /var/lib/stocksense/registry -type f -exec sha256sum {} + | sort")
    restoring = role_vars(scenario_vars, app_restore_from_backup=True)
    host.check_output("systemctl stop stocksense.service && mv %s %s.aside && cp -p %s %s.good", DB, DB, blob, blob)
    host.check_output("python3 -c %s %s", "import sys; p = sys.argv[1]; b = bytearray(open(p, 'rb').read()); "
                      "b[len(b) // 2] ^= 1; open(p, 'wb').write(b)", blob)
    try:
        refused = run_role("app", restoring)
        assert refused.failed, refused.output[-3000:]
        assert f"Restoring backup latest from {BACKUP_DIR} failed" in refused.output
        assert "is corrupt" in refused.output and "Nothing was replaced" in refused.output
        assert not host.file(DB).exists
        assert host.check_output("find /var/lib/stocksense/registry -type f -exec sha256sum {} + | sort") == registry
        # No staging folder or *.before-restore copy left behind.
        assert not [n for n in host.check_output("ls -A /var/lib/stocksense").split() if "restore" in n]
        host.check_output("cp -p %s.good %s", blob, blob)
        restored = run_role("app", restoring)
        assert not restored.failed, restored.output[-3000:]
        # "Say what was restored" prints a mapping: restored: <id> (YAML) or "restored": "<id>" (JSON).
        assert re.search(r"restored\W{0,4}" + re.escape(latest), restored.output), restored.output[-3000:]
        assert host.file(DB).exists and fetch(host, "/health")["status"] == 200
        assert run_role("app", restoring).changed == 0
    finally:
        host.run("cp -p %s.good %s; rm -f %s.good", blob, blob, blob)
        host.run("test -e %s && rm -f %s.aside || mv %s.aside %s", DB, DB, DB, DB)
        host.run("systemctl start stocksense.service")
        wait_healthy(host)
