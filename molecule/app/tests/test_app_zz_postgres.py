"""The role's PostgreSQL path with the password from SSM; moto stands in for SSM.

Last suite of the scenario (the others check the SQLite stack converge.yml made): the role runs
again with app_database_url pointing at a throwaway Debian PostgreSQL on the controller's loopback
(127.0.0.1:19421, scram auth, reached from the instance as 10.0.2.2) and
app_database_password_parameter naming the SecureString that prepare.yml put into moto
(127.0.0.1:19420, standing in for SSM). PostgreSQL, systemd's LoadCredential=, the app and the
role are real; only SSM is not.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from ansible_run import ANSIBLE_BIN, PlayResult, ansible_env
from helpers import fetch, role_vars

SERVICES = Path(__file__).resolve().parents[1] / "services.sh"
PARAMETER = "/stocksense/molecule/db/password"
CREDENTIALS = "stocksense-credentials.service"
SECRET_FILE = "/run/stocksense-credentials/database-password"
UNITS = ["stocksense.service", "stocksense-refresh.service", "stocksense-backup.service",
         "stocksense-retrain@MSFT.service", CREDENTIALS]
PG_VARS = {
    "app_database_url": "postgresql+psycopg://stocksense@10.0.2.2:19421/stocksense",
    "app_database_password_parameter": PARAMETER,
    "app_database_networks": ["10.0.2.2/32"],
    "app_ssm_region": "eu-west-1",
    "app_ssm_endpoint_url": "http://10.0.2.2:19420",
    "app_ssm_environment": {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                            "AWS_EC2_METADATA_DISABLED": "true"},
}


def moto_password() -> str:
    """The database password, read from moto (standing in for SSM) on the controller."""
    import boto3  # the controller's virtualenv has it (amazon.aws)

    ssm = boto3.client("ssm", endpoint_url="http://127.0.0.1:19420", region_name="eu-west-1",
                       aws_access_key_id="testing", aws_secret_access_key="testing")
    return ssm.get_parameter(Name=PARAMETER, WithDecryption=True)["Parameter"]["Value"]


def psql(sql: str) -> str:
    """SQL on the throwaway cluster's stocksense database, from the controller."""
    return subprocess.run([str(SERVICES), "psql", sql], capture_output=True, text=True,
                          check=True, timeout=60).stdout.strip()


def play(instance: str, folder: Path, variables: dict) -> PlayResult:
    """The app role against the instance through ansible-playbook (as conftest's run_role does,
    once for the whole module)."""
    inventory = folder / "inventory.ini"
    inventory.write_text(f"{instance} ansible_connection=podman\n")
    playbook = folder / "play.yml"
    playbook.write_text("- hosts: all\n  gather_facts: true\n  roles:\n    - app\n")
    proc = subprocess.run([str(ANSIBLE_BIN / "ansible-playbook"), "-i", str(inventory),
                           str(playbook), "-e", json.dumps(variables)],
                          capture_output=True, text=True, env=ansible_env(), timeout=900,
                          check=False)
    return PlayResult(proc.returncode, proc.stdout + proc.stderr)


def changed_tasks(output: str) -> list[str]:
    """The names of the tasks that reported changed (or failed) in a run's output."""
    names, task = [], ""
    for line in output.splitlines():
        if line.startswith("TASK ["):
            task = line.split("]", 1)[0] + "]" + line.split("]", 1)[1].split("*")[0]
        elif line.startswith(("changed:", "fatal:")) and task not in names:
            names.append(task)
    return names


@pytest.fixture(scope="module")
def pg_runs(first_host, scenario_vars, tmp_path_factory):
    """Two role runs on the PostgreSQL path: (first, second)."""
    variables = role_vars(scenario_vars, **PG_VARS)
    folder = tmp_path_factory.mktemp("pg-play")
    first = play(first_host.backend.name, folder, variables)
    assert not first.failed, first.output[-5000:]
    second = play(first_host.backend.name, folder, variables)
    return first, second


def test_moto_stands_in_for_ssm_the_role_switches_to_postgresql_and_a_rerun_changes_nothing(
        pg_runs):
    first, second = pg_runs
    assert first.changed > 0
    assert not second.failed and second.changed == 0, changed_tasks(second.output)


def test_moto_stands_in_for_ssm_ready_reports_the_database_and_forecasts_answer(first_host,
                                                                               pg_runs):
    ready = fetch(first_host, "/ready")
    assert ready["status"] == 200, ready
    assert json.loads(ready["body"])["database"] is True
    forecast = fetch(first_host, "/api/v1/symbols/MSFT/forecast", accept="application/json")
    assert forecast["status"] == 200, forecast
    env = first_host.file("/etc/stocksense/stocksense.env").content_string
    assert "STOCKSENSE_DATABASE_URL=postgresql+psycopg://stocksense@10.0.2.2:19421/stocksense" in env


