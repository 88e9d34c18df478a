"""What the ec2 role left in moto, the local stand-in for AWS, after converge and idempotence.

moto stands in for AWS here: the checks read moto's EC2 and IAM APIs with boto3, exactly as they
would read AWS.
"""

from __future__ import annotations

import json

import pytest

from conftest import (
    ADMIN_CIDR,
    BUCKET,
    MONITORING,
    DEBIAN,
    ENV,
    NAME,
    NEWEST_DEBIAN_AMD64_AMI,
    flat,
    live_instances,
    run_playbook,
    tags_of,
)

EXPECTED_TAGS = {"Project": "stocksense", "Env": ENV, "Role": "web"}


def the_instance(ec2) -> dict:
    instances = live_instances(ec2)
    assert len(instances) == 1, f"expected exactly one {NAME} instance in moto, found {len(instances)}"
    return instances[0]


def test_one_running_t3_micro_from_the_newest_debian_13_amd64_stand_in_ami_in_moto(ec2):
    """The default OS is Debian 13; moto has no Debian image, so scripts/moto-amis.json registers stand-ins."""
    instance = the_instance(ec2)
    assert instance["State"]["Name"] == "running"
    assert instance["InstanceType"] == "t3.micro"
    assert instance["ImageId"] == NEWEST_DEBIAN_AMD64_AMI, "the lookup must pick the newest matching image, not an older build"
    image = ec2.describe_images(ImageIds=[instance["ImageId"]])["Images"][0]
    assert image["OwnerId"] == DEBIAN
    assert image["Name"].startswith("debian-13-amd64-")
    assert image["Architecture"] == "x86_64"


def test_cpu_credits_are_standard_in_moto(ec2):
    """A t3 launched without a credit specification runs "unlimited" and may bill for surplus credits."""
    instance_id = the_instance(ec2)["InstanceId"]
    specs = ec2.describe_instance_credit_specifications(InstanceIds=[instance_id])["InstanceCreditSpecifications"]
    assert [spec["CpuCredits"] for spec in specs] == ["standard"]


def test_instance_tags_key_and_imdsv2_in_moto(ec2):
    instance = the_instance(ec2)
    # BackupDestination is aws_monitoring's (test_ec2_1m_monitoring.py).
    assert tags_of(instance) == {**EXPECTED_TAGS, "Name": NAME, "LoginUser": "admin", "BackupDestination": f"s3://{BUCKET}/{NAME}"}
    assert instance["KeyName"] == NAME
    assert instance["MetadataOptions"]["HttpTokens"] == "required", "IMDSv2 must be required"
    assert instance["MetadataOptions"]["HttpEndpoint"] == "enabled"


def test_root_volume_is_encrypted_gp3_of_the_configured_size_in_moto(ec2):
    instance = the_instance(ec2)
    root = next(m for m in instance["BlockDeviceMappings"] if m["DeviceName"] == instance["RootDeviceName"])
    volume = ec2.describe_volumes(VolumeIds=[root["Ebs"]["VolumeId"]])["Volumes"][0]
    assert volume["VolumeType"] == "gp3"
    assert volume["Encrypted"] is True
    assert volume["Size"] == 16
    assert root["Ebs"]["DeleteOnTermination"] is True


def test_security_group_allows_ssh_only_from_the_admin_cidr_in_moto(ec2):
    instance = the_instance(ec2)
    group_ids = [g["GroupId"] for g in instance["SecurityGroups"]]
    assert len(group_ids) == 1
    group = ec2.describe_security_groups(GroupIds=group_ids)["SecurityGroups"][0]
    assert group["GroupName"] == NAME
    opened = {}
    for permission in group["IpPermissions"]:
        sources = [r["CidrIp"] for r in permission.get("IpRanges", [])] + [r["CidrIpv6"] for r in permission.get("Ipv6Ranges", [])]
        for port in range(permission["FromPort"], permission["ToPort"] + 1):
            opened.setdefault(port, set()).update(sources)
    assert opened == {22: {ADMIN_CIDR}, 80: {"0.0.0.0/0"}, 443: {"0.0.0.0/0"}}, opened


def test_key_pair_is_the_imported_public_key_in_moto(ec2):
    pairs = ec2.describe_key_pairs(KeyNames=[NAME], IncludePublicKey=True)["KeyPairs"]
    assert len(pairs) == 1
    assert pairs[0]["PublicKey"].split()[:2] == [
        "ssh-ed25519",
        "AAAAC3NzaC1lZDI1NTE5AAAAIBxcSEyt+aUSbEHCbPOv3erjO7Ll2dPg3C7Ms0VpVpBa",
    ]
    assert tags_of(pairs[0]) == EXPECTED_TAGS


