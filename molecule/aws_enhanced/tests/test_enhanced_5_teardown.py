"""playbooks/teardown.yml with stack_profile enhanced removes everything from moto: deletion
protection is switched off for the requested removal only, a final snapshot stays, a second run
changes nothing. Runs last but one: it destroys what the other tests read.
"""

from __future__ import annotations

import pytest

from conftest import DB, PATH, STACK, moto_client, run_playbook


@pytest.fixture(scope="module")
def teardown():
    result = run_playbook("playbooks/teardown.yml")
    assert result.rc == 0, result.output[-5000:]
    return result


def test_teardown_changes_things_then_nothing(teardown):
    assert teardown.changed > 0
    again = run_playbook("playbooks/teardown.yml")
    assert again.rc == 0, again.output[-5000:]
    assert again.changed == 0, again.output[-5000:]


def test_the_database_is_gone_with_a_final_snapshot_kept(teardown, rds):
    assert rds.describe_db_instances()["DBInstances"] == []
    snapshots = [s["DBSnapshotIdentifier"] for s in rds.describe_db_snapshots(DBInstanceIdentifier=DB)["DBSnapshots"]]
    assert [s for s in snapshots if s.startswith(f"{DB}-final-")], snapshots
    assert "Kept the final snapshot" in " ".join(teardown.output.split())


def test_nothing_else_is_left(teardown, rds, ec2, ssm):
    assert rds.describe_db_subnet_groups()["DBSubnetGroups"] == []
    assert [g["GroupName"] for g in ec2.describe_security_groups()["SecurityGroups"]] == ["default"]
    assert ssm.get_parameters_by_path(Path=PATH, Recursive=True)["Parameters"] == []
    assert moto_client("cloudfront").list_distributions()["DistributionList"].get("Items", []) == []
    assert STACK not in [role["RoleName"] for role in moto_client("iam").list_roles()["Roles"]]
