"""iam/operator-policy.json allows every AWS API operation Ansible made in this scenario.

Runs last. Every ansible-playbook, ansible-inventory and module process of the scenario (converge,
idempotence and the playbooks the tests ran: provision, power, auto type, teardown, inventories)
appended its operations to STOCKSENSE_AWS_API_LOG through iam/recorder (botocore's before-call
event). moto stands in for AWS, so the operations are real API calls, answered locally.
"""

from __future__ import annotations

import os
import sys

import pytest

from conftest import REPO

sys.path.insert(0, str(REPO / "iam"))
import policy_check  # noqa: E402

# What this scenario must have recorded; an empty or partial recording would pass the check below
# vacuously.
EXPECTED = {
    "ec2:RunInstances", "ec2:StopInstances", "ec2:StartInstances", "ec2:TerminateInstances",
    "ec2:AllocateAddress", "ec2:ReleaseAddress", "ec2:DescribeInstanceTypes", "ec2:DescribeImages",
    "ec2:DescribeInstances", "iam:CreateRole", "iam:PutRolePolicy", "iam:DeleteRole",
    # aws_monitoring: bucket, snapshot plan, topic, alarms, metric filter, dashboard, and removal.
    "s3:CreateBucket", "s3:PutBucketPolicy", "s3:PutBucketLifecycleConfiguration", "s3:DeleteBucket",
    "iam:AttachRolePolicy", "backup:CreateBackupPlan", "backup:DeleteBackupPlan", "backup:DeleteBackupVault",
    "sns:CreateTopic", "sns:Subscribe", "sns:DeleteTopic", "monitoring:PutMetricAlarm", "monitoring:DeleteAlarms",
    "logs:PutMetricFilter", "logs:DeleteMetricFilter", "monitoring:PutDashboard", "monitoring:DeleteDashboards",
}


@pytest.fixture(scope="module")
def operations() -> set[str]:
    found = policy_check.recording(os.environ)
    print("recorded AWS API operations:", ", ".join(sorted(found)))
    return found


def test_the_recording_saw_provision_power_and_teardown(operations):
    assert EXPECTED <= operations, sorted(EXPECTED - operations)


def test_operator_policy_allows_every_recorded_operation(operations):
    missing = policy_check.missing_actions(policy_check.load_policy(), operations)
    assert missing == [], f"iam/operator-policy.json lacks: {missing}"


def test_operator_policy_grants_no_wildcard_action():
    assert policy_check.wildcard_grants(policy_check.load_policy()) == []
