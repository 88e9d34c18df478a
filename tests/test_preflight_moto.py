"""Preflight's read-only AWS checks, against moto (the local stand-in: AWS cannot be reached here).

A private moto server on a free 127.0.0.1 port (scripts/moto.sh) holds the account. With every
Elastic IP of the quota taken by someone else, preflight stops with the quota message; once one of
them carries the stack's Name tag (a re-run, where provision reuses its own address), the same
preflight passes, printing the account, the AMI found and the address.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import boto3
import pytest
from moto_server import private_moto
from test_preflight import BIN, REPO, base_env, good_vault, make_workdir, write_vault

STACK = "stocksense-prod-web"


@pytest.fixture(scope="module")
def moto():
    with private_moto() as endpoint:
        yield endpoint


def run_preflight(workdir: Path, endpoint: str) -> str:
    env = base_env(workdir)
    env.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_ENDPOINT_URL=endpoint,
               EC2_ADMIN_CIDR="198.51.100.7/32", EC2_PUBLIC_KEY_FILE=str(workdir / "key.pub"))
    result = subprocess.run(
        [str(BIN / "ansible-playbook"), "site.yml", "--tags", "preflight", "-i", str(workdir / "aws" / "localhost.yml"),
         "--vault-password-file", str(workdir / "vault-pass")],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False,
    )
    return result.returncode, " ".join((result.stdout + result.stderr).split())


def test_elastic_ip_quota_and_the_stacks_own_address(tmp_path, moto):
    workdir = make_workdir(tmp_path / "quota")
    write_vault(workdir / "aws", good_vault())
    ec2 = boto3.client("ec2", endpoint_url=moto, region_name="eu-west-1", aws_access_key_id="testing", aws_secret_access_key="testing")
    quota = int(ec2.describe_account_attributes(AttributeNames=["vpc-max-elastic-ips"])["AccountAttributes"][0]["AttributeValues"][0]["AttributeValue"])
    allocations = [ec2.allocate_address(Domain="vpc")["AllocationId"] for _ in range(quota)]

    rc, output = run_preflight(workdir, moto)
    assert rc != 0, output
    assert f"No Elastic IP is free in eu-west-1: {quota} of the account's quota of {quota} are allocated" in output, output

    ec2.create_tags(Resources=[allocations[0]], Tags=[{"Key": "Name", "Value": STACK}])
    rc, output = run_preflight(workdir, moto)
    assert rc == 0, output
    assert f"AWS account 123456789012 (arn:aws:sts::123456789012:user/moto), region eu-west-1 via {moto}" in output, output
    assert "from debian-13-amd64-" in output, output
    assert "Elastic IP: this stack already has" in output, output
