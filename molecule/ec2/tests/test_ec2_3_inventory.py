"""The dynamic inventories, asked of moto (the local stand-in for AWS) instead of AWS.

inventories/sandbox maps the instance to its podman container; inventories/aws, pointed at moto
through AWS_URL, maps it to its Elastic IP. Both group it by its tags.
"""

from __future__ import annotations

import subprocess
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import BIN, ENV, MOTO_URL, NAME, NEWEST_DEBIAN_AMD64_AMI, REPO, inventory_graph, inventory_list, live_instances, moto_env

GROUPS = {"web", f"env_{ENV}", "project_stocksense", "aws_ec2"}
# Each inventory also puts the host in its own child group of web (00-groups.yml), whose
# group_vars hold what differs from the shared group_vars/web.
SANDBOX_GROUPS = GROUPS | {"sandbox_web"}
AWS_GROUPS = GROUPS | {"aws_web"}


def groups_of(inventory: dict, host: str) -> set[str]:
    return {group for group, data in inventory.items() if host in (data.get("hosts") or [])}


def test_sandbox_inventory_maps_the_moto_instance_to_its_container():
    inventory = inventory_list("inventories/sandbox")
    assert groups_of(inventory, NAME) == SANDBOX_GROUPS
    assert "sandbox_web" in inventory["web"]["children"]
    hostvars = inventory["_meta"]["hostvars"][NAME]
    # ansible-core's short name for containers.podman.podman (the one mitogen's strategy redirects).
    assert hostvars["ansible_connection"] == "podman"
    assert hostvars["ansible_host"] == NAME, "the sandbox connects to the container, never to moto's address"
    assert hostvars["ec2_tags"]["Role"] == "web"


def test_sandbox_inventory_graph_lists_the_host_under_web():
    graph = inventory_graph("inventories/sandbox")
    lines = [line.strip() for line in graph.splitlines()]
    web = lines.index("|--@web:")
    assert lines[web + 1 : web + 4] == ["|  |--@sandbox_web:", f"|  |  |--{NAME}", f"|  |--{NAME}"], graph
    assert "|  |--localhost" in lines, "the controller is in the sandbox inventory for the provision play"


def test_aws_inventory_pointed_at_moto_maps_the_host_to_its_elastic_ip(ec2):
    inventory = inventory_list("inventories/aws", AWS_URL=MOTO_URL)
    assert groups_of(inventory, NAME) == AWS_GROUPS
    assert "aws_web" in inventory["web"]["children"]
    eip = ec2.describe_addresses(Filters=[{"Name": "tag:Name", "Values": [NAME]}])["Addresses"][0]["PublicIp"]
    hostvars = inventory["_meta"]["hostvars"][NAME]
    assert hostvars["ansible_host"] == eip
    assert hostvars["ansible_user"] == "admin", "the login user comes from the instance's LoginUser tag (Debian: admin)"
    assert "ansible_connection" not in hostvars


def test_stopped_instances_are_left_out(ec2):
    """An instance of the project that is not running has no group and no host entry."""
    instance = live_instances(ec2)[0]
    ec2.stop_instances(InstanceIds=[instance["InstanceId"]])
    try:
        inventory = inventory_list("inventories/sandbox")
        assert NAME not in inventory["_meta"]["hostvars"]
    finally:
        ec2.start_instances(InstanceIds=[instance["InstanceId"]])
    assert NAME in inventory_list("inventories/sandbox")["_meta"]["hostvars"]


def test_unreachable_inventory_source_fails_instead_of_falling_back_to_localhost():
    # Port 9 on the loopback address: nothing listens, so the aws_ec2 source cannot be parsed.
    proc = subprocess.run(
        [str(BIN / "ansible-playbook"), "-i", "inventories/aws", "playbooks/configure.yml", "--list-hosts"],
        cwd=REPO, capture_output=True, text=True, env=moto_env(AWS_URL="http://127.0.0.1:9", AWS_MAX_ATTEMPTS="1"), timeout=300, check=False,
    )
    assert proc.returncode != 0, proc.stdout + proc.stderr
    assert "stocksense.aws_ec2.yml" in proc.stdout + proc.stderr


@pytest.fixture
def prod_and_staging(ec2):
    """Two more running web instances of the project in the same region, Env=prod and Env=staging."""
    ids = []
    for env in ("prod", "staging"):
        tags = {"Project": "stocksense", "Env": env, "Role": "web", "Name": f"stocksense-{env}-web", "LoginUser": "admin"}
        reservation = ec2.run_instances(
            ImageId=NEWEST_DEBIAN_AMD64_AMI, InstanceType="t3.micro", MinCount=1, MaxCount=1,
            TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}],
        )
        ids.append(reservation["Instances"][0]["InstanceId"])
    yield
    ec2.terminate_instances(InstanceIds=ids)


@pytest.mark.parametrize("env", ["prod", "staging", ENV])
def test_environments_in_one_region_do_not_mix(prod_and_staging, env):
    """Each inventory lists only the instances of its own Env (STOCKSENSE_ENV, SANDBOX_ENV)."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        aws = pool.submit(inventory_list, "inventories/aws", AWS_URL=MOTO_URL, STOCKSENSE_ENV=env)
        sandbox = pool.submit(inventory_list, "inventories/sandbox", SANDBOX_ENV=env)
    for inventory in (aws.result(), sandbox.result()):
        assert set(inventory["_meta"]["hostvars"]) - {"localhost"} == {f"stocksense-{env}-web"}
        assert set(inventory["web"]["hosts"]) == {f"stocksense-{env}-web"}
