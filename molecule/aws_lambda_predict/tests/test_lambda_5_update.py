"""playbooks/provision.yml (deploy_lambda_predict on) against moto (the AWS stand-in) after converge,
with a new zip, more memory and another stage:
the function's code and configuration are updated in place, the API of the old definition is replaced (community.aws.api_gateway
applies a definition only when it creates an API) and the invoke permission follows the new API.
"""

from __future__ import annotations

import pytest

import base64
import hashlib
import shutil
import zipfile

from conftest import ACCOUNT, FUNCTION, REGION, STANDIN_DIR, STANDIN_ZIP, invoke_permission, moto_client, our_apis, run_stage

NEW_ZIP = STANDIN_DIR / "predict-standin-v2.zip"


@pytest.fixture(scope="module")
def update():
    old = [api["id"] for api in our_apis()]
    shutil.copyfile(STANDIN_ZIP, NEW_ZIP)
    with zipfile.ZipFile(NEW_ZIP, "a") as archive:
        archive.writestr("stocksense/RELEASE", "v2\n")
    result = run_stage("playbooks/provision.yml", {"aws_lambda_predict_zip": str(NEW_ZIP), "aws_lambda_predict_memory": 1024, "aws_lambda_predict_stage": "v2"})
    assert result.rc == 0, result.output[-5000:]
    return old, result


def test_update_changes_function_api_and_permission_only(update):
    _, result = update
    # function, new API, old API deleted, permission replaced
    assert result.changed == 4, result.output[-5000:]


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
