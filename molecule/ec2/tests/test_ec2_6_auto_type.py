"""ec2_instance_type=auto and ec2_os=ubuntu-24.04 against moto (the local stand-in for AWS):
the type comes from DescribeInstanceTypes (free-tier-eligible=true), its architecture picks the
image, and the login user follows the OS. A second environment, removed again at the end.
"""

from __future__ import annotations

import pytest

from conftest import MOTO_URL, flat, moto_client, NOBLE_ARM64_AMI, inventory_list, live_instances, run_playbook, tags_of

ALT_ENV = "molecule-alt"
ALT_NAME = f"stocksense-{ALT_ENV}-web"
# t2.micro first: moto, like a new account, does not report it as free-tier eligible, so auto must
# skip it and take t4g.small, a Graviton (arm64) type.
AUTO = {
    "ec2_env": ALT_ENV,
    "ec2_os": "ubuntu-24.04",
    "ec2_instance_type": "auto",
    "ec2_allowed_instance_types": ["t2.micro", "t4g.small", "t3.micro"],
}


@pytest.fixture(scope="module")
def alt_instance(ec2):
    result = run_playbook("playbooks/provision.yml", extra_vars=AUTO)
    assert result.rc == 0, result.output
    instances = live_instances(ec2, ALT_NAME)
    yield instances
    # Its backups too (the sandbox's settings: a bucket, no snapshot vault), so the last teardown
    # test finds only the scenario's own.
    removed = run_playbook("playbooks/teardown.yml", extra_vars={"ec2_env": ALT_ENV, "teardown_delete_backups": True})
    assert removed.rc == 0, removed.output
    assert removed.changed > 0, removed.output
    assert live_instances(ec2, ALT_NAME) == []
    assert not [b for b in moto_client("s3").list_buckets()["Buckets"] if b["Name"].startswith(ALT_NAME)]


def test_auto_takes_the_first_allowed_free_tier_type_with_its_arm64_image(ec2, alt_instance):
    assert len(alt_instance) == 1
    instance = alt_instance[0]
    assert instance["InstanceType"] == "t4g.small"
    assert instance["ImageId"] == NOBLE_ARM64_AMI
    assert ec2.describe_images(ImageIds=[NOBLE_ARM64_AMI])["Images"][0]["Architecture"] == "arm64"
    specs = ec2.describe_instance_credit_specifications(InstanceIds=[instance["InstanceId"]])["InstanceCreditSpecifications"]
    assert [spec["CpuCredits"] for spec in specs] == ["standard"]


def test_the_login_user_follows_the_os_into_the_inventory(alt_instance):
    assert tags_of(alt_instance[0])["LoginUser"] == "ubuntu"
    inventory = inventory_list("inventories/aws", AWS_URL=MOTO_URL, STOCKSENSE_ENV=ALT_ENV)
    assert inventory["_meta"]["hostvars"][ALT_NAME]["ansible_user"] == "ubuntu"


def test_auto_without_an_eligible_allowed_type_fails_with_the_reason(alt_instance):
    result = run_playbook("playbooks/provision.yml", extra_vars={**AUTO, "ec2_env": "molecule-none", "ec2_allowed_instance_types": ["t2.micro"]})
    assert result.rc != 0
    assert "ec2_instance_type=auto: none of ec2_allowed_instance_types (t2.micro) is free-tier eligible" in flat(result.output)
