"""iam/operator-policy.json, statically: valid JSON, named actions only, scoped where it can be.

The completeness check (every AWS API operation the playbooks make is allowed) runs in the ec2 and
default molecule scenarios, which record the operations (iam/README.md).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "iam"))
import policy_check  # noqa: E402


@pytest.fixture(scope="module")
def policy() -> dict:
    return json.loads((REPO / "iam" / "operator-policy.json").read_text())


def by_sid(policy: dict) -> dict:
    return {statement["Sid"]: statement for statement in policy_check.statements(policy)}


def test_policy_is_a_valid_iam_document(policy):
    assert policy["Version"] == "2012-10-17"
    sids = [statement.get("Sid") for statement in policy_check.statements(policy)]
    assert all(sids) and len(sids) == len(set(sids)), sids
    for statement in policy_check.statements(policy):
        assert statement["Effect"] == "Allow"
        assert set(statement) <= {"Sid", "Effect", "Action", "Resource", "Condition"}, statement
        for action in policy_check.as_list(statement["Action"]):
            assert action.count(":") == 1 and action.split(":")[1][:1].isupper(), action


def test_no_wildcard_actions(policy):
    assert policy_check.wildcard_grants(policy) == []


def test_no_action_is_granted_twice(policy):
    actions = [a.lower() for s in policy_check.statements(policy) for a in policy_check.as_list(s["Action"])]
    assert len(actions) == len(set(actions))


def test_power_terminate_and_iam_are_limited_to_the_project(policy):
    statements = by_sid(policy)
    power = statements["Ec2PowerAndTerminateThisProjectsInstancesOnly"]
    assert power["Condition"] == {"StringEquals": {"aws:ResourceTag/Project": "stocksense"}}
    assert {"ec2:TerminateInstances", "ec2:StopInstances", "ec2:StartInstances"} <= set(power["Action"])
    iam_statements = [s for s in policy_check.statements(policy) if any(a.startswith("iam:") for a in policy_check.as_list(s["Action"]))]
    for statement in iam_statements:
        if statement["Sid"] == "ReadOnlyLookups":
            assert [a for a in statement["Action"] if a.startswith("iam:")] == ["iam:ListAccountAliases"]
            continue
        for resource in policy_check.as_list(statement["Resource"]):
            # ...and the service-linked role CloudWatch makes once for alarms with EC2 actions.
            assert resource.startswith((
                "arn:aws:iam::*:role/stocksense-", "arn:aws:iam::*:instance-profile/stocksense-",
                "arn:aws:iam::*:role/aws-service-role/events.amazonaws.com/AWSServiceRoleForCloudWatchEvents",
            )), resource
    # The instance role to EC2, the snapshot service role to AWS Backup (roles/aws_monitoring), the
    # predict function's execution role to Lambda (roles/aws_lambda_predict).
    passrole = statements["HandTheStacksRolesToEc2BackupAndLambdaOnly"]
    assert passrole["Condition"] == {"StringEquals": {"iam:PassedToService": ["ec2.amazonaws.com", "backup.amazonaws.com", "lambda.amazonaws.com"]}}


def test_only_describe_and_identity_calls_have_no_scope(policy):
    """Resource "*" without a condition is for read-only lookups and for what EC2 cannot scope at create."""
    read_only = by_sid(policy)["ReadOnlyLookups"]["Action"]
    assert all(a.split(":")[1].startswith(("Describe", "Get", "List")) for a in read_only), read_only


def test_the_instance_role_policy_follows_the_cloudwatch_agent_role():
    """The ec2 role's inline policy allows the namespace and log groups the agent's config uses."""
    ec2 = yaml.safe_load((REPO / "roles" / "ec2" / "defaults" / "main.yml").read_text())
    agent = yaml.safe_load((REPO / "roles" / "cloudwatch_agent" / "defaults" / "main.yml").read_text())
    assert ec2["ec2_metrics_namespace"] == agent["cloudwatch_agent_metrics_namespace"]
    assert ec2["ec2_log_group_prefix"] == agent["cloudwatch_agent_log_group_prefix"]


@pytest.mark.parametrize(
    ("operation", "action"),
    [("ec2:RunInstances", "ec2:RunInstances"), ("s3:ListObjectsV2", "s3:ListBucket"), ("monitoring:PutMetricData", "cloudwatch:PutMetricData"),
     ("apigateway:CreateRestApi", "apigateway:POST"), ("apigateway:PutRestApi", "apigateway:PUT"), ("apigateway:DeleteRestApi", "apigateway:DELETE")],
)
def test_operations_map_to_iam_actions(operation, action):
    assert policy_check.iam_action(operation) == action


def test_missing_actions_names_what_the_policy_lacks(policy):
    """The completeness check itself: an operation outside the policy is reported, case-insensitively."""
    assert policy_check.missing_actions(policy, {"ec2:runinstances", "ec2:DescribeInstances"}) == []
    assert policy_check.missing_actions(policy, {"ec2:DeleteVpc", "ec2:RunInstances"}) == ["ec2:DeleteVpc"]
