"""cloudwatch_agent role on a real systemd instance, with a TEST STAND-IN for the agent package.

The real Amazon CloudWatch agent cannot be downloaded here, and there is no EC2 instance identity
or AWS endpoint to ship to. The scenario installs a package built by scripts/build-cloudwatch-standin.sh (same name,
same ctl path and unit; signed with a throwaway key) whose ctl records its calls. Everything around
it is real: the signature check, the package install, the rendered configuration (validated
against the agent's own published JSON schema), the service, and when the ctl is called.
"""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

CONFIG = "/etc/stocksense/amazon-cloudwatch-agent.json"
CALLS = "/var/log/amazon-cloudwatch-agent-standin-calls.log"
EXPECTED_CALL = f"-a fetch-config -m ec2 -c file:{CONFIG} -s"
SCHEMA = Path(__file__).resolve().parents[3] / ".." / "shared" / "data" / "amazon-cloudwatch-agent-schema.json"


def rendered_config(host) -> dict:
    return json.loads(host.file(CONFIG).content_string)


def ctl_calls(host) -> list[str]:
    calls = host.file(CALLS)
    return calls.content_string.splitlines() if calls.exists else []


def test_stand_in_package_installed_from_the_given_file(host):
    package = host.package("amazon-cloudwatch-agent")
    assert package.is_installed
    assert "stocksense.test.standin" in package.version


def test_config_validates_against_the_agents_schema(host):
    if not SCHEMA.is_file():
        pytest.skip(f"agent JSON schema not found at {SCHEMA}: schema check not run")
    schema = json.loads(SCHEMA.read_text())
    jsonschema.Draft4Validator(schema).validate(rendered_config(host))


def test_schema_check_rejects_a_broken_config(host):
    """The schema check above can fail: a config with a misspelt section is rejected."""
    if not SCHEMA.is_file():
        pytest.skip(f"agent JSON schema not found at {SCHEMA}: schema check not run")
    schema = json.loads(SCHEMA.read_text())
    broken = rendered_config(host)
    broken["metrics"]["metrics_colected"] = broken["metrics"].pop("metrics_collected")
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft4Validator(schema).validate(broken)


def test_metrics_cover_the_instance(host):
    metrics = rendered_config(host)["metrics"]
    assert set(metrics["metrics_collected"]) == {"cpu", "mem", "disk", "swap"}
    assert metrics["metrics_collected"]["disk"]["resources"] == ["/"]
    assert metrics["append_dimensions"] == {"InstanceId": "${aws:InstanceId}", "InstanceType": "${aws:InstanceType}"}
    assert rendered_config(host)["agent"]["metrics_collection_interval"] == 60


def test_logs_ship_nginx_app_and_system_journal_with_retention(host):
    logs = rendered_config(host)["logs"]["logs_collected"]
    files = {entry["file_path"]: entry for entry in logs["files"]["collect_list"]}
    assert set(files) == {"/var/log/nginx/access.log", "/var/log/nginx/error.log"}
    assert files["/var/log/nginx/access.log"]["log_group_name"] == "/stocksense/nginx/access"
    journal = logs["journald"]["collect_list"]
    assert journal[0]["units"] == ["stocksense.service", "stocksense-refresh.service", "stocksense-backup.service"]
    assert journal[0]["log_group_name"] == "/stocksense/app"
    # The app role's unit-failed alerts reach the log group the failed-job metric filter reads.
    assert journal[1] == {**journal[1], "log_group_name": "/stocksense/app", "matches": [{"SYSLOG_IDENTIFIER": "stocksense-alert"}]}
    assert journal[2] == {**journal[2], "log_group_name": "/stocksense/system", "priority": "warning"}
    assert "units" not in journal[2]
    for entry in [*files.values(), *journal]:
        assert entry["retention_in_days"] == 30
        assert entry["log_stream_name"] == "{instance_id}"


def test_config_applied_once_with_the_right_arguments(host):
    """After converge and the idempotence run, fetch-config ran exactly once."""
    assert ctl_calls(host) == [EXPECTED_CALL]


def test_source_config_is_left_where_it_was(host):
    """fetch-config must not consume the role's source of truth (the classic idempotence trap)."""
    assert host.file(CONFIG).is_file
    assert host.file("/opt/aws/amazon-cloudwatch-agent/etc/amazon-cloudwatch-agent.d/file_amazon-cloudwatch-agent.json").is_file


def test_agent_service_running_and_enabled(host):
    service = host.service("amazon-cloudwatch-agent")
    assert service.is_running
    assert service.is_enabled


def test_changed_config_is_applied_again_and_only_once(first_host, run_role, standin_vars):
    before = len(ctl_calls(first_host))
    changed = run_role("cloudwatch_agent", {**standin_vars, "cloudwatch_agent_assume_ec2": True, "cloudwatch_agent_metrics_collection_interval": 30})
    assert changed.rc == 0, changed.output
    assert rendered_config(first_host)["agent"]["metrics_collection_interval"] == 30
    assert ctl_calls(first_host)[before:] == [EXPECTED_CALL]
    again = run_role("cloudwatch_agent", {**standin_vars, "cloudwatch_agent_assume_ec2": True, "cloudwatch_agent_metrics_collection_interval": 30})
    assert again.rc == 0 and again.changed == 0, again.output
    assert len(ctl_calls(first_host)) == before + 1


def test_off_ec2_the_agent_is_configured_but_not_started(first_host, run_role, standin_vars):
    before = len(ctl_calls(first_host))
    result = run_role("cloudwatch_agent", {**standin_vars, "cloudwatch_agent_metrics_collection_interval": 120})
    assert result.rc == 0, result.output
    assert "Not an EC2 instance" in result.output
    assert rendered_config(first_host)["agent"]["metrics_collection_interval"] == 120
    assert len(ctl_calls(first_host)) == before, "the ctl must not be called off EC2"


def test_tampered_package_is_refused_before_install(first_host, run_role, standin_vars):
    version = first_host.package("amazon-cloudwatch-agent").version
    tampered = str(Path(standin_vars["cloudwatch_agent_package_file"]).with_name("amazon-cloudwatch-agent-tampered.deb"))
    result = run_role("cloudwatch_agent", {**standin_vars, "cloudwatch_agent_package_file": tampered})
    assert result.failed
    assert "signature check FAILED" in result.output
    assert first_host.package("amazon-cloudwatch-agent").version == version


def test_package_file_without_signature_is_rejected(first_host, run_role, standin_vars):
    result = run_role("cloudwatch_agent", {**standin_vars, "cloudwatch_agent_signature_file": ""})
    assert result.failed
    assert "cloudwatch_agent_signature_file" in result.output
