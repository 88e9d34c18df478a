"""playbooks/teardown.yml removes everything from moto (the local stand-in for AWS) but the
backups (bucket and snapshot vault), and the sandbox play then removes the container; second runs
change nothing; -e teardown_delete_backups=true then removes the backups, every object version
included. Runs last: it destroys what the other tests read.
"""

from __future__ import annotations

import pytest

from test_ec2_4_sandbox import PORTS

from conftest import BUCKET, MONITORING, NAME, inventory_list, live_instances, moto_client, run_playbook

BACKUP_KEY = f"{NAME}/db/backup.sqlite"


@pytest.fixture(scope="module")
def teardown():
    # A backup written twice (two versions), as the app's timer would leave it. moto serves plain
    # HTTP, which the bucket's TLS-only policy refuses: the test lifts the policy to write.
    s3 = moto_client("s3")
    s3.delete_bucket_policy(Bucket=BUCKET)
    for content in (b"first", b"second"):
        s3.put_object(Bucket=BUCKET, Key=BACKUP_KEY, Body=content)
    result = run_playbook("playbooks/teardown.yml", extra_vars=MONITORING)
    assert result.rc == 0, result.output
    return result


def test_teardown_changes_things_then_nothing(teardown):
    assert teardown.changed > 0
    again = run_playbook("playbooks/teardown.yml", extra_vars=MONITORING)
    assert again.rc == 0, again.output
    assert again.changed == 0, again.output


def test_nothing_is_left_in_moto_but_the_backups(teardown, ec2, iam):
    assert live_instances(ec2) == []
    assert ec2.describe_addresses()["Addresses"] == [], "the Elastic IP must be released"
    groups = [g["GroupName"] for g in ec2.describe_security_groups()["SecurityGroups"]]
    assert groups == ["default"]
    assert ec2.describe_key_pairs()["KeyPairs"] == []
    assert iam.list_instance_profiles()["InstanceProfiles"] == []
    roles = [role["RoleName"] for role in iam.list_roles()["Roles"]]
    assert NAME not in roles and f"{NAME}-backup" not in roles
    for region in ("eu-west-1", "us-east-1"):
        assert moto_client("cloudwatch", region).describe_alarms()["MetricAlarms"] == [], region
        assert moto_client("sns", region).list_topics()["Topics"] == [], region
    assert moto_client("cloudwatch").list_dashboards()["DashboardEntries"] == []
    assert moto_client("logs").describe_metric_filters()["metricFilters"] == []
    assert moto_client("backup").list_backup_plans()["BackupPlansList"] == []
    # The backups stay: the bucket with both versions of the object, and the vault.
    versions = moto_client("s3").list_object_versions(Bucket=BUCKET)["Versions"]
    assert len([v for v in versions if v["Key"] == BACKUP_KEY]) == 2
    assert [v["BackupVaultName"] for v in moto_client("backup").list_backup_vaults()["BackupVaultList"]] == [NAME]
    assert f"Kept the backups: the bucket {BUCKET}" in " ".join(teardown.output.split())


def test_inventory_no_longer_lists_the_host(teardown):
    inventory = inventory_list("inventories/sandbox")
    assert NAME not in inventory["_meta"]["hostvars"]
    # web itself stays declared (00-groups.yml), but holds no host any more.
    assert not inventory.get("web", {}).get("hosts")
    assert not inventory.get("sandbox_web", {}).get("hosts")


def test_sandbox_play_removes_the_container_of_the_gone_instance(teardown):
    import subprocess

    result = run_playbook("playbooks/sandbox.yml", extra_vars=PORTS)
    assert result.rc == 0, result.output
    assert subprocess.run(["podman", "container", "exists", NAME], check=False).returncode == 1
    again = run_playbook("playbooks/sandbox.yml", extra_vars=PORTS)
    assert again.changed == 0, again.output


def test_delete_backups_removes_the_bucket_with_every_version_and_the_vault(teardown):
    """Last: -e teardown_delete_backups=true, twice (the second changes nothing)."""
    first = run_playbook("playbooks/teardown.yml", extra_vars={**MONITORING, "teardown_delete_backups": True})
    assert first.rc == 0, first.output
    assert first.changed > 0, first.output
    assert moto_client("s3").list_buckets()["Buckets"] == []
    assert moto_client("backup").list_backup_vaults()["BackupVaultList"] == []
    again = run_playbook("playbooks/teardown.yml", extra_vars={**MONITORING, "teardown_delete_backups": True})
    assert again.rc == 0, again.output
    assert again.changed == 0, again.output
