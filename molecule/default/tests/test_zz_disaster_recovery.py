"""Disaster-recovery drill on the whole sandbox stack, last of the scenario's tests (it replaces the
instance).

AWS cannot be reached here: moto on 127.0.0.1 stands in for S3 (the backup bucket the provision
stage made); the instance is a real podman systemd container that reaches moto as 10.0.2.2.
1. record the watched symbols, model versions and forecast answers (from the app on the
   instance's loopback; NVDA's newest price row is deleted first, so the data is not what a fresh
   instance would seed from the bundled prices and a restore that did not happen shows);
2. run the backup as the timer does (systemctl start stocksense-backup.service);
3. destroy the instance and its volume (teardown.yml, which keeps the backups; sandbox.yml then
   removes the container);
4. bring up a fresh instance with restore_from_backup=true (provision, sandbox, the app role:
   the trained models are reused, nothing is retrained);
5. the same symbols, model versions and byte-identical forecast answers.
Then one byte of the backup's database object is flipped in moto's S3: restore refuses it and the
running system keeps its data and answers.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import time

import boto3
import pytest
from sandbox_site import SandboxInstance, playbook, roles_beside_the_app

INSTANCE = "stocksense-e2e-web"
DB = "/var/lib/stocksense/stocksense.db"
# The fresh instance gets the app role only (the drill is about the data).
OTHER_ROLES = roles_beside_the_app()
RESTORE_CMD = ["systemd-run", "--quiet", "--wait", "--pipe", "--collect", "-p", "User=stocksense",
               "-p", "EnvironmentFile=/etc/stocksense/stocksense.env", "-p", "EnvironmentFile=/etc/stocksense/backup.env",
               "/opt/stocksense/current/venv/bin/stocksense", "restore", "--json", "--from"]

_DROP_NEWEST_NVDA = r'''
import sqlite3
db = sqlite3.connect("/var/lib/stocksense/stocksense.db")
with db:
    (newest,) = db.execute("select max(date) from prices where symbol = 'NVDA'").fetchone()
    db.execute("delete from prices where symbol = 'NVDA' and date = ?", (newest,))
print(newest)
'''


# The instance's loopback, the sandbox inventory and what is compared: tests/sandbox_site.py.
box = SandboxInstance(INSTANCE)
instance, fetch, wait_ready, snapshot = box.run, box.fetch, box.wait_ready, box.snapshot


def backup_destination() -> str:
    unit = instance("systemctl", "cat", "stocksense-backup.service").stdout
    return re.search(r" --to (s3://\S+)", unit).group(1)


def s3():
    """moto's S3 on this machine's loopback (the scenario's MOTO_PORT)."""
    return boto3.client("s3", endpoint_url=f"http://127.0.0.1:{os.environ['MOTO_PORT']}", region_name="eu-west-1")


def restore_summary(output: str) -> dict:
    """The role's "Say what was restored" (a mapping; YAML or JSON callback): id and seconds."""
    restored = re.search(r'restored\W{0,4}(\d{8}T\d{6}Z)', output)
    seconds = re.search(r'seconds\W{0,4}([0-9.]+)', output[restored.end() - 200:] if restored else "")
    assert restored and seconds, f"no restore summary in the play output:\n{output[-4000:]}"
    return {"restored": restored.group(1), "seconds": float(seconds.group(1))}


@pytest.fixture(scope="module")
def drill() -> dict:
    started = time.monotonic()
    figures: dict = {}
    # 1. Data a fresh instance would not have: NVDA without its newest day, served after a restart.
    dropped = instance("runuser", "-u", "stocksense", "--", "python3", "-c", _DROP_NEWEST_NVDA).stdout.strip()
    instance("systemctl", "restart", "stocksense.service")
    wait_ready()
    before = snapshot()
    # 2. The backup, as its timer runs it.
    since = "@" + instance("date", "+%s.%N").stdout.strip()
    instance("systemctl", "start", "stocksense-backup.service", timeout=900)
    log = instance("journalctl", "-t", "stocksense-backup", "--since", since, "-o", "cat", "--no-pager").stdout
    figures["backup"] = [json.loads(line) for line in log.splitlines() if line.startswith("{")][-1]
    destination = backup_destination()
    # 3. Instance and volume gone; the backups stay (teardown without teardown_delete_backups).
    _, figures["teardown_seconds"] = playbook("playbooks/teardown.yml")
    _, figures["remove_container_seconds"] = playbook("playbooks/sandbox.yml")
    assert subprocess.run(["podman", "container", "exists", INSTANCE], check=False).returncode == 1
    # 4. A fresh instance restored from the latest backup (site.yml's stages, the app role only).
    # Two runs, as scripts/demo.sh stages them: within one run the configure play does not see the
    # BackupDestination tag that provision set after the instance was created.
    _, provision_seconds = playbook("site.yml", "--tags", "provision,sandbox")
    output, configure_seconds = playbook("site.yml", "--tags", "configure", "--skip-tags", "preflight," + OTHER_ROLES,
                                         "-e", "restore_from_backup=true")
    figures["rebuild_seconds"] = provision_seconds + configure_seconds
    figures["restore"] = restore_summary(output)
    wait_ready()
    figures["drill_seconds"] = time.monotonic() - started
    print(f"\ndisaster-recovery drill: {json.dumps(figures)}")
    return {"before": before, "dropped": dropped, "destination": destination,
            "figures": figures}


def test_backup_summary_counts_the_database_and_models(drill):
    backup = drill["figures"]["backup"]
    assert re.match(r"^\d{8}T\d{6}Z$", backup["backup"]) and backup["files"] > 1 and backup["bytes"] > 0, backup
    assert drill["figures"]["restore"]["restored"] == backup["backup"]


def test_fresh_instance_serves_the_same_symbols_models_and_forecasts(drill):
    after = snapshot()
    assert after["symbols"] == drill["before"]["symbols"] == ["AMZN", "MSFT", "NVDA"]
    assert after["models"] == drill["before"]["models"]
    for path, body in drill["before"]["answers"].items():
        assert after["answers"][path] == body, f"{path} differs after the restore"


def test_the_restored_data_is_the_backup_not_a_fresh_seed(drill):
    """NVDA's newest bundled day was deleted before the backup: a re-seeded instance would have it."""
    rows = instance("runuser", "-u", "stocksense", "--", "python3", "-c",
                    "import sqlite3; print(sqlite3.connect('/var/lib/stocksense/stocksense.db')"
                    ".execute(\"select count(*) from prices where symbol='NVDA' and date=?\", ('%s',)).fetchone()[0])"
                    % drill["dropped"]).stdout.strip()
    assert rows == "0"


def test_second_run_with_the_database_present_changes_nothing(drill):
    output, _ = playbook("site.yml", "--tags", "configure", "--skip-tags", "preflight," + OTHER_ROLES,
                         "-e", "restore_from_backup=true")
    recap = re.search(rf"^{INSTANCE}\s*:\s*ok=\d+\s+changed=(\d+)", output, re.MULTILINE)
    assert recap and recap.group(1) == "0", output[-3000:]


def test_corrupt_backup_object_is_refused_and_the_system_untouched(drill):
    bucket, _, prefix = drill["destination"].removeprefix("s3://").partition("/")
    client = s3()
    base = f"{prefix.rstrip('/')}/" if prefix else ""
    latest = client.get_object(Bucket=bucket, Key=f"{base}backups/LATEST")["Body"].read().decode().strip()
    manifest = json.loads(client.get_object(Bucket=bucket, Key=f"{base}backups/{latest}/manifest.json")["Body"].read())
    entry = next(f for f in manifest["files"] if f["path"].startswith("database/"))
    key = f"{base}objects/sha256/{entry['sha256']}"
    original = client.get_object(Bucket=bucket, Key=key)["Body"].read()
    flipped = bytearray(original)
    flipped[len(flipped) // 2] ^= 0x01
    client.put_object(Bucket=bucket, Key=key, Body=bytes(flipped))
    answers_before = snapshot()
    try:
        instance("systemctl", "stop", "stocksense.service")
        # Taken with the service stopped: SQLite folds its -wal file in when the last connection closes.
        db_before = instance("sha256sum", DB).stdout
        home_before = instance("ls", "-A", "/var/lib/stocksense").stdout
        refused = instance(*RESTORE_CMD, drill["destination"], "--backup", "latest", check=False)
        print(f"restore of the corrupt backup: rc={refused.returncode} {refused.stderr.strip()[-500:]}")
        assert refused.returncode == 1
        error = json.loads(refused.stderr.strip().splitlines()[-1])
        assert error["event"] == "restore_failed" and entry["sha256"][:12] in error["error"], error
        assert instance("sha256sum", DB).stdout == db_before
        assert instance("ls", "-A", "/var/lib/stocksense").stdout == home_before
    finally:
        client.put_object(Bucket=bucket, Key=key, Body=original)
        instance("systemctl", "start", "stocksense.service")
    wait_ready()
    assert snapshot() == answers_before
    assert hashlib.sha256(original).hexdigest() == entry["sha256"]
