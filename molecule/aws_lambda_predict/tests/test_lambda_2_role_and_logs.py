"""The execution role and log group in moto (the IAM and CloudWatch Logs stand-in): Lambda alone may
assume the role, which may read the registry prefix and the prices object and write to its own log
group, nothing else; the log group keeps 14 days.
"""

from __future__ import annotations

import json

import pytest

from conftest import ACCOUNT, FUNCTION, LOG_GROUP, REGION, moto_client


def document(value) -> dict:
    return json.loads(value) if isinstance(value, str) else value


def test_only_lambda_may_assume_the_role(iam):
    trust = document(iam.get_role(RoleName=FUNCTION)["Role"]["AssumeRolePolicyDocument"])
    assert trust["Statement"] == [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"},
    ]


@pytest.fixture(scope="module")
def statements(iam) -> dict:
    assert iam.list_role_policies(RoleName=FUNCTION)["PolicyNames"] == ["read-registry-and-prices"]
    assert iam.list_attached_role_policies(RoleName=FUNCTION)["AttachedPolicies"] == []
    policy = document(iam.get_role_policy(RoleName=FUNCTION, PolicyName="read-registry-and-prices")["PolicyDocument"])
    return {s["Sid"]: s for s in policy["Statement"]}


def test_role_reads_the_registry_prefix_and_the_prices_object_only(statements):
    assert statements["ReadTheRegistryOnly"]["Action"] == "s3:GetObject"
    assert statements["ReadTheRegistryOnly"]["Resource"] == "arn:aws:s3:::stocksense-lp-test-models/registry/*"
    assert statements["ReadThePricesObjectOnly"]["Action"] == "s3:GetObject"
    assert statements["ReadThePricesObjectOnly"]["Resource"] == "arn:aws:s3:::stocksense-lp-test-models/prices/latest.json"


def test_role_lists_the_registry_prefix_only(statements):
    listing = statements["ListTheRegistryPrefixOnly"]
    assert listing["Action"] == "s3:ListBucket"
    assert listing["Resource"] == "arn:aws:s3:::stocksense-lp-test-models"
    assert listing["Condition"] == {"StringLike": {"s3:prefix": "registry/*"}}


def test_role_writes_its_own_log_group_only(statements):
    logs = statements["WriteItsOwnLogGroupOnly"]
    assert sorted(logs["Action"]) == ["logs:CreateLogStream", "logs:PutLogEvents"]
    assert logs["Resource"] == f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{LOG_GROUP}:*"


def test_role_grants_nothing_else_and_no_wildcard_resource(statements):
    assert len(statements) == 4
    for sid, statement in statements.items():
        assert statement["Effect"] == "Allow"
        assert statement["Resource"] not in ("*", "arn:aws:s3:::*"), sid
        assert "*" not in json.dumps(statement["Action"]), sid


def test_log_group_keeps_14_days():
    groups = moto_client("logs").describe_log_groups(logGroupNamePrefix=LOG_GROUP)["logGroups"]
    assert [(g["logGroupName"], g.get("retentionInDays")) for g in groups] == [(LOG_GROUP, 14)]
