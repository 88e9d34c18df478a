"""Bad input stops the ec2 role before any AWS API call (moto stands in for AWS elsewhere).

Each case points ec2_endpoint_url at its own tripwire: a listener on 127.0.0.1 that counts
connections. The role must fail with a message naming the problem, and the tripwire must see
nothing. A control case with valid input shows the tripwire does catch API calls.

The cases that differ only in their variables run in ONE ansible-playbook run, one inventory host
per case with the case's settings as host variables (13 runs at about 6.5 s of CPU each took most
of this file's time). Its play is playbooks/provision.yml's, read from that file at test time with
only `hosts` changed, so the checks and their order (aws_monitoring's validate in pre_tasks, then
the ec2 role) are the playbook's own. Each host's failure message is read from the json callback,
so every case is still asserted on its own. The case without AWS credentials needs another process
environment: it runs playbooks/provision.yml itself.
"""

from __future__ import annotations

import json

import pytest
import yaml

from conftest import REPO, Tripwire, moto_env, run_playbook

# The controller inventory: the role's own checks, with no dynamic inventory asking an API first.
CONTROLLER = "inventories/controller.yml"
GOOD = {"ec2_admin_cidr": "198.51.100.7/32", "ec2_public_key": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBxcSEyt+aUSbEHCbPOv3erjO7Ll2dPg3C7Ms0VpVpBa test"}

CASES = {
    "missing-admin-cidr": ({"ec2_admin_cidr": ""}, "ec2_admin_cidr is required"),
    "ssh-from-anywhere": ({"ec2_admin_cidr": "0.0.0.0/0"}, "would open SSH to the whole internet"),
    "admin-cidr-not-a-cidr": ({"ec2_admin_cidr": "my-laptop"}, "ec2_admin_cidr must be one IPv4 or IPv6 network"),
    "missing-public-key": ({"ec2_public_key": ""}, "ec2_public_key is required"),
    "private-key": ({"ec2_public_key": "-----BEGIN OPENSSH PRIVATE KEY-----\nb3Blbn\n"}, "A private key is refused"),
    "instance-type-not-allowed": ({"ec2_instance_type": "m5.large"}, "ec2_instance_type 'm5.large' is not allowed"),
    "root-volume-too-big": ({"ec2_root_volume_size_gb": 100}, "must be 8-30 GiB"),
    "root-volume-not-an-int": ({"ec2_root_volume_size_gb": "big"}, "ec2_root_volume_size_gb"),
    "no-aws-credentials": ({}, "No AWS credentials found"),
    # aws_monitoring's settings are checked before the ec2 role runs (provision.yml's pre_tasks).
    "alarm-email-without-domain": ({"aws_monitoring_alarm_email": "ops@localhost"}, "aws_monitoring_alarm_email must be one email address"),
    "negative-snapshot-retention": ({"aws_monitoring_snapshot_retention_days": -1}, "must be at least 1 day"),
    "retention-not-an-int": ({"aws_monitoring_backup_noncurrent_days": "a month"}, "aws_monitoring_backup_noncurrent_days"),
    "bucket-name-upper-case": ({"aws_monitoring_backup_bucket_name": "My_Backups"}, "aws_monitoring_backup_bucket_name must be empty"),
    "control-valid-input": ({}, None),
}
# Run alone: the credentials check reads the process environment, which one run shares.
OWN_RUN = {"no-aws-credentials"}


def provision_play_for(group: str) -> list[dict]:
    """playbooks/provision.yml's play, unchanged but for its hosts: every host of `group`."""
    plays = yaml.safe_load((REPO / "playbooks" / "provision.yml").read_text())
    assert len(plays) == 1 and plays[0]["hosts"] == "localhost", "provision.yml changed shape: update this test"
    return [{**plays[0], "hosts": group}]


def json_report(output: str) -> dict:
    """The json callback's report: a line "{" starts it (profile_tasks' lines come before it)."""
    start = output.find("\n{\n") + 1 if not output.startswith("{") else 0
    assert start or output.startswith("{"), output[-3000:]
    report, _ = json.JSONDecoder().raw_decode(output[start:])
    return report


def failure_messages(output: str) -> dict[str, list[str]]:
    """Each host's failure messages in the json callback's report of a run."""
    report = json_report(output)
    messages: dict[str, list[str]] = {}
    for play in report["plays"]:
        for task in play["tasks"]:
            for host, result in task["hosts"].items():
                if result.get("failed"):
                    messages.setdefault(host, []).append(" ".join(str(result.get("msg", "")).split()))
    return messages


def run_cases_as_hosts(names: list[str], folder) -> dict:
    """One run of provision.yml's play over one host per case; each host has its own tripwire."""
    wires = {name: Tripwire() for name in names}
    try:
        hosts = {
            name: {"ansible_connection": "local", "ansible_python_interpreter": "{{ ansible_playbook_python }}",
                   "ec2_endpoint_url": wires[name].url, **GOOD, **CASES[name][0]}
            for name in names
        }
        (folder / "cases.yml").write_text(yaml.safe_dump({"all": {"children": {"cases": {"hosts": hosts}}}}))
        (folder / "provision-cases.yml").write_text(yaml.safe_dump(provision_play_for("cases"), sort_keys=False))
        env = moto_env(AWS_MAX_ATTEMPTS="1", ANSIBLE_STDOUT_CALLBACK="ansible.posix.json")
        result = run_playbook(str(folder / "provision-cases.yml"), folder / "cases.yml", env=env)
        messages = failure_messages(result.output)
        return {name: (messages.get(name, []), wires[name].connections) for name in names}, result
    finally:
        for wire in wires.values():
            wire.close()


def run_without_credentials(home) -> tuple:
    """playbooks/provision.yml itself, with no AWS_* variable and no ~/.aws."""
    wire = Tripwire()
    try:
        env = {k: v for k, v in moto_env(AWS_MAX_ATTEMPTS="1").items() if not k.startswith(("AWS_", "EC2_"))}
        env["HOME"] = str(home)
        result = run_playbook("playbooks/provision.yml", CONTROLLER, extra_vars={"ec2_endpoint_url": wire.url, **GOOD}, env=env)
        return result, wire.connections
    finally:
        wire.close()


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory):
    """case -> (failure messages, tripwire connections); the run itself under the key "run"."""
    together = [name for name in CASES if name not in OWN_RUN]
    by_case, run = run_cases_as_hosts(together, tmp_path_factory.mktemp("bad-input"))
    result, connections = run_without_credentials(tmp_path_factory.mktemp("home-without-aws"))
    by_case["no-aws-credentials"] = ([" ".join(result.output.split())] if result.rc != 0 else [], connections)
    return {**by_case, "run": run}


def test_the_cases_ran_as_hosts_of_one_run(outcomes):
    """Every case's host is in the recap (none was left out of the play) and the run failed."""
    run = outcomes["run"]
    assert run.rc != 0, run.output[-3000:]
    report = json_report(run.output)
    assert set(report["stats"]) == {name for name in CASES if name not in OWN_RUN}, report["stats"]


@pytest.mark.parametrize("case", [name for name, (_, message) in CASES.items() if message])
def test_bad_input_fails_before_any_api_call(outcomes, case):
    messages, connections = outcomes[case]
    message = CASES[case][1]
    assert messages, f"{case} did not fail"
    assert any(message in text for text in messages), messages
    assert connections == 0, "the role called the API before rejecting the input"


def test_the_tripwire_does_see_api_calls_with_valid_input(outcomes):
    """The control: valid input does reach the endpoint (and fails there), so the checks above can fail."""
    messages, connections = outcomes["control-valid-input"]
    assert messages, "the control case did not fail"
    assert connections > 0, messages
