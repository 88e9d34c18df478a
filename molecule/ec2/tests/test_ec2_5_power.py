"""playbooks/power.yml stops and starts the instance in moto (the local stand-in for AWS);
a second run with the same state changes nothing.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import NAME, flat, inventory_list, live_instances, run_playbook


def the_eip(ec2) -> dict:
    addresses = ec2.describe_addresses(Filters=[{"Name": "tag:Name", "Values": [NAME]}])["Addresses"]
    assert len(addresses) == 1, addresses
    return addresses[0]


@pytest.fixture(scope="module")
def stopped(ec2):
    eip_before = the_eip(ec2)["PublicIp"]
    first = run_playbook("playbooks/power.yml", extra_vars={"state": "stopped"})
    second = run_playbook("playbooks/power.yml", extra_vars={"state": "stopped"})
    return eip_before, first, second


def test_stop_changes_then_nothing_in_moto(ec2, stopped):
    _, first, second = stopped
    assert first.rc == 0, first.output
    assert first.changed > 0, first.output
    assert second.rc == 0, second.output
    assert second.changed == 0, second.output
    assert [i["State"]["Name"] for i in live_instances(ec2)] == ["stopped"]


def test_stopped_instance_keeps_its_billed_elastic_ip_and_leaves_the_inventory(ec2, stopped):
    eip_before, first, _ = stopped
    eip = the_eip(ec2)
    assert eip["PublicIp"] == eip_before, "the Elastic IP stays allocated while the instance is stopped"
    assert eip["InstanceId"] == live_instances(ec2)[0]["InstanceId"]
    assert f"Elastic IP {eip_before} stays allocated and associated while the instance is stopped, and is billed" in flat(first.output)
    assert NAME not in inventory_list("inventories/sandbox")["_meta"]["hostvars"]


def test_start_changes_then_nothing_and_keeps_the_address_in_moto(ec2, stopped):
    eip_before, _, _ = stopped
    first = run_playbook("playbooks/power.yml", extra_vars={"state": "running"})
    assert first.rc == 0, first.output
    assert first.changed > 0, first.output
    second = run_playbook("playbooks/power.yml", extra_vars={"state": "running"})
    assert second.rc == 0, second.output
    assert second.changed == 0, second.output
    instance = live_instances(ec2)[0]
    assert instance["State"]["Name"] == "running"
    # The address itself, not the instance's PublicIpAddress: moto gives a started instance a new
    # random public address even with an Elastic IP associated (AWS keeps the Elastic IP).
    eip = the_eip(ec2)
    assert (eip["PublicIp"], eip["InstanceId"]) == (eip_before, instance["InstanceId"])
    assert NAME in inventory_list("inventories/sandbox")["_meta"]["hostvars"]


def test_power_needs_a_state_and_an_instance():
    """Three refused runs, independent of each other: side by side to keep the scenario short."""
    cases = {
        "missing": ({}, ["playbooks/power.yml needs -e state=stopped or -e state=running"]),
        "wrong": ({"state": "paused"}, ["(got paused)"]),
        "nothing": ({"state": "stopped", "ec2_env": "nowhere"}, ["No instance named stocksense-nowhere-web", "run playbooks/provision.yml first"]),
    }
    with ThreadPoolExecutor(max_workers=3) as pool:
        results = {name: pool.submit(run_playbook, "playbooks/power.yml", extra_vars=extra) for name, (extra, _) in cases.items()}
    for name, (_, messages) in cases.items():
        result = results[name].result()
        assert result.rc != 0, result.output
        for message in messages:
            assert message in flat(result.output), (name, result.output)
