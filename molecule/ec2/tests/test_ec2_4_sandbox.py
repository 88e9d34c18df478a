"""playbooks/sandbox.yml: a podman container with real systemd for the instance moto reports.

moto stands in for AWS; the container stands in for the instance, and the sandbox inventory
connects to it by name.
"""

from __future__ import annotations

import json
import subprocess

import pytest

from conftest import BIN, MOTO_URL, NAME, REPO, free_port, live_instances, moto_env, run_playbook

# Free ports, not the demo's 8080/8443, so a running sandbox or another scenario is not disturbed.
HTTP_PORT, HTTPS_PORT = free_port(), free_port()
PORTS = {"sandbox_published_ports": [f"127.0.0.1:{HTTP_PORT}:80", f"127.0.0.1:{HTTPS_PORT}:443"]}


def podman(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["podman", *args], capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture(scope="module")
def sandbox_run():
    result = run_playbook("playbooks/sandbox.yml", extra_vars=PORTS)
    assert result.rc == 0, result.output
    return result


def test_container_named_after_the_moto_instance_runs_systemd(sandbox_run, ec2):
    assert sandbox_run.changed > 0
    state = podman("exec", NAME, "systemctl", "is-system-running").stdout.strip()
    assert state in {"running", "degraded"}, state
    labels = json.loads(podman("inspect", NAME).stdout)[0]["Config"]["Labels"]
    assert labels["project"] == "stocksense"
    assert labels["stocksense_sandbox_endpoint"] == MOTO_URL
    assert labels["stocksense_sandbox_instance_id"] == live_instances(ec2)[0]["InstanceId"]


def test_ports_are_published_on_loopback_only(sandbox_run):
    published = podman("port", NAME).stdout.split("\n")
    published = sorted(line.strip() for line in published if line.strip())
    assert published == [f"443/tcp -> 127.0.0.1:{HTTPS_PORT}", f"80/tcp -> 127.0.0.1:{HTTP_PORT}"], published


def test_sandbox_inventory_reaches_the_container(sandbox_run):
    proc = subprocess.run(
        [str(BIN / "ansible"), "-i", "inventories/sandbox", "web", "-m", "ansible.builtin.command", "-a", "cat /etc/hostname"],
        cwd=REPO, capture_output=True, text=True, env=moto_env(), timeout=300, check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"{NAME} | CHANGED | rc=0 >>\n{NAME}" in proc.stdout


def test_second_sandbox_run_changes_nothing(sandbox_run):
    again = run_playbook("playbooks/sandbox.yml", extra_vars=PORTS)
    assert again.rc == 0, again.output
    assert again.changed == 0, again.output


def test_sandbox_refuses_a_non_loopback_endpoint_or_port():
    # The controller inventory with the sandbox settings given by hand: the play must stop at its
    # first task, before asking any endpoint.
    public = run_playbook(
        "playbooks/sandbox.yml", "inventories/controller.yml",
        extra_vars={"sandbox_enabled": True, "ec2_endpoint_url": "https://ec2.eu-west-1.amazonaws.com", "sandbox_state": "present", "sandbox_published_ports": []},
    )
    assert public.rc != 0
    assert "playbooks/sandbox.yml is for the local sandbox" in public.output
    exposed = run_playbook(
        "playbooks/sandbox.yml", "inventories/controller.yml",
        extra_vars={"sandbox_enabled": True, "ec2_endpoint_url": MOTO_URL, "sandbox_state": "present", "sandbox_published_ports": [f"0.0.0.0:{HTTP_PORT}:80"]},
    )
    assert exposed.rc != 0
    assert "must publish on a 127.x address" in exposed.output


def test_sandbox_play_does_nothing_outside_the_sandbox_inventory():
    """Imported by site.yml with any inventory: without sandbox_enabled it touches no container and no API."""
    result = run_playbook("playbooks/sandbox.yml", "inventories/controller.yml")
    assert result.rc == 0, result.output
    assert "Not the sandbox inventory (sandbox_enabled unset): nothing to do." in result.output
    assert result.changed == 0
    assert "Read the running instances moto reports" in result.output
    assert "ok: [localhost]" not in result.output.split("Read the running instances moto reports", 1)[1].split("TASK", 1)[0]
