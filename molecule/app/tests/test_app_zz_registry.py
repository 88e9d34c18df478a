"""The role's S3 model registry pull (app_registry_remote_url); moto stands in for S3.

Last suite of the scenario, after test_app_zz_postgres.py, whose PostgreSQL path it keeps (the same
variables, so the role changes only what this suite adds). moto on the controller's loopback
(127.0.0.1:19420, started by prepare.yml; the instance reaches it as 10.0.2.2) stands in for S3:
the controller publishes the scenario's models into a bucket there with `stocksense models push`,
the role runs again with app_registry_remote_url, and stocksense-registry-pull.service mirrors the
bucket into the instance's local registry, which the web service follows without a restart.
systemd, the app, boto3 and HTTP are real; only S3 is not.
"""

from __future__ import annotations

import json
import os
import subprocess
import tarfile
import time
from pathlib import Path

import pytest
from ansible_run import moto_client
from helpers import REPO, fetch, role_vars, unit_props
from test_app_zz_postgres import PG_VARS, changed_tasks, play

MOTO_PORT = "19420"
REGION = "eu-west-1"
BUCKET = f"stocksense-registry-{int(time.time())}"  # moto outlives a run: a bucket of our own
PREFIX = "registry"
URL = f"s3://{BUCKET}/{PREFIX}"
MODEL = "lstm"
PULL = "stocksense-registry-pull.service"
TIMER = "stocksense-registry-pull.timer"
WEB = "stocksense.service"
LOCAL_REGISTRY = "/var/lib/stocksense/registry"
FAKE_KEYS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
REGISTRY_VARS = {
    "app_registry_remote_url": URL,
    # This suite publishes into moto itself (registry_runs); the role's own controller-side publish
    # (app_registry_publish, added beside the pull) would need moto's endpoint on the controller.
    "app_registry_publish": False,
    "app_registry_region": REGION,
    "app_registry_environment": {"AWS_ENDPOINT_URL": "http://10.0.2.2:19420",
                                 "AWS_EC2_METADATA_DISABLED": "true", **FAKE_KEYS},
}
APP_BIN = Path(os.environ.get("STOCKSENSE_APP_SNAPSHOT") or REPO / "app") / ".venv" / "bin"
CONTROLLER_ENV = {"AWS_ENDPOINT_URL": f"http://127.0.0.1:{MOTO_PORT}", "AWS_DEFAULT_REGION": REGION,
                  "AWS_EC2_METADATA_DISABLED": "true", "PATH": "/usr/bin:/bin", **FAKE_KEYS}

# A copy of S3's latest version of a model under a new version id, published through the protocol
# (files, manifest, then `latest`), as a retrain on the controller would.
_REPUBLISH = """
import sys
from stocksense.registry import open_registry
url, symbol, name, version = sys.argv[1:5]
reg = open_registry(url)
meta, data = reg.load(symbol, name)
extras = {n: reg.load_extra(symbol, name, meta["version"], n) for n in meta.get("extra_files") or {}}
meta.pop("artifact_uri", None)
print(reg.publish(symbol, name, data, meta, version=version, extra_files=extras)["version"])
"""


