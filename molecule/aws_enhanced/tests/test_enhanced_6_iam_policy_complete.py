"""iam/operator-policy.json allows every AWS API operation Ansible made in this scenario.

Runs last. Every ansible-playbook and module process of the scenario (converge, idempotence and
the tests' runs: rerun, teardown) appended its operations to STOCKSENSE_AWS_API_LOG through
iam/recorder (botocore's before-call event). moto answers them locally.
"""

from __future__ import annotations

import os
import sys

import pytest

from conftest import REPO

sys.path.insert(0, str(REPO / "iam"))
import policy_check  # noqa: E402

# What this scenario must have recorded; an empty or partial recording would pass vacuously.
EXPECTED = {
    "rds:CreateDBInstance", "rds:ModifyDBInstance", "rds:DeleteDBInstance", "rds:CreateDBSubnetGroup",
    "rds:DeleteDBSubnetGroup", "ssm:PutParameter", "ssm:GetParameter", "ssm:DeleteParameter",
    "cloudfront:CreateDistributionWithTags", "cloudfront:UpdateDistribution", "cloudfront:DeleteDistribution",
    "iam:PutRolePolicy", "iam:DeleteRolePolicy", "ec2:AuthorizeSecurityGroupIngress",
}


@pytest.fixture(scope="module")
def operations() -> set[str]:
    found = policy_check.recording(os.environ)
    print("recorded AWS API operations:", ", ".join(sorted(found)))
    return found


def test_the_recording_saw_provision_update_and_teardown(operations):
    assert EXPECTED <= operations, sorted(EXPECTED - operations)


def test_operator_policy_allows_every_recorded_operation(operations):
    missing = policy_check.missing_actions(policy_check.load_policy(), operations)
    assert missing == [], f"iam/operator-policy.json lacks: {missing}"


def test_operator_policy_grants_no_wildcard_action():
    assert policy_check.wildcard_grants(policy_check.load_policy()) == []
