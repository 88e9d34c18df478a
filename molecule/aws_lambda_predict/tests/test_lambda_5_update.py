"""playbooks/provision.yml (deploy_lambda_predict on) against moto (the AWS stand-in) after converge,
with a new zip, more memory and another stage, and the refresh switched off:
the function's code and configuration are updated in place, the API of the old definition is replaced (community.aws.api_gateway
applies a definition only when it creates an API), the invoke permission follows the new API, and
the off switch removes the refresh function and its schedule only. Then the refresh is switched on
again with another schedule (one run for both, to keep the scenario short).
"""

from __future__ import annotations

import pytest

import base64
import hashlib
import shutil
import zipfile

from conftest import ACCOUNT, FUNCTION, REFRESH, REGION, STANDIN_DIR, STANDIN_ZIP, invoke_permission, moto_client, our_apis, refresh_permission, run_stage

NEW_ZIP = STANDIN_DIR / "predict-standin-v2.zip"
UPDATE = {"aws_lambda_predict_zip": str(NEW_ZIP), "aws_lambda_predict_memory": 1024, "aws_lambda_predict_stage": "v2"}
NEW_SCHEDULE = "cron(0 23 ? * MON-FRI *)"


@pytest.fixture(scope="module")
def update():
    old = [api["id"] for api in our_apis()]
    shutil.copyfile(STANDIN_ZIP, NEW_ZIP)
    with zipfile.ZipFile(NEW_ZIP, "a") as archive:
        archive.writestr("stocksense/RELEASE", "v2\n")
    result = run_stage("playbooks/provision.yml", {**UPDATE, "aws_lambda_predict_refresh_enabled": False})
    assert result.rc == 0, result.output[-5000:]
    return old, result


def test_update_changes_function_api_and_permission_and_removes_the_refresh(update):
    _, result = update
    # function, new API, old API deleted, permission replaced; the off switch: the refresh's rule
    # (with its target), function (with its permission), log group, role (with its policy)
    assert result.changed == 8, result.output[-5000:]


def test_function_code_and_memory_are_updated_in_place(update, lambda_):
    config = lambda_.get_function_configuration(FunctionName=FUNCTION)
    assert config["MemorySize"] == 1024
    assert config["CodeSha256"] == base64.b64encode(hashlib.sha256(NEW_ZIP.read_bytes()).digest()).decode()


def test_the_old_api_is_replaced_and_the_permission_follows(update):
    old, _ = update
    apis = our_apis()
    assert len(apis) == 1 and apis[0]["id"] not in old, (old, apis)
    stages = moto_client("apigateway").get_stages(restApiId=apis[0]["id"])["item"]
    assert [s["stageName"] for s in stages] == ["v2"]
    source = invoke_permission()["Condition"]["ArnLike"]["AWS:SourceArn"]
    assert source == f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{apis[0]['id']}/v2/GET/predict/*"


def test_the_off_switch_removes_the_refresh_only(update, lambda_, events, iam):
    assert events.list_rules()["Rules"] == []
    assert [f["FunctionName"] for f in lambda_.list_functions()["Functions"]] == [FUNCTION]
    roles = [role["RoleName"] for role in iam.list_roles()["Roles"]]
    assert REFRESH not in roles and FUNCTION in roles
    assert moto_client("logs").describe_log_groups(logGroupNamePrefix=f"/aws/lambda/{REFRESH}")["logGroups"] == []


def test_switched_on_again_the_refresh_comes_back_on_its_new_schedule(update, events):
    result = run_stage("playbooks/provision.yml", {**UPDATE, "aws_lambda_predict_refresh_schedule": NEW_SCHEDULE})
    assert result.rc == 0, result.output[-5000:]
    # role, its policy, log group, function, rule with its target, permission; nothing of predict
    assert result.changed == 6, result.output[-5000:]
    assert events.describe_rule(Name=REFRESH)["ScheduleExpression"] == NEW_SCHEDULE
    assert [t["Id"] for t in events.list_targets_by_rule(Rule=REFRESH)["Targets"]] == ["refresh-function"]
    assert refresh_permission()["Condition"]["ArnLike"]["AWS:SourceArn"] == f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{REFRESH}"
