"""Bad input stops the ec2 role before any AWS API call (moto stands in for AWS elsewhere).

Each run points ec2_endpoint_url at its own tripwire: a listener on 127.0.0.1 that counts
connections. The role must fail with a message naming the problem, and the tripwire must see
nothing. A control run with valid input shows the tripwire does catch API calls. The runs are
independent, so they go in parallel to keep the scenario short.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import Tripwire, moto_env, run_playbook

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


def run_case(name: str, home) -> tuple:
    overrides, _ = CASES[name]
    wire = Tripwire()
    try:
        env = moto_env(AWS_MAX_ATTEMPTS="1")
        if name == "no-aws-credentials":
            env = {k: v for k, v in env.items() if not k.startswith(("AWS_", "EC2_"))}
            env["HOME"] = str(home)  # no ~/.aws either
        result = run_playbook("playbooks/provision.yml", CONTROLLER, extra_vars={"ec2_endpoint_url": wire.url, **GOOD, **overrides}, env=env)
        return result, wire.connections
    finally:
        wire.close()


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory):
    home = tmp_path_factory.mktemp("home-without-aws")
    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = {name: pool.submit(run_case, name, home) for name in CASES}
        return {name: future.result() for name, future in futures.items()}


@pytest.mark.parametrize("case", [name for name, (_, message) in CASES.items() if message])
def test_bad_input_fails_before_any_api_call(outcomes, case):
    result, connections = outcomes[case]
    message = CASES[case][1]
    assert result.rc != 0, result.output
    assert message in result.output, result.output
    assert connections == 0, "the role called the API before rejecting the input"


def test_the_tripwire_does_see_api_calls_with_valid_input(outcomes):
    """The control: valid input does reach the endpoint (and fails there), so the checks above can fail."""
    result, connections = outcomes["control-valid-input"]
    assert result.rc != 0, result.output
    assert connections > 0, result.output
