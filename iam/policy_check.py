"""Compare AWS API operations recorded during a test run with iam/operator-policy.json.

Used by the IAM completeness tests of the ec2 and default molecule scenarios and by the static
policy test in tests/. The recording is made by iam/recorder/sitecustomize.py: one
"<prefix>:<Operation>" line per API call made by Ansible.
"""

from __future__ import annotations

import json
from pathlib import Path

POLICY = Path(__file__).resolve().parent / "operator-policy.json"

# API operations whose IAM action has another name (most share the operation's name).
ACTION_OF_OPERATION = {
    "s3:ListObjectsV2": "s3:ListBucket",
    "s3:ListObjects": "s3:ListBucket",
    "s3:HeadBucket": "s3:ListBucket",
    "s3:HeadObject": "s3:GetObject",
    "s3:ListObjectVersions": "s3:ListBucketVersions",
    "s3:DeleteObjects": "s3:DeleteObject",
    "s3:GetBucketAccelerateConfiguration": "s3:GetAccelerateConfiguration",
    "s3:GetBucketEncryption": "s3:GetEncryptionConfiguration",
    "s3:PutBucketEncryption": "s3:PutEncryptionConfiguration",
    "s3:GetBucketLifecycleConfiguration": "s3:GetLifecycleConfiguration",
    "s3:PutBucketLifecycleConfiguration": "s3:PutLifecycleConfiguration",
    "s3:DeleteBucketLifecycle": "s3:PutLifecycleConfiguration",
    "s3:GetPublicAccessBlock": "s3:GetBucketPublicAccessBlock",
    "s3:PutPublicAccessBlock": "s3:PutBucketPublicAccessBlock",
    "s3:DeletePublicAccessBlock": "s3:PutBucketPublicAccessBlock",
    "s3:GetObjectLockConfiguration": "s3:GetBucketObjectLockConfiguration",
    "s3:ListBucketInventoryConfigurations": "s3:GetInventoryConfiguration",
    "s3:DeleteBucketTagging": "s3:PutBucketTagging",
}
# botocore signing names that differ from the IAM service prefix.
PREFIX_OF_SIGNING_NAME = {"monitoring": "cloudwatch"}


def load_policy(path: Path = POLICY) -> dict:
    return json.loads(Path(path).read_text())


def statements(policy: dict) -> list[dict]:
    found = policy["Statement"]
    return found if isinstance(found, list) else [found]


def as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def allowed_actions(policy: dict) -> set[str]:
    """Every action an Allow statement names, lower-cased (IAM compares actions case-insensitively)."""
    return {
        action.lower()
        for statement in statements(policy)
        if statement.get("Effect") == "Allow"
        for action in as_list(statement.get("Action", []))
    }


def wildcard_grants(policy: dict) -> list[str]:
    """What would grant more than named actions: '*' or 'service:*' or any glob, and NotAction."""
    problems = []
    for statement in statements(policy):
        sid = statement.get("Sid", "?")
        if "NotAction" in statement:
            problems.append(f"{sid}: NotAction")
        problems += [f"{sid}: {action}" for action in as_list(statement.get("Action", [])) if "*" in action or "?" in action]
    return problems


def http_method_action(service: str, name: str) -> str:
    """API Gateway's IAM actions are the HTTP methods of its REST calls (CreateRestApi is
    apigateway:POST on /restapis): botocore's model of the service gives each operation's method."""
    import botocore.session  # only the controller's venv has it; the static checks need it not

    model = botocore.session.get_session().get_service_model(service)
    return f"{service}:{model.operation_model(name).http['method']}"


def iam_action(operation: str) -> str:
    prefix, name = operation.split(":", 1)
    if prefix == "apigateway":
        return http_method_action(prefix, name)
    operation = f"{PREFIX_OF_SIGNING_NAME.get(prefix, prefix)}:{name}"
    return ACTION_OF_OPERATION.get(operation, operation)


def recorded_operations(log: Path) -> set[str]:
    return {line.strip() for line in Path(log).read_text().splitlines() if line.strip()}


def missing_actions(policy: dict, operations: set[str]) -> list[str]:
    """The recorded operations whose IAM action the policy does not allow, sorted."""
    allowed = allowed_actions(policy)
    return sorted({iam_action(op) for op in operations if iam_action(op).lower() not in allowed})


def recording(env: dict) -> set[str]:
    """The operations recorded in the file STOCKSENSE_AWS_API_LOG names (set by the scenario)."""
    log = env.get("STOCKSENSE_AWS_API_LOG", "")
    assert log, "STOCKSENSE_AWS_API_LOG is not set: the scenario's molecule.yml enables the recording"
    assert Path(log).is_file(), f"{log} missing: iam/recorder was not on PYTHONPATH, or prepare did not run"
    return recorded_operations(Path(log))
