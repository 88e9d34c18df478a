"""The enhanced profile end to end, on the stack test_zzz_migrate_to_enhanced.py moved to it.

AWS cannot be reached here. moto on 127.0.0.1 stands in for RDS, SSM, S3 and CloudFront: it keeps
their settings but runs no database and serves no edge. So a real PostgreSQL (Debian's, in a podman
container) stands in for the RDS endpoint, with the endpoint's name mapped to it inside the instance
container and the password role aws_enhanced generated in moto's SSM; the model registry is a real
registry in moto's S3, which the instance pulls from. The last tests kill the instance container and
converge a new one from scratch with the enhanced profile (the roles the profile reaches: app, nginx
and certbot in front of it; then a second run that must change nothing): with nothing living on it,
the same forecasts and model versions come back without any restore step, and the dashboard opens in
Chromium through nginx and the real certificate.
"""

from __future__ import annotations

import json
import subprocess
import time

import pytest
from enhanced_state import (DATABASE_CONTAINER, ENHANCED, INSTANCE, SQLITE_DB, parameter, psql, recap_changed,
                            registry_versions)
from sandbox_site import SandboxInstance, check_dashboard, playbook

box = SandboxInstance(INSTANCE)
# What the rebuilt instance's runs skip: the preflight stage, and the roles the profile does not reach.
UNREACHED = "preflight,baseline,swap,cloudwatch_agent"


@pytest.fixture(scope="module", autouse=True)
def enhanced_stack():
    env = box.run("cat", "/etc/stocksense/stocksense.env").stdout
    assert "STOCKSENSE_DATABASE_URL=postgresql" in env, "runs after test_zzz_migrate_to_enhanced.py moved the stack"


def served_versions() -> dict[tuple[str, str], str]:
    models = json.loads(box.fetch("/api/v1/models")["/api/v1/models"]["body"])["models"]
    return {(m["symbol"], m["model_name"]): str(m["version"]) for m in models}


def probe(path: str) -> tuple[int, dict]:
    """The app's own answer on the instance's loopback (the drill's instance has no nginx yet)."""
    answer = box.fetch(path)[path]
    return answer["status"], json.loads(answer["body"])


def test_the_app_is_configured_for_postgresql_without_the_password():
    env = box.run("cat", "/etc/stocksense/stocksense.env").stdout
    expected = (f"STOCKSENSE_DATABASE_URL=postgresql+psycopg://{parameter('db/username')}@"
                f"{parameter('db/host')}:{parameter('db/port')}/{parameter('db/name')}")
    assert expected in env
    assert parameter("db/password") not in env


def test_prices_backtests_and_watchlist_live_in_postgresql():
    prices = dict(psql("select symbol, count(*) from prices group by symbol"))
    assert {"NVDA", "AMZN", "MSFT"} <= set(prices) and all(int(n) > 100 for n in prices.values()), prices
    watched = {row[0] for row in psql("select symbol from symbols where watched")}
    assert watched == {"NVDA", "AMZN", "MSFT"}


def test_served_models_are_the_s3_registry_versions():
    in_s3 = registry_versions()
    assert len(in_s3) == 6, in_s3  # 3 symbols x 2 models
    assert served_versions() == in_s3


def test_an_unreachable_database_fails_readiness_with_a_reason_and_liveness_stays():
    """The database's container stopped: /ready 503 naming the database, /health still 200."""
    subprocess.run(["podman", "stop", "--time", "5", DATABASE_CONTAINER], check=True, capture_output=True)
    try:
        status, ready = probe("/ready")
        assert status == 503 and ready["database"] is False, ready
        assert "database" in json.dumps(ready)
        assert probe("/health")[0] == 200
    finally:
        subprocess.run(["podman", "start", DATABASE_CONTAINER], check=True, capture_output=True)
        box.wait_ready(timeout=90)


@pytest.fixture(scope="module")
def rebuilt() -> dict:
    """Kill the instance container and converge a new one from scratch with the enhanced profile: the
    sandbox stage, then the configure stage and the check stage, then configure again, which must
    change nothing. What the app serves before and after. baseline, swap and cloudwatch_agent are
    skipped: the profile does not reach them (group_vars/web/stack.yml maps it onto app_* and nginx's
    origin check only) and the scenario's converge and idempotence cover them on this stack."""
    box.wait_ready()
    before = box.snapshot()
    old_id = container_id()
    subprocess.run(["podman", "rm", "--force", "--time", "0", INSTANCE], check=True, capture_output=True)
    _, sandbox_seconds = playbook("site.yml", "--tags", "sandbox", "--skip-tags", "preflight", env=ENHANCED)
    output, configure_seconds = playbook("site.yml", "--tags", "configure,check", "--skip-tags", UNREACHED,
                                         env=ENHANCED)
    again, again_seconds = playbook("site.yml", "--tags", "configure", "--skip-tags", UNREACHED, env=ENHANCED)
    box.wait_ready()
    print(f"\nrebuilt enhanced instance: sandbox {sandbox_seconds:.0f} s, configure+check {configure_seconds:.0f} s, "
          f"configure again {again_seconds:.0f} s")
    return {"before": before, "after": box.snapshot(), "old_id": old_id, "new_id": container_id(), "output": output,
            "again": again}


def container_id() -> str:
    return subprocess.run(["podman", "inspect", "--format", "{{.Id}}", INSTANCE], capture_output=True, text=True,
                          check=True).stdout.strip()


def test_zz_rebuilt_instance_serves_the_same_forecasts_and_models(rebuilt):
    assert rebuilt["new_id"] != rebuilt["old_id"]
    after, before = rebuilt["after"], rebuilt["before"]
    assert after["symbols"] == before["symbols"]
    assert after["models"] == before["models"]
    assert after["answers"] == before["answers"]  # byte for byte: prices from PostgreSQL, models from S3


def test_zz_rebuilt_instance_needed_no_restore_and_keeps_nothing_local(rebuilt):
    assert "stocksense restore" not in rebuilt["output"]
    assert box.run("test", "-e", SQLITE_DB, check=False).returncode == 1


def test_zz_a_second_configure_of_the_enhanced_stack_changes_nothing(rebuilt):
    assert recap_changed(rebuilt["again"]) == 0, rebuilt["again"][-3000:]


def test_zz_ready_over_https_reports_the_database_and_every_symbol(rebuilt, site):
    status, _, body = site.get("/ready")
    ready = json.loads(body)
    assert status == 200 and ready["status"] == "ok" and ready["database"] is True, ready
    assert ready["watched"] == ready["with_model"] == 3


def test_zz_dashboard_in_a_browser_shows_forecasts_from_postgresql(rebuilt, site, browser):
    check_dashboard(site, browser, "enhanced")