def test_instance_role_has_only_the_scoped_inline_agent_policy_in_moto(ec2, iam):
    """No account-wide managed policy: metrics into the StockSense namespace, /stocksense/* log groups."""
    instance = the_instance(ec2)
    assert instance["IamInstanceProfile"]["Arn"].endswith(f":instance-profile/{NAME}")
    profile = iam.get_instance_profile(InstanceProfileName=NAME)["InstanceProfile"]
    assert [role["RoleName"] for role in profile["Roles"]] == [NAME]
    assert iam.list_attached_role_policies(RoleName=NAME)["AttachedPolicies"] == []
    # cloudwatch-agent here; backup-bucket (its own bucket prefix) is aws_monitoring's, checked in
    # test_ec2_1m_monitoring.py.
    assert sorted(iam.list_role_policies(RoleName=NAME)["PolicyNames"]) == ["backup-bucket", "cloudwatch-agent"]
    document = iam.get_role_policy(RoleName=NAME, PolicyName="cloudwatch-agent")["PolicyDocument"]
    if isinstance(document, str):
        document = json.loads(document)
    by_sid = {statement["Sid"]: statement for statement in document["Statement"]}
    metrics = by_sid["MetricsIntoTheStacksNamespaceOnly"]
    assert metrics["Action"] == "cloudwatch:PutMetricData"
    assert metrics["Condition"] == {"StringEquals": {"cloudwatch:namespace": "StockSense"}}
    logs = by_sid["LogsOfTheStacksLogGroupsOnly"]
    assert logs["Resource"] == ["arn:aws:logs:eu-west-1:*:log-group:/stocksense/*", "arn:aws:logs:eu-west-1:*:log-group:/stocksense/*:log-stream:*"]
    actions = [a for statement in document["Statement"] for a in ([statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"])]
    assert not [a for a in actions if "*" in a], actions
    trust = iam.get_role(RoleName=NAME)["Role"]["AssumeRolePolicyDocument"]
    assert trust["Statement"][0]["Principal"] == {"Service": "ec2.amazonaws.com"}


def test_one_tagged_elastic_ip_is_the_instances_public_address_in_moto(ec2):
    instance = the_instance(ec2)
    addresses = ec2.describe_addresses(Filters=[{"Name": "tag:Name", "Values": [NAME]}])["Addresses"]
    assert len(addresses) == 1
    assert addresses[0]["InstanceId"] == instance["InstanceId"]
    assert tags_of(addresses[0]) == {**EXPECTED_TAGS, "Name": NAME}
    assert instance["PublicIpAddress"] == addresses[0]["PublicIp"]
    assert len(ec2.describe_addresses()["Addresses"]) == 1, "no stray Elastic IP may be allocated"


@pytest.fixture(scope="module")
def provision_again(ec2):
    """playbooks/provision.yml -i inventories/sandbox after converge (with its aws_monitoring
    settings): the instance before, and the run."""
    before = the_instance(ec2)["InstanceId"]
    return before, run_playbook("playbooks/provision.yml", extra_vars=MONITORING)


def test_provision_playbook_with_the_sandbox_inventory_changes_nothing_in_moto(ec2, provision_again):
    """playbooks/provision.yml -i inventories/sandbox finds the converged instance: changed=0, no second one."""
    before, result = provision_again
    assert result.rc == 0, result.output
    assert result.changed == 0, result.output
    assert the_instance(ec2)["InstanceId"] == before
    assert "Wait for SSH on the Elastic IP" in result.output
    assert "skipping: [localhost]" in result.output.split("Wait for SSH on the Elastic IP", 1)[1].split("TASK", 1)[0], (
        "the sandbox must never wait for SSH on moto's made-up address"
    )


def test_provision_ends_by_printing_the_elastic_ip(ec2, provision_again):
    """The last task of playbooks/provision.yml names the address to point the domain at."""
    eip = ec2.describe_addresses(Filters=[{"Name": "tag:Name", "Values": [NAME]}])["Addresses"][0]["PublicIp"]
    _, result = provision_again
    assert result.rc == 0, result.output
    last_task = flat(result.output.rsplit("TASK [", 1)[1])
    assert last_task.startswith("Print the Elastic IP to point the domain at]"), last_task
    assert f"Elastic IP of {NAME}: {eip}" in last_task
    assert f"Point your domain's DNS A record at {eip}." in last_task
    assert f"Backups of {NAME} go to s3://{BUCKET}/{NAME};" in last_task
