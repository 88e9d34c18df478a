#!/usr/bin/python
# Why an in-repo module: neither amazon.aws 10 nor community.aws 10 (the pinned collections) has a
# module for CloudWatch dashboards. It is built on amazon.aws's AnsibleAWSModule, so region,
# endpoint_url, profile and credentials work exactly as in the collection's own modules.
from __future__ import annotations

DOCUMENTATION = r"""
---
module: cloudwatch_dashboard
short_description: Create, update or delete one CloudWatch dashboard
description:
  - Puts the dashboard (PutDashboard) only when its body differs from the one CloudWatch holds,
    compared as JSON values (key order and whitespace do not count), so a second run reports no
    change. Deletes it (DeleteDashboards) with I(state=absent) when it exists.
  - Supports check mode and diff mode.
options:
  name:
    description: Dashboard name (up to 255 letters, digits, C(-) and C(_)).
    type: str
    required: true
  body:
    description:
      - The dashboard body (C(widgets), ...) as a dict or a JSON string. Required with I(state=present).
    type: raw
  state:
    description: Whether the dashboard exists.
    type: str
    choices: [present, absent]
    default: present
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
author: StockSense Ops
"""

EXAMPLES = r"""
- name: The stack's dashboard
  cloudwatch_dashboard:
    name: stocksense-prod-web
    body: "{{ lookup('ansible.builtin.template', 'dashboard.json.j2') | from_json }}"
    region: eu-west-1
"""

RETURN = r"""
dashboard_arn:
  description: ARN of the dashboard; empty when it does not exist.
  returned: always
  type: str
body:
  description: The dashboard body now in place (empty dict when absent).
  returned: always
  type: dict
validation_messages:
  description: What CloudWatch reported about the body when it was put.
  returned: when the dashboard was put
  type: list
"""

import json

try:
    from botocore.exceptions import BotoCoreError, ClientError
except ImportError:
    pass  # AnsibleAWSModule reports the missing botocore itself

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry


def as_body(value) -> dict:
    """The body as a dict, whether given as a dict or as JSON text."""
    if isinstance(value, (str, bytes)):
        value = json.loads(value)
    if not isinstance(value, dict):
        raise ValueError("body must be a JSON object")
    return value


def current(client, name: str) -> dict | None:
    """The dashboard CloudWatch holds, or None."""
    try:
        found = client.get_dashboard(DashboardName=name, aws_retry=True)
    except is_boto3_error_code(["ResourceNotFound", "ResourceNotFoundException"]):  # AWS, moto
        return None
    return {"arn": found.get("DashboardArn", ""), "body": json.loads(found.get("DashboardBody") or "{}")}


def ensure_present(module, client, name: str, wanted: dict, existing: dict | None) -> dict:
    if existing is not None and existing["body"] == wanted:
        return {"changed": False, "dashboard_arn": existing["arn"], "body": wanted}
    result = {"changed": True, "dashboard_arn": existing["arn"] if existing else "", "body": wanted,
              "diff": {"before": existing["body"] if existing else {}, "after": wanted}}
    if module.check_mode:
        return result
    answer = client.put_dashboard(DashboardName=name, DashboardBody=json.dumps(wanted, sort_keys=True), aws_retry=True)
    result["validation_messages"] = answer.get("DashboardValidationMessages", [])
    result["dashboard_arn"] = current(client, name)["arn"]
    return result


def ensure_absent(module, client, name: str, existing: dict | None) -> dict:
    if existing is None:
        return {"changed": False, "dashboard_arn": "", "body": {}}
    if not module.check_mode:
        client.delete_dashboards(DashboardNames=[name], aws_retry=True)
    return {"changed": True, "dashboard_arn": "", "body": {}, "diff": {"before": existing["body"], "after": {}}}


def main() -> None:
    module = AnsibleAWSModule(
        argument_spec={
            "name": {"type": "str", "required": True},
            "body": {"type": "raw"},
            "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
        },
        required_if=[("state", "present", ["body"])],
        supports_check_mode=True,
    )
    name = module.params["name"]
    wanted = None
    if module.params["state"] == "present":
        try:
            wanted = as_body(module.params["body"])
        except ValueError as error:
            module.fail_json(msg=f"body is not a JSON object: {error}")
    client = module.client("cloudwatch", retry_decorator=AWSRetry.jittered_backoff())
    try:
        existing = current(client, name)
        if wanted is not None:
            result = ensure_present(module, client, name, wanted, existing)
        else:
            result = ensure_absent(module, client, name, existing)
    except (BotoCoreError, ClientError) as error:
        module.fail_json_aws(error, msg=f"CloudWatch dashboard {name} could not be read or changed")
    if not module._diff:
        result.pop("diff", None)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