def test_moto_stands_in_for_ssm_the_data_is_in_postgresql(first_host, pg_runs):
    """Read from the controller with psql: the role's data step seeded MSFT's prices, its watched
    flag and its backtest there, and the service holds a connection as the app's role."""
    assert int(psql("SELECT count(*) FROM prices WHERE symbol = 'MSFT'")) > 300
    assert psql("SELECT watched FROM symbols WHERE symbol = 'MSFT'") == "t"
    assert int(psql("SELECT count(*) FROM backtests WHERE symbol = 'MSFT'")) == 1
    sessions = psql("SELECT count(*) FROM pg_stat_activity WHERE usename = 'stocksense'")
    assert int(sessions) >= 1, "the service holds no connection to PostgreSQL"


def test_moto_stands_in_for_ssm_the_password_is_a_root_only_file_under_run(first_host, pg_runs):
    folder = first_host.file("/run/stocksense-credentials")
    secret = first_host.file(SECRET_FILE)
    assert (folder.user, folder.mode) == ("root", 0o700)
    assert (secret.user, secret.group, secret.mode) == ("root", "root", 0o600)
    assert first_host.run("runuser -u stocksense -- cat %s", SECRET_FILE).rc != 0
    found = first_host.run("find / -xdev -path /proc -prune -o -type f -name database-password "
                           "-print").stdout.split()
    assert all(p.startswith("/run/") for p in found), found
    props = first_host.check_output(f"systemctl show {CREDENTIALS} -p ActiveState -p User")
    assert "ActiveState=active" in props


def test_moto_stands_in_for_ssm_the_units_load_the_credential(first_host, pg_runs):
    for unit in ["stocksense.service", "stocksense-refresh.service", "stocksense-backup.service",
                 "stocksense-retrain@MSFT.service"]:
        text = first_host.check_output(f"systemctl cat {unit}")
        assert f"Requires={CREDENTIALS}" in text, unit
        assert f"LoadCredential=database-password:{SECRET_FILE}" in text, unit
        assert "Environment=STOCKSENSE_DATABASE_PASSWORD_FILE=%d/database-password" in text, unit


def test_moto_stands_in_for_ssm_the_password_is_in_no_env_file_unit_journal_or_show(first_host,
                                                                                    pg_runs):
    password = moto_password()
    assert first_host.file(SECRET_FILE).content_string == password  # the right value was fetched
    places = {
        "env files": first_host.check_output("cat /etc/stocksense/*.env"),
        "unit files": first_host.check_output("cat /etc/systemd/system/stocksense*"),
        "journal": first_host.check_output("journalctl --no-pager -o cat"),
        "systemctl show": first_host.check_output("systemctl show " + " ".join(UNITS)),
        "process environments": first_host.check_output(
            "cat /proc/$(systemctl show -p MainPID --value stocksense.service)/environ"),
    }
    leaked = [where for where, text in places.items() if password in text]
    assert leaked == [], f"the password is in: {leaked}"


def test_moto_stands_in_for_ssm_a_missing_parameter_fails_the_fetch_with_a_clear_journal_line(
        first_host, pg_runs):
    """On a copy of the fetch unit naming a parameter moto does not have (its own runtime folder,
    so the real one is left alone)."""
    copy = "stocksense-credentials-check.service"
    first_host.check_output(
        f"sed -e 's|{PARAMETER}=|/stocksense/molecule/db/missing=|' "
        f"-e 's|stocksense-credentials|stocksense-credentials-check|g' "
        f"/etc/systemd/system/{CREDENTIALS} > /etc/systemd/system/{copy} && systemctl daemon-reload")
    try:
        started = first_host.run(f"systemctl start {copy}")
        assert started.rc != 0
        journal = first_host.check_output(f"journalctl --no-pager -o cat -u {copy}")
        assert ("stocksense: error: no such SSM parameter (or not readable): "
                "/stocksense/molecule/db/missing") in journal, journal
        assert moto_password() not in journal
        assert first_host.file(SECRET_FILE).exists, "the real credential was touched"
        assert fetch(first_host, "/ready")["status"] == 200
    finally:
        first_host.run(f"rm -f /etc/systemd/system/{copy} && systemctl daemon-reload && "
                       f"systemctl reset-failed {copy}")


@pytest.mark.parametrize("changes, says", [
    ({"app_database_url": "postgresql+psycopg://stocksense:hunter2-in-url@10.0.2.2:19421/stocksense"},
     "naming no password (the value is not shown)"),
    ({"app_database_url": "", "app_database_password_parameter": PARAMETER},
     "and only with\napp_database_url"),
])
def test_a_password_in_the_url_or_a_parameter_without_url_is_refused_before_any_change(
        first_host, run_role, scenario_vars, changes, says):
    before = first_host.run("cat /etc/stocksense/stocksense.env").stdout
    result = run_role("app", role_vars(scenario_vars, **(PG_VARS | changes)))
    assert result.failed
    assert "Invalid database settings" in result.output
    assert " ".join(says.split()) in " ".join(result.output.split())
    assert "hunter2-in-url" not in result.output
    assert first_host.run("cat /etc/stocksense/stocksense.env").stdout == before
