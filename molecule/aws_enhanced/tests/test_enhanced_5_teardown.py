"""playbooks/teardown.yml with stack_profile enhanced removes everything from moto (the stand-in
for RDS, S3, IAM and SSM): deletion protection is switched off for the requested removal only, a
final snapshot stays, the model registry bucket stays with every version unless
aws_enhanced_registry_delete, a second run changes nothing. Runs last but one: it destroys what
the other tests read.
"""

from __future__ import annotations

import pytest

from conftest import DB, PATH, REGISTRY_BUCKET, REGISTRY_PREFIX, STACK, moto_client, run_playbook

MODEL_KEY = f"{REGISTRY_PREFIX}/AAPL/latest.json"


@pytest.fixture(scope="module")
def enhanced_teardown(s3):
    """The teardown's aws_enhanced part alone (--tags aws_enhanced), so the instance role, which the
    ec2 role's part deletes, is still there to show which inline policies the role removed.

    Two versions of a model first, as two pushes from the controller leave them. moto serves plain
    HTTP, which the bucket's TLS-only policy refuses: the test lifts the policy to write.
    """
    s3.delete_bucket_policy(Bucket=REGISTRY_BUCKET)
    for content in (b'{"version": 1}', b'{"version": 2}'):
        s3.put_object(Bucket=REGISTRY_BUCKET, Key=MODEL_KEY, Body=content)
    result = run_playbook("playbooks/teardown.yml", tags="aws_enhanced")
    assert result.rc == 0, result.output[-5000:]
    return result


def test_enhanced_teardown_removes_the_instance_roles_policies_and_the_parameters(enhanced_teardown, iam, ssm):
    assert enhanced_teardown.changed > 0
    assert STACK in [role["RoleName"] for role in iam.list_roles()["Roles"]], "--tags aws_enhanced keeps the role"
    assert iam.list_role_policies(RoleName=STACK)["PolicyNames"] == []
    assert ssm.get_parameters_by_path(Path=PATH, Recursive=True)["Parameters"] == []


def test_enhanced_teardown_keeps_the_registry_with_every_version_and_says_so(enhanced_teardown, s3):
    versions = s3.list_object_versions(Bucket=REGISTRY_BUCKET, Prefix=MODEL_KEY)["Versions"]
    assert len(versions) == 2
    said = " ".join(enhanced_teardown.output.split())
    assert f"Kept the model registry bucket {REGISTRY_BUCKET}" in said
    assert "-e aws_enhanced_registry_delete=true" in said


@pytest.fixture(scope="module")
def teardown(enhanced_teardown):
    result = run_playbook("playbooks/teardown.yml")
    assert result.rc == 0, result.output[-5000:]
    return result


def test_teardown_changes_things_then_nothing(teardown):
    assert teardown.changed > 0
    again = run_playbook("playbooks/teardown.yml")
    assert again.rc == 0, again.output[-5000:]
    assert again.changed == 0, again.output[-5000:]


def test_the_database_is_gone_with_a_final_snapshot_kept(enhanced_teardown, teardown, rds):
    """The aws_enhanced part deleted it (enhanced_teardown), and says so."""
    assert rds.describe_db_instances()["DBInstances"] == []
    snapshots = [s["DBSnapshotIdentifier"] for s in rds.describe_db_snapshots(DBInstanceIdentifier=DB)["DBSnapshots"]]
    assert [s for s in snapshots if s.startswith(f"{DB}-final-")], snapshots
    assert "Kept the final snapshot" in " ".join(enhanced_teardown.output.split())


def test_nothing_else_is_left(teardown, rds, ec2, ssm):
    assert rds.describe_db_subnet_groups()["DBSubnetGroups"] == []
    assert [g["GroupName"] for g in ec2.describe_security_groups()["SecurityGroups"]] == ["default"]
    assert ssm.get_parameters_by_path(Path=PATH, Recursive=True)["Parameters"] == []
    assert moto_client("cloudfront").list_distributions()["DistributionList"].get("Items", []) == []
    assert STACK not in [role["RoleName"] for role in moto_client("iam").list_roles()["Roles"]]


def test_the_registry_bucket_outlives_the_whole_teardown(teardown, s3):
    assert len(s3.list_object_versions(Bucket=REGISTRY_BUCKET)["Versions"]) == 2


def test_registry_delete_removes_the_bucket_with_every_version(teardown, s3):
    """Last: -e aws_enhanced_registry_delete=true, twice (the second changes nothing)."""
    first = run_playbook("playbooks/teardown.yml", extra_vars={"aws_enhanced_registry_delete": True})
    assert first.rc == 0, first.output[-5000:]
    assert first.changed == 1, first.output[-5000:]
    assert REGISTRY_BUCKET not in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    again = run_playbook("playbooks/teardown.yml", extra_vars={"aws_enhanced_registry_delete": True})
    assert again.rc == 0, again.output[-5000:]
    assert again.changed == 0, again.output[-5000:]
