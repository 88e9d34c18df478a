"""iam/operator-policy.json allows every AWS API operation Ansible made in this scenario.

Runs last. Every ansible-playbook and module process of the scenario (converge, idempotence and
the tests' runs: bad input, provision's update, teardown) appended its operations to
STOCKSENSE_AWS_API_LOG through iam/recorder (botocore's before-call event). moto answers them
locally. API Gateway's operations are checked as the HTTP-method actions IAM knows them by
(iam/policy_check.py).
"""

from __future__ import annotations

import os

from iam_completeness import policy_gaps  # tests/, on sys.path through conftest.py

# What this scenario must have recorded; an empty or partial recording would pass vacuously.
EXPECTED = {
    "iam:CreateRole", "iam:PutRolePolicy", "iam:DeleteRole", "iam:DeleteRolePolicy",
    "logs:CreateLogGroup", "logs:PutRetentionPolicy", "logs:DeleteLogGroup",
    "lambda:CreateFunction", "lambda:UpdateFunctionConfiguration", "lambda:UpdateFunctionCode", "lambda:DeleteFunction",
    "lambda:AddPermission", "lambda:RemovePermission",
    "apigateway:CreateRestApi", "apigateway:PutRestApi", "apigateway:CreateDeployment", "apigateway:DeleteRestApi",
    "events:PutRule", "events:PutTargets", "events:RemoveTargets", "events:DeleteRule",
}


def test_operator_policy_allows_every_operation_of_deploy_update_and_teardown():
    """Also fails if the recording lacks one of EXPECTED, or the policy grants a wildcard."""
    assert policy_gaps(os.environ, EXPECTED) == {}
