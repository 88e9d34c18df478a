"""playbooks/provision.yml (deploy_lambda_predict on) against moto (the AWS stand-in) after converge,
with a new zip, more memory and another stage:
the function's code and configuration are updated in place, the API of the old definition is replaced (community.aws.api_gateway
applies a definition only when it creates an API) and the invoke permission follows the new API;
the refresh rule takes a new schedule; then the refresh is switched off (removed) and on again.
"""

from __future__ import annotations

import pytest

import base64
import hashlib
import shutil
import zipfile

from conftest import ACCOUNT, FUNCTION, REFRESH, REGION, STANDIN_DIR, STANDIN_ZIP, invoke_permission, moto_client, our_apis, refresh_permission, run_stage

NEW_ZIP = STANDIN_DIR / "predict-standin-v2.zip"
NEW_SCHEDULE = "cron(0 23 ? * MON-FRI *)"


@pytest.fixture(scope="module")
def update():
    old = [api["id"] for api in our_apis()]
    shutil.copyfile(STANDIN_ZIP, NEW_ZIP)
    with zipfile.ZipFile(NEW_ZIP, "a") as archive:
        archive.writestr("stocksense/RELEASE", "v2\n")
    result = run_stage("playbooks/provision.yml", {"aws_lambda_predict_zip": str(NEW_ZIP), "aws_lambda_predict_memory": 1024, "aws_lambda_predict_stage": "v2",
                                                   "aws_lambda_predict_refresh_schedule": NEW_SCHEDULE})
    assert result.rc == 0, result.output[-5000:]
    return old, result


def test_update_changes_function_api_and_permission_only(update):
    _, result = update
    # function, new API, old API deleted, permission replaced; the refresh rule's schedule
    assert result.changed == 5, result.output[-5000:]


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


def test_the_refresh_rule_takes_the_new_schedule_and_keeps_its_target_and_permission(update, events):
    assert events.describe_rule(Name=REFRESH)["ScheduleExpression"] == NEW_SCHEDULE
    assert [t["Id"] for t in events.list_targets_by_rule(Rule=REFRESH)["Targets"]] == ["refresh-function"]
    assert refresh_permission()["Condition"]["ArnLike"]["AWS:SourceArn"] == f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{REFRESH}"


@pytest.fixture(scope="module")
def switched_off(update):
    """provision.yml again with aws_lambda_predict_refresh_enabled false: the off switch."""
    result = run_stage("playbooks/provision.yml", {"aws_lambda_predict_zip": str(NEW_ZIP), "aws_lambda_predict_memory": 1024, "aws_lambda_predict_stage": "v2",
                                                   "aws_lambda_predict_refresh_enabled": False})
    assert result.rc == 0, result.output[-5000:]
    return result


def test_the_off_switch_removes_the_refresh_only(switched_off, lambda_, events, iam):
    # rule (with its target), function (with its permission), log group, role (with its policy)
    assert switched_off.changed == 4, switched_off.output[-5000:]
    assert events.list_rules()["Rules"] == []
    assert [f["FunctionName"] for f in lambda_.list_functions()["Functions"]] == [FUNCTION]
    assert REFRESH not in [role["RoleName"] for role in iam.list_roles()["Roles"]]
    assert len(our_apis()) == 1


def test_switched_on_again_the_refresh_comes_back(switched_off, events):
    result = run_stage("playbooks/provision.yml", {"aws_lambda_predict_zip": str(NEW_ZIP), "aws_lambda_predict_memory": 1024, "aws_lambda_predict_stage": "v2"})
    assert result.rc == 0, result.output[-5000:]
    # role, its policy, log group, function, rule with its target, permission
    assert result.changed == 6, result.output[-5000:]
    assert events.describe_rule(Name=REFRESH)["ScheduleExpression"] == "cron(30 22 ? * MON-FRI *)"
    assert refresh_permission()["Principal"] == {"Service": "events.amazonaws.com"}
