"""playbooks/teardown.yml (deploy_lambda_predict on) removes everything the role made from moto (the
AWS stand-in), and a second run changes nothing. Runs last but one: it destroys what the other tests read."""

from __future__ import annotations

import pytest

from conftest import FUNCTION, LOG_GROUP, REFRESH, REFRESH_LOG_GROUP, moto_client, our_apis, run_stage


@pytest.fixture(scope="module")
def teardown():
    result = run_stage("playbooks/teardown.yml")
    assert result.rc == 0, result.output[-5000:]
    return result


def test_teardown_changes_things_then_nothing(teardown):
    # the refresh's rule (with its target), function (with its permission), log group, role (with
    # its policy); then the API, function (with its permission), log group, role (with its policy)
    assert teardown.changed == 8, teardown.output[-5000:]
    again = run_stage("playbooks/teardown.yml")
    assert again.rc == 0, again.output[-5000:]
    assert again.changed == 0, again.output[-5000:]


def test_nothing_is_left(teardown, lambda_, iam, events):
    assert our_apis() == []
    assert [f["FunctionName"] for f in lambda_.list_functions()["Functions"]] == []
    assert moto_client("logs").describe_log_groups(logGroupNamePrefix=LOG_GROUP)["logGroups"] == []
    assert moto_client("logs").describe_log_groups(logGroupNamePrefix=REFRESH_LOG_GROUP)["logGroups"] == []
    roles = [role["RoleName"] for role in iam.list_roles()["Roles"]]
    assert FUNCTION not in roles and REFRESH not in roles
    assert events.list_rules()["Rules"] == []  # the refresh rule, and with it its target
