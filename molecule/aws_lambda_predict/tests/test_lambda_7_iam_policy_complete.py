"""iam/operator-policy.json allows every AWS API operation Ansible made in this scenario.

Runs last. Every ansible-playbook and module process of the scenario (converge, idempotence and
the tests' runs: bad input, update, teardown) appended its operations to STOCKSENSE_AWS_API_LOG
through iam/recorder (botocore's before-call event). moto answers them locally.
"""

from __future__ import annotations

import os
import sys

import pytest

from conftest import REPO

sys.path.insert(0, str(REPO / "iam"))
import botocore.session  # noqa: E402
import policy_check  # noqa: E402

APIGATEWAY = botocore.session.get_session().get_service_model("apigateway")


def as_iam_operation(operation: str) -> str:
    """API Gateway's IAM actions are the HTTP methods of its REST calls (CreateRestApi is
    apigateway:POST on /restapis): botocore's service model gives each operation's method."""
    prefix, name = operation.split(":", 1)
    return f"apigateway:{APIGATEWAY.operation_model(name).http['method']}" if prefix == "apigateway" else operation

# What this scenario must have recorded; an empty or partial recording would pass vacuously.
EXPECTED = {
    "iam:CreateRole", "iam:PutRolePolicy", "iam:DeleteRole", "iam:DeleteRolePolicy",
    "logs:CreateLogGroup", "logs:PutRetentionPolicy", "logs:DeleteLogGroup",
    "lambda:CreateFunction", "lambda:UpdateFunctionConfiguration", "lambda:UpdateFunctionCode", "lambda:DeleteFunction",
    "lambda:AddPermission", "lambda:RemovePermission",
    "apigateway:CreateRestApi", "apigateway:PutRestApi", "apigateway:CreateDeployment", "apigateway:DeleteRestApi",
}


@pytest.fixture(scope="module")
def operations() -> set[str]:
    found = policy_check.recording(os.environ)
    print("recorded AWS API operations:", ", ".join(sorted(found)))
    return found


def test_the_recording_saw_deploy_update_and_teardown(operations):
    assert EXPECTED <= operations, sorted(EXPECTED - operations)


def test_operator_policy_allows_every_recorded_operation(operations):
    missing = policy_check.missing_actions(policy_check.load_policy(), {as_iam_operation(op) for op in operations})
    assert missing == [], f"iam/operator-policy.json lacks: {missing}"


def test_api_gateway_operations_map_to_their_http_methods():
    assert [as_iam_operation(op) for op in ("apigateway:CreateRestApi", "apigateway:PutRestApi", "apigateway:DeleteRestApi")] == [
        "apigateway:POST", "apigateway:PUT", "apigateway:DELETE"]


def test_operator_policy_grants_no_wildcard_action():
    assert policy_check.wildcard_grants(policy_check.load_policy()) == []