def controller(*argv: str, home: Path) -> str:
    """A command of the app's controller virtualenv against moto (standing in for S3)."""
    proc = subprocess.run(argv, env={**CONTROLLER_ENV, "STOCKSENSE_HOME": str(home)},
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def publish_new_version(home: Path, tag: str) -> str:
    version = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + f"-molecule-{tag}"
    controller(str(APP_BIN / "python"), "-c", _REPUBLISH, URL, "MSFT", MODEL, version, home=home)
    return version


def served_version(host) -> str:
    answer = fetch(host, "/api/v1/symbols/MSFT/forecast", accept="application/json")
    assert answer["status"] == 200, answer
    return json.loads(answer["body"])["models"][MODEL]["model_version"]


def web_process(host) -> dict[str, str]:
    return unit_props(host, WEB, "MainPID", "ActiveEnterTimestamp", "NRestarts")


def web_network(host) -> dict[str, str]:
    return unit_props(host, WEB, "IPAddressDeny", "IPAddressAllow")


@pytest.fixture(scope="module")
def controller_home(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("registry-controller")


@pytest.fixture(scope="module")
def registry_runs(first_host, scenario_vars, controller_home, tmp_path_factory):
    """The scenario's models published into a moto bucket, then two role runs with the pull:
    {"first", "second"}."""
    moto_client(MOTO_PORT, REGION, "s3").create_bucket(
        Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    bundle = controller_home / "bundle"
    with tarfile.open(REPO / ".cache" / "app-artifacts-molecule" / "models.tar") as tar:
        tar.extractall(bundle, filter="data")
    pushed = json.loads(controller(str(APP_BIN / "stocksense"), "models", "push", "--from",
                                   str(bundle / "registry"), "--to", URL, "--json",
                                   home=controller_home))
    assert pushed["changed"] and pushed["pushed"], pushed
    variables = role_vars(scenario_vars, **(PG_VARS | REGISTRY_VARS))
    folder = tmp_path_factory.mktemp("registry-play")
    first = play(first_host.backend.name, folder, variables)
    assert not first.failed, first.output[-5000:]
    second = play(first_host.backend.name, folder, variables)
    return {"first": first, "second": second}


def test_moto_stands_in_for_s3_the_role_installs_the_pull_and_a_rerun_changes_nothing(
        first_host, registry_runs):
    assert registry_runs["first"].changed > 0
    second = registry_runs["second"]
    assert not second.failed and second.changed == 0, changed_tasks(second.output)
    assert first_host.service(TIMER).is_running and first_host.service(TIMER).is_enabled
    timer = first_host.check_output(f"systemctl cat {TIMER}")
    assert "OnCalendar=*:0/5" in timer and "Persistent=true" in timer
    unit = first_host.check_output(f"systemctl cat {PULL}")
    assert f"models push --from {URL} --to {LOCAL_REGISTRY} --json" in unit
    env = first_host.file("/etc/stocksense/registry.env")
    assert (env.user, env.group, env.mode) == ("root", "root", 0o600)
    assert "testing" not in first_host.check_output(f"systemctl show {PULL}")


def test_moto_stands_in_for_s3_the_web_unit_keeps_loopback_and_database_only(first_host,
                                                                            registry_runs):
    """Exactly loopback and the database (PG_VARS' app_database_networks), as before the pull."""
    now = web_network(first_host)
    # A set: systemd lists the two in either order (seen once as "::/0 0.0.0.0/0").
    assert set(now["IPAddressDeny"].split()) == {"0.0.0.0/0", "::/0"}, now
    assert set(now["IPAddressAllow"].split()) == {"127.0.0.0/8", "::1/128",
                                                  *PG_VARS["app_database_networks"]}, now
    unit = first_host.check_output(f"systemctl cat {WEB}")
    assert "registry.env" not in unit and "AWS_" not in unit


def test_moto_stands_in_for_s3_a_new_version_is_served_without_a_web_restart(
        first_host, registry_runs, controller_home):
    before = web_process(first_host)
    old = served_version(first_host)
    new = publish_new_version(controller_home, "new")
    assert new != old
    first_host.check_output(f"systemctl start {PULL}")
    assert served_version(first_host) == new
    assert web_process(first_host) == before  # same process, never restarted
    latest = json.loads(first_host.file(f"{LOCAL_REGISTRY}/MSFT/{MODEL}/latest").content_string)
    assert latest["version"] == new


def test_moto_stands_in_for_s3_a_corrupt_object_is_refused_and_the_previous_version_serves(
        first_host, registry_runs, controller_home):
    """A newer version whose model file lost a bit in S3: the pull fails with one journal line
    naming the object; nothing of it reaches the instance and the previous version serves on."""
    before = web_process(first_host)
    serving = served_version(first_host)
    bad = publish_new_version(controller_home, "corrupt")
    key = f"{PREFIX}/MSFT/{MODEL}/versions/{bad}/model.tflite"
    s3 = moto_client(MOTO_PORT, REGION, "s3")
    data = bytearray(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())
    data[len(data) // 2] ^= 0x01
    s3.put_object(Bucket=BUCKET, Key=key, Body=bytes(data))
    try:
        assert first_host.run(f"systemctl start {PULL}").rc != 0
        invocation = first_host.check_output(f"systemctl show -p InvocationID --value {PULL}")
        journal = first_host.check_output(
            f"journalctl --no-pager -o cat _SYSTEMD_INVOCATION_ID={invocation}").splitlines()
        errors = [line for line in journal if line.startswith("stocksense: error:")]
        assert len(errors) == 1, journal
        assert f"s3://{BUCKET}/{key}: sha256 mismatch" in errors[0], errors
        assert served_version(first_host) == serving
        assert not first_host.file(f"{LOCAL_REGISTRY}/MSFT/{MODEL}/versions/{bad}").exists
        assert web_process(first_host) == before
    finally:
        first_host.run(f"systemctl reset-failed {PULL}")


@pytest.mark.parametrize("url", ["https://bucket.s3.amazonaws.com/registry", "s3://Bad_Bucket/x"])
def test_a_registry_url_other_than_s3_bucket_prefix_is_refused_before_any_change(
        first_host, run_role, scenario_vars, registry_runs, url):
    before = first_host.check_output(f"systemctl cat {PULL}")
    result = run_role("app", role_vars(scenario_vars,
                                       **(PG_VARS | REGISTRY_VARS | {"app_registry_remote_url": url})))
    assert result.failed
    assert "Invalid S3 registry settings" in result.output
    assert first_host.check_output(f"systemctl cat {PULL}") == before
