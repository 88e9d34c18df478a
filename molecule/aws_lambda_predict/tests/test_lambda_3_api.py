"""The REST API in moto (the API Gateway stand-in; nothing is served here): GET /predict/{symbol}
as a Lambda proxy integration pointing at the function, deployed to stage v1, and the function's
invoke permission limited to that API, stage and route.
"""

from __future__ import annotations

import pytest

from conftest import ACCOUNT, FUNCTION, REGION, invoke_permission, moto_client, our_apis

FUNCTION_ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{FUNCTION}"


@pytest.fixture(scope="module")
def api() -> dict:
    found = our_apis()
    assert len(found) == 1, found
    return found[0]


def test_one_regional_api_named_after_the_function(api):
    assert api["endpointConfiguration"]["types"] == ["REGIONAL"]
    assert api["tags"]["Role"] == "predict"


def test_the_only_route_is_get_predict_symbol(api):
    resources = moto_client("apigateway").get_resources(restApiId=api["id"])["items"]
    methods = {r["path"]: sorted(r.get("resourceMethods", {})) for r in resources}
    assert {path: found for path, found in methods.items() if found} == {"/predict/{symbol}": ["GET"]}


def test_route_is_a_lambda_proxy_integration_of_the_function(api):
    gateway = moto_client("apigateway")
    resource = next(r for r in gateway.get_resources(restApiId=api["id"])["items"] if r["path"] == "/predict/{symbol}")
    integration = gateway.get_integration(restApiId=api["id"], resourceId=resource["id"], httpMethod="GET")
    assert integration["type"].upper() == "AWS_PROXY"  # moto keeps the definition's case
    assert integration["httpMethod"] == "POST"
    assert integration["uri"] == f"arn:aws:apigateway:{REGION}:lambda:path/2015-03-31/functions/{FUNCTION_ARN}/invocations"


def test_api_is_deployed_to_stage_v1(api):
    stages = moto_client("apigateway").get_stages(restApiId=api["id"])["item"]
    assert [s["stageName"] for s in stages] == ["v1"]


def test_only_this_apis_stage_and_route_may_invoke_the_function(api):
    statement = invoke_permission()
    assert statement["Action"] == "lambda:InvokeFunction"
    assert statement["Principal"] == {"Service": "apigateway.amazonaws.com"}
    assert statement["Resource"] == FUNCTION_ARN
    assert statement["Condition"] == {
        "ArnLike": {"AWS:SourceArn": f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{api['id']}/v1/GET/predict/*"},
    }
