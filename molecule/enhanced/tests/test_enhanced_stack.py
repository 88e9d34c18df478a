"""The enhanced profile end to end: the app's state lives off the instance.

AWS cannot be reached here. moto on 127.0.0.1 stands in for RDS, SSM, S3 and CloudFront: it keeps
their settings but runs no database and serves no edge. So a real PostgreSQL (Debian's, in a podman
container: playbooks/tasks/sandbox-database.yml) stands in for the RDS endpoint, with the endpoint's
name mapped to it inside the instance container, and the password role aws_enhanced generated in
moto's SSM; the model registry is a real registry in moto's S3, which the instance pulls from.
The last test kills the instance container and builds a new one from scratch: with nothing living
on it, the same forecasts and model versions come back without any restore step.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from urllib.parse import urlparse

import boto3
import pytest
from sandbox_site import SandboxInstance, check_dashboard, playbook

INSTANCE = "stocksense-enh-web"
PARAMETERS = "/stocksense/enh"
SQLITE_DB = "/var/lib/stocksense/stocksense.db"
# The recreated instance gets the app role only (the point is the app's state); the other roles
# are skipped rather than --tags app, which would skip the configure play's fact gathering.
OTHER_ROLES = "baseline,swap,nginx,certbot,cloudwatch_agent"

box = SandboxInstance(INSTANCE)


def moto(service: str):
    return boto3.client(service, endpoint_url=f"http://127.0.0.1:{os.environ['MOTO_PORT']}", region_name="eu-west-1")


def parameter(name: str) -> str:
    return moto("ssm").get_parameter(Name=f"{PARAMETERS}/{name}", WithDecryption=True)["Parameter"]["Value"]


def psql(sql: str) -> list[list[str]]:
    """Rows from the database's stand-in, logged in as the app's user with the password from SSM."""
    dsn = (f"host=127.0.0.1 port={os.environ['SANDBOX_DB_PORT']} dbname={parameter('db/name')} "
           f"user={parameter('db/username')}")
    run = subprocess.run(["psql", "--no-psqlrc", "--tuples-only", "--no-align", "--field-separator=|",
                          "--command", sql, dsn], capture_output=True, text=True, check=False, timeout=60,
                         env=dict(os.environ, PGPASSWORD=parameter("db/password")))
    assert run.returncode == 0, run.stderr
    return [line.split("|") for line in run.stdout.splitlines() if line]


def registry_versions() -> dict[tuple[str, str], str]:
    """(symbol, model) -> the version each `latest` pointer in the S3 registry names."""
    url = urlparse(parameter("registry/url"))
    bucket, prefix = url.netloc, url.path.strip("/")
    s3 = moto("s3")
    keys = [o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix + "/")
            for o in page.get("Contents", [])]
    out = {}
    for key in keys:
        parts = key[len(prefix) + 1:].split("/")
        if len(parts) == 3 and parts[2] == "latest":
            out[(parts[0], parts[1])] = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())["version"]
    return out


def served_versions() -> dict[tuple[str, str], str]:
    models = json.loads(box.fetch("/api/v1/models")["/api/v1/models"]["body"])["models"]
    return {(m["symbol"], m["model_name"]): str(m["version"]) for m in models}


def test_ready_reports_the_database_and_every_symbol(site):
    status, _, body = site.get("/ready")
    ready = json.loads(body)
    assert status == 200 and ready["status"] == "ok", ready
    assert ready["watched"] == ready["with_model"] == 3


def test_the_app_is_configured_for_postgresql_without_the_password():
    env = box.run("cat", "/etc/stocksense/stocksense.env").stdout
    expected = (f"STOCKSENSE_DATABASE_URL=postgresql+psycopg://{parameter('db/username')}@"
                f"{parameter('db/host')}:{parameter('db/port')}/{parameter('db/name')}")
    assert expected in env
    assert parameter("db/password") not in env
    # No SQLite database on the instance: nothing there to lose.
    assert box.run("test", "-e", SQLITE_DB, check=False).returncode == 1


def test_prices_backtests_and_watchlist_live_in_postgresql():
    prices = dict(psql("select symbol, count(*) from prices group by symbol"))
    assert {"NVDA", "AMZN", "MSFT"} <= set(prices) and all(int(n) > 100 for n in prices.values()), prices
    watched = {row[0] for row in psql("select symbol from symbols where watched")}
    assert watched == {"NVDA", "AMZN", "MSFT"}


def test_served_models_are_the_s3_registry_versions():
    in_s3 = registry_versions()
    assert len(in_s3) == 6, in_s3  # 3 symbols x 2 models
    assert served_versions() == in_s3


def test_dashboard_in_a_browser_shows_forecasts_from_postgresql(site, browser):
    check_dashboard(site, browser, "enhanced")


def test_an_unreachable_database_fails_readiness_with_a_reason_and_liveness_stays(site):
    """The database's container stopped: /ready 503 naming the database, /health still 200."""
    container = INSTANCE.replace("-web", "-db")
    subprocess.run(["podman", "stop", "--time", "5", container], check=True, capture_output=True)
    try:
        status, _, body = site.get("/ready")
        assert status == 503, body
        assert json.loads(body)["database"] is False and "database" in body.decode()
        assert site.get("/health")[0] == 200
    finally:
        subprocess.run(["podman", "start", container], check=True, capture_output=True)
    deadline = time.monotonic() + 60
    while site.get("/ready")[0] != 200:
        assert time.monotonic() < deadline, "not ready again after the database came back"
        time.sleep(1)


@pytest.fixture(scope="module")
def recreated() -> dict:
    """Kill the instance container, build a new one from scratch; what it serves before and after."""
    before = box.snapshot()
    old_id = subprocess.run(["podman", "inspect", "--format", "{{.Id}}", INSTANCE], capture_output=True, text=True,
                            check=True).stdout.strip()
    subprocess.run(["podman", "rm", "--force", "--time", "0", INSTANCE], check=True, capture_output=True)
    _, sandbox_seconds = playbook("site.yml", "--tags", "sandbox", "--skip-tags", "preflight")
    output, configure_seconds = playbook("site.yml", "--tags", "configure", "--skip-tags", "preflight," + OTHER_ROLES)
    box.wait_ready()
    new_id = subprocess.run(["podman", "inspect", "--format", "{{.Id}}", INSTANCE], capture_output=True, text=True,
                            check=True).stdout.strip()
    print(f"\nrecreated instance: sandbox {sandbox_seconds:.0f} s, configure {configure_seconds:.0f} s")
    return {"before": before, "after": box.snapshot(), "old_id": old_id, "new_id": new_id, "output": output}


def test_zz_recreated_instance_serves_the_same_forecasts_and_models(recreated):
    assert recreated["new_id"] != recreated["old_id"]
    after, before = recreated["after"], recreated["before"]
    assert after["symbols"] == before["symbols"]
    assert after["models"] == before["models"]
    assert after["answers"] == before["answers"]  # byte for byte: prices from PostgreSQL, models from S3


def test_zz_recreated_instance_needed_no_restore(recreated):
    assert "stocksense restore" not in recreated["output"]
    assert box.run("test", "-e", SQLITE_DB, check=False).returncode == 1

