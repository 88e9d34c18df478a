"""Fixtures for the aws_enhanced scenario, where moto's server stands in for AWS.

boto3 clients read what the role left in moto (127.0.0.1, MOTO_PORT from molecule.yml); the
playbooks of the repository are run as a user would run them, through ansible-playbook.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
SCENARIO = REPO / "molecule" / "aws_enhanced"
sys.path.insert(0, str(REPO / "tests"))
from ansible_run import ANSIBLE_BIN as BIN  # noqa: E402
from ansible_run import PlayResult  # noqa: E402
from ansible_run import moto_client as shared_moto_client  # noqa: E402
from ansible_run import moto_env as ansible_moto_env  # noqa: E402

MOTO_PORT = os.environ.get("MOTO_PORT", "19311")
MOTO_URL = f"http://127.0.0.1:{MOTO_PORT}"
REGION = "eu-west-1"
ACCOUNT = "123456789012"
# converge.yml's stack: the ec2 role's names with Env=enh-test (vars/enhanced.yml).
ENV = "enh-test"
STACK = f"stocksense-{ENV}-web"
DB = f"{STACK}-db"
PATH = f"/stocksense/{ENV}"
PASSWORD_PARAMETER = f"{PATH}/db/password"
VERIFY_PARAMETER = f"{PATH}/cdn/origin-verify"
# The model registry: <stack>-registry-<account id>, prefix registry (the role's defaults).
REGISTRY_BUCKET = f"{STACK}-registry-{ACCOUNT}"
REGISTRY_PREFIX = "registry"
REGISTRY_URL_PARAMETER = f"{PATH}/registry/url"
DB_NETWORK_PARAMETER = f"{PATH}/db/network"
# converge's and idempotence's output (molecule.yml: ANSIBLE_LOG_PATH).
ANSIBLE_LOG = Path(os.environ.get("ANSIBLE_LOG_PATH", REPO / ".cache" / "aws-enhanced" / "ansible.log"))


def moto_client(service: str):
    """A boto3 client of moto, the AWS stand-in."""
    return shared_moto_client(MOTO_PORT, REGION, service)


def moto_env(**extra: str) -> dict[str, str]:
    """The environment of the tests' Ansible runs: this scenario's moto, Env tag and region.

    They record their AWS API operations like converge (iam/recorder) and keep their output to
    themselves (their PlayResult), not in converge's log.
    """
    env = ansible_moto_env(MOTO_PORT, ENV, REGION, PYTHONPATH=str(REPO / "iam" / "recorder"))
    env.pop("ANSIBLE_LOG_PATH", None)
    env.update(extra)
    return env


def run_playbook(playbook: str | Path, extra_vars: dict | None = None, inventory: str = "inventories/sandbox", verbosity: str = "",
                 tags: str = "") -> PlayResult:
    """ansible-playbook from the repository root with the scenario's stack (vars/enhanced.yml) and extra vars."""
    cmd = [str(BIN / "ansible-playbook"), "-i", inventory, str(playbook), "-e", f"@{SCENARIO / 'vars' / 'enhanced.yml'}"]
    if extra_vars:
        cmd += ["-e", json.dumps(extra_vars)]
    if verbosity:
        cmd.append(verbosity)
    if tags:
        cmd += ["--tags", tags]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, env=moto_env(), timeout=900, check=False)
    return PlayResult(proc.returncode, proc.stdout + proc.stderr, host="localhost")


def secret(name: str) -> str:
    return moto_client("ssm").get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"]


def distribution_config() -> dict:
    cloudfront = moto_client("cloudfront")
    items = cloudfront.list_distributions()["DistributionList"].get("Items", [])
    ours = [d for d in items if d["Comment"] == f"{STACK} reads at the edge"]
    assert len(ours) == 1, [d["Comment"] for d in items]
    return cloudfront.get_distribution_config(Id=ours[0]["Id"])["DistributionConfig"]


@pytest.fixture(scope="session")
def rds():
    return moto_client("rds")


@pytest.fixture(scope="session")
def ec2():
    return moto_client("ec2")


@pytest.fixture(scope="session")
def ssm():
    return moto_client("ssm")


@pytest.fixture(scope="session")
def s3():
    return moto_client("s3")


@pytest.fixture(scope="session")
def iam():
    return moto_client("iam")


def inline_policy(role: str, name: str) -> dict:
    """An inline policy of a role in moto's IAM, as a dict (moto may hand back the JSON text)."""
    document = moto_client("iam").get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
    return json.loads(document) if isinstance(document, str) else document
