"""The daily refresh in moto (the Lambda, IAM, CloudWatch Logs and EventBridge stand-in): a second
function with its own execution role (read and replace the prices object, write its own log group,
nothing else), an EventBridge rule on the default schedule targeting it, and an invoke permission
for that rule only. moto stores the rule but never fires it, nor runs the function: the handler
runs in app/tests/test_lambda_refresh.py.
"""

from __future__ import annotations

import base64
import hashlib
import json
import zipfile

import pytest

from conftest import ACCOUNT, PRICES_URL, REFRESH, REFRESH_LOG_GROUP, REFRESH_ZIP, REGION, REPO, moto_client, refresh_permission

REFRESH_ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{REFRESH}"
RULE_ARN = f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{REFRESH}"


@pytest.fixture(scope="module")
def config(lambda_) -> dict:
    return lambda_.get_function_configuration(FunctionName=REFRESH)


def test_moto_stores_the_refresh_function_with_its_handler_and_settings(config):
    assert (config["Handler"], config["Runtime"], config["Architectures"]) == (
        "stocksense.lambda_refresh.handler", "python3.12", ["x86_64"])
    assert (config["MemorySize"], config["Timeout"]) == (512, 120)
    assert config["Role"] == f"arn:aws:iam::{ACCOUNT}:role/{REFRESH}"
    assert config["Environment"]["Variables"] == {"STOCKSENSE_PRICES_OBJECT": PRICES_URL}


def test_deployed_refresh_code_is_the_stand_in_with_the_real_handler_module(config):
    data = REFRESH_ZIP.read_bytes()
    assert config["CodeSha256"] == base64.b64encode(hashlib.sha256(data).digest()).decode()
    with zipfile.ZipFile(REFRESH_ZIP) as archive:
        module = archive.read("stocksense/lambda_refresh.py")
    assert module == (REPO / "app" / "src" / "stocksense" / "lambda_refresh.py").read_bytes()
    assert b"def handler(" in module


def test_the_rule_runs_daily_after_the_us_close(events):
    rule = events.describe_rule(Name=REFRESH)
    assert rule["Arn"] == RULE_ARN
    assert rule["ScheduleExpression"] == "cron(30 22 ? * MON-FRI *)"
    assert rule["State"] == "ENABLED"
    assert "EventPattern" not in rule


def test_the_rules_one_target_is_the_refresh_function(events):
    assert events.list_targets_by_rule(Rule=REFRESH)["Targets"] == [{"Id": "refresh-function", "Arn": REFRESH_ARN}]


def test_only_this_rule_may_invoke_the_refresh_function():
    statement = refresh_permission()
    assert statement["Action"] == "lambda:InvokeFunction"
    assert statement["Principal"] == {"Service": "events.amazonaws.com"}
    assert statement["Resource"] == REFRESH_ARN
    assert statement["Condition"] == {"ArnLike": {"AWS:SourceArn": RULE_ARN}}


def document(value) -> dict:
    return json.loads(value) if isinstance(value, str) else value


def test_the_refresh_role_is_lambdas_only_and_may_replace_the_prices_object_and_nothing_else(iam):
    trust = document(iam.get_role(RoleName=REFRESH)["Role"]["AssumeRolePolicyDocument"])
    assert trust["Statement"] == [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"},
    ]
    assert iam.list_role_policies(RoleName=REFRESH)["PolicyNames"] == ["refresh-prices-object"]
    assert iam.list_attached_role_policies(RoleName=REFRESH)["AttachedPolicies"] == []
    policy = document(iam.get_role_policy(RoleName=REFRESH, PolicyName="refresh-prices-object")["PolicyDocument"])
    assert policy["Statement"] == [
        {"Sid": "ReadAndReplaceThePricesObjectOnly", "Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"],
         "Resource": "arn:aws:s3:::stocksense-lp-test-models/prices/latest.json"},
        {"Sid": "WriteItsOwnLogGroupOnly", "Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
         "Resource": f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{REFRESH_LOG_GROUP}:*"},
    ]


def test_refresh_log_group_keeps_14_days():
    groups = moto_client("logs").describe_log_groups(logGroupNamePrefix=REFRESH_LOG_GROUP)["logGroups"]
    assert [(g["logGroupName"], g.get("retentionInDays")) for g in groups] == [(REFRESH_LOG_GROUP, 14)]
