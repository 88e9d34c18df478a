"""What the ec2 role left in moto, the local stand-in for AWS, after converge and idempotence.

moto stands in for AWS here: the checks read moto's EC2 and IAM APIs with boto3, exactly as they
would read AWS.
"""

from __future__ import annotations

from conftest import (
    ADMIN_CIDR,
    CANONICAL,
    CLOUDWATCH_POLICY,
    ENV,
    NAME,
    NEWEST_NOBLE_AMI,
    live_instances,
    run_playbook,
    tags_of,
)

EXPECTED_TAGS = {"Project": "stocksense", "Env": ENV, "Role": "web"}


def the_instance(ec2) -> dict:
    instances = live_instances(ec2)
    assert len(instances) == 1, f"expected exactly one {NAME} instance in moto, found {len(instances)}"
    return instances[0]


def test_one_running_instance_from_the_newest_ubuntu_noble_ami_in_moto(ec2):
    instance = the_instance(ec2)
    assert instance["State"]["Name"] == "running"
    assert instance["InstanceType"] == "t2.micro"
    assert instance["ImageId"] == NEWEST_NOBLE_AMI, "the lookup must pick the newest matching image, not an older build"
    image = ec2.describe_images(ImageIds=[instance["ImageId"]])["Images"][0]
    assert image["OwnerId"] == CANONICAL
    assert image["Name"].startswith("ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-")


def test_instance_tags_key_and_imdsv2_in_moto(ec2):
    instance = the_instance(ec2)
    assert tags_of(instance) == {**EXPECTED_TAGS, "Name": NAME}
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


def test_instance_profile_carries_the_cloudwatch_agent_policy_in_moto(ec2, iam):
    instance = the_instance(ec2)
    assert instance["IamInstanceProfile"]["Arn"].endswith(f":instance-profile/{NAME}")
    profile = iam.get_instance_profile(InstanceProfileName=NAME)["InstanceProfile"]
    assert [role["RoleName"] for role in profile["Roles"]] == [NAME]
    attached = iam.list_attached_role_policies(RoleName=NAME)["AttachedPolicies"]
    assert [p["PolicyArn"] for p in attached] == [CLOUDWATCH_POLICY]
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


def test_provision_playbook_with_the_sandbox_inventory_changes_nothing_in_moto(ec2):
    """playbooks/provision.yml -i inventories/sandbox finds the converged instance: changed=0, no second one."""
    before = the_instance(ec2)["InstanceId"]
    result = run_playbook("playbooks/provision.yml")
    assert result.rc == 0, result.output
    assert result.changed == 0, result.output
    assert the_instance(ec2)["InstanceId"] == before
    assert "Wait for SSH on the Elastic IP" in result.output
    assert "skipping: [localhost]" in result.output.split("Wait for SSH on the Elastic IP", 1)[1].split("TASK", 1)[0], (
        "the sandbox must never wait for SSH on moto's made-up address"
    )
