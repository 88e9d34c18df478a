"""iam/operator-policy.json allows every AWS API operation Ansible made in this scenario.

Runs last. Every ansible-playbook, ansible-inventory and module process of the scenario (converge,
idempotence and the playbooks the tests ran: provision, power, auto type, teardown, inventories)
appended its operations to STOCKSENSE_AWS_API_LOG through iam/recorder (botocore's before-call
event). moto stands in for AWS, so the operations are real API calls, answered locally.
"""

from __future__ import annotations

import os

from iam_completeness import policy_gaps  # tests/, on sys.path through conftest.py

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


def test_operator_policy_allows_every_operation_of_provision_power_and_teardown():
    """Also fails if the recording lacks one of EXPECTED, or the policy grants a wildcard."""
    assert policy_gaps(os.environ, EXPECTED) == {}
