"""Fixtures for the ec2 scenario, where moto's server stands in for AWS.

Everything talks to moto on 127.0.0.1 (MOTO_PORT, set by molecule.yml): boto3 clients read what
the role left there, and the playbooks and inventories of the repository are run as a user
would run them, through ansible-playbook and ansible-inventory.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]
# The controller tests' helpers (tests/tripwire.py, tests/ansible_run.py) serve this scenario too.
sys.path.insert(0, str(REPO / "tests"))
from ansible_run import ANSIBLE_BIN as BIN  # noqa: E402
from ansible_run import PlayResult  # noqa: E402
from ansible_run import moto_client as shared_moto_client  # noqa: E402
from ansible_run import moto_env as ansible_moto_env  # noqa: E402
from tripwire import Tripwire  # noqa: E402

MOTO_PORT = os.environ.get("MOTO_PORT", "5011")
MOTO_URL = f"http://127.0.0.1:{MOTO_PORT}"
REGION = "eu-west-1"
# converge.yml runs the sandbox settings with Env=molecule; so must every play of the tests.
ENV = "molecule"
NAME = f"stocksense-{ENV}-web"
ADMIN_CIDR = "127.0.0.1/32"
DEBIAN = "136693071363"
CANONICAL = "099720109477"
# scripts/moto-amis.json, stand-ins for the real images: the newest Debian 13 amd64 image (an older
# build is there too, which the role must not pick) and Ubuntu 24.04's arm64 image.
NEWEST_DEBIAN_AMD64_AMI = "ami-0d1e2b3a4c5d61302"
NOBLE_ARM64_AMI = "ami-0a1b2c3d4e5f60025"
# The aws_monitoring settings converge.yml used (snapshot plan on, mail subscription): every run of
# provision or teardown against the converged stack passes them too, or it would change it.
MONITORING = yaml.safe_load((REPO / "molecule" / "ec2" / "vars" / "monitoring.yml").read_text())
# moto's fixed account id: it names the backup bucket (<stack>-backups-<account>-<region>).
ACCOUNT = "123456789012"
BUCKET = f"{NAME}-backups-{ACCOUNT}-{REGION}"


def moto_env(**extra: str) -> dict[str, str]:
    """The environment of the tests' Ansible runs: this scenario's moto, Env tag and region."""
    return ansible_moto_env(MOTO_PORT, ENV, REGION, **extra)


@pytest.fixture(scope="session")
def ec2():
    """A boto3 EC2 client of moto, the AWS stand-in."""
    return moto_client("ec2")


@pytest.fixture(scope="session")
def iam():
    """A boto3 IAM client of moto, the AWS stand-in."""
    return moto_client("iam")


def moto_client(service: str, region: str = REGION):
    """A boto3 client of moto, the AWS stand-in (tests read what the roles left there)."""
    return shared_moto_client(MOTO_PORT, region, service)


def live_instances(ec2, name: str = NAME, states: tuple = ("pending", "running", "stopping", "stopped")) -> list[dict]:
    pages = ec2.describe_instances(
        Filters=[
            {"Name": "tag:Name", "Values": [name]},
            {"Name": "instance-state-name", "Values": list(states)},
        ]
    )["Reservations"]
    return [instance for reservation in pages for instance in reservation["Instances"]]


def flat(text: str) -> str:
    """Output with line wrapping undone (ansible.cfg's yaml result format wraps long messages)."""
    return " ".join(text.split())


def tags_of(resource: dict) -> dict[str, str]:
    return {tag["Key"]: tag["Value"] for tag in resource.get("Tags", [])}


def run_playbook(playbook: str, inventory: str | Path = "inventories/sandbox", extra_vars: dict | None = None, env: dict | None = None) -> PlayResult:
    """ansible-playbook of the repository, from the repository root, Env=molecule unless overridden."""
    variables = {"ec2_env": ENV, **(extra_vars or {})}
    cmd = [str(BIN / "ansible-playbook"), "-i", str(inventory), playbook, "-e", json.dumps(variables)]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, env=env or moto_env(), timeout=600, check=False)
    return PlayResult(proc.returncode, proc.stdout + proc.stderr, host="localhost")


def plain(value):
    """ansible-inventory --list wraps untrusted strings as {"__ansible_unsafe": ...}: unwrap them."""
    if isinstance(value, dict):
        if set(value) == {"__ansible_unsafe"}:
            return value["__ansible_unsafe"]
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    return value


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def inventory_list(inventory: str, **env: str) -> dict:
    """ansible-inventory --list of one of the repository's inventories; fails the test if it fails."""
    proc = subprocess.run(
        [str(BIN / "ansible-inventory"), "-i", inventory, "--list"],
        cwd=REPO, capture_output=True, text=True, env=moto_env(**env), timeout=300, check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return plain(json.loads(proc.stdout))


def inventory_graph(inventory: str, **env: str) -> str:
    proc = subprocess.run(
        [str(BIN / "ansible-inventory"), "-i", inventory, "--graph"],
        cwd=REPO, capture_output=True, text=True, env=moto_env(**env), timeout=300, check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


@pytest.fixture
def tripwire():
    wire = Tripwire()
    yield wire
    wire.close()
