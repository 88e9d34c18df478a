"""playbooks/teardown.yml removes everything from moto (the local stand-in for AWS), and the
sandbox play then removes the container; second runs change nothing. Runs last: it destroys
what the other tests read.
"""

from __future__ import annotations

import pytest

from test_ec2_4_sandbox import PORTS

from conftest import NAME, inventory_list, live_instances, run_playbook


@pytest.fixture(scope="module")
def teardown():
    result = run_playbook("playbooks/teardown.yml")
    assert result.rc == 0, result.output
    return result


def test_teardown_changes_things_then_nothing(teardown):
    assert teardown.changed > 0
    again = run_playbook("playbooks/teardown.yml")
    assert again.rc == 0, again.output
    assert again.changed == 0, again.output


def test_nothing_is_left_in_moto(teardown, ec2, iam):
    assert live_instances(ec2) == []
    assert ec2.describe_addresses()["Addresses"] == [], "the Elastic IP must be released"
    groups = [g["GroupName"] for g in ec2.describe_security_groups()["SecurityGroups"]]
    assert groups == ["default"]
    assert ec2.describe_key_pairs()["KeyPairs"] == []
    assert iam.list_instance_profiles()["InstanceProfiles"] == []
    assert NAME not in [role["RoleName"] for role in iam.list_roles()["Roles"]]


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
