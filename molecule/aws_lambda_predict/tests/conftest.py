"""Fixtures for the aws_lambda_predict scenario, where moto's server stands in for AWS.

moto keeps the function's, role's, log group's and API's settings, but runs no function code
(that needs Docker): the deployed zip is prepare's stand-in. The real zip is run under CPython 3.12
by app/tests/test_lambda_predict.py. boto3 clients read what the role left in moto (127.0.0.1,
MOTO_PORT from molecule.yml); the role is run again as a user would, through ansible-playbook.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
SCENARIO = REPO / "molecule" / "aws_lambda_predict"
sys.path.insert(0, str(REPO / "tests"))
from ansible_run import ANSIBLE_BIN as BIN  # noqa: E402
from ansible_run import PlayResult  # noqa: E402
from ansible_run import moto_client as shared_moto_client  # noqa: E402
from ansible_run import moto_env as ansible_moto_env  # noqa: E402

MOTO_PORT = os.environ.get("MOTO_PORT", "19321")
MOTO_URL = f"http://127.0.0.1:{MOTO_PORT}"
REGION = "eu-west-1"
ACCOUNT = "123456789012"
# converge.yml's names: Env=lp-test (molecule.yml's SANDBOX_ENV), the role's defaults.
ENV = "lp-test"
FUNCTION = f"stocksense-{ENV}-predict"
LOG_GROUP = f"/aws/lambda/{FUNCTION}"
REGISTRY_URL = "s3://stocksense-lp-test-models/registry"
PRICES_URL = "s3://stocksense-lp-test-models/prices/latest.json"
STANDIN_DIR = Path(os.environ.get("LAMBDA_PREDICT_STANDIN_DIR", REPO / ".cache" / "aws-lambda-predict"))
STANDIN_ZIP = STANDIN_DIR / "predict-standin.zip"
# The daily refresh (vars/lambda.yml turns it on): function, role, log group and rule share a name.
REFRESH = f"stocksense-{ENV}-refresh"
REFRESH_LOG_GROUP = f"/aws/lambda/{REFRESH}"
REFRESH_ZIP = STANDIN_DIR / "refresh-standin.zip"


def moto_client(service: str):
    """A boto3 client of moto, the AWS stand-in."""
    return shared_moto_client(MOTO_PORT, REGION, service)


def moto_env() -> dict[str, str]:
    """The tests' Ansible runs: this scenario's moto, Env and stand-in zip, recording their AWS API
    operations like converge (iam/recorder)."""
    return ansible_moto_env(MOTO_PORT, ENV, REGION, PYTHONPATH=str(REPO / "iam" / "recorder"),
                            LAMBDA_PREDICT_STANDIN_DIR=str(STANDIN_DIR))


def run_converge(extra_vars: dict | None = None) -> PlayResult:
    """converge.yml (the role against moto) from the repository root, with extra vars."""
    cmd = [str(BIN / "ansible-playbook"), "-i", "inventories/controller.yml", str(SCENARIO / "converge.yml")]
    if extra_vars:
        cmd += ["-e", json.dumps(extra_vars)]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, env=moto_env(), timeout=600, check=False)
    return PlayResult(proc.returncode, proc.stdout + proc.stderr, host="localhost")


def run_stage(playbook: str, extra_vars: dict | None = None) -> PlayResult:
    """playbooks/provision.yml or teardown.yml as a user runs them on the sandbox inventory, with
    the switch on and --tags aws_lambda_predict: only this role's part of the stage (the ec2 and
    monitoring roles are the ec2 and default scenarios' work)."""
    cmd = [str(BIN / "ansible-playbook"), "-i", "inventories/sandbox", playbook, "--tags", "aws_lambda_predict",
           "-e", f"@{SCENARIO / 'vars' / 'lambda.yml'}", "-e", json.dumps({"deploy_lambda_predict": True, **(extra_vars or {})})]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, env=moto_env(), timeout=600, check=False)
    return PlayResult(proc.returncode, proc.stdout + proc.stderr, host="localhost")


def our_apis() -> list[dict]:
    return [api for api in moto_client("apigateway").get_rest_apis()["items"] if api["name"] == FUNCTION]


def invoke_permission() -> dict:
    policy = json.loads(moto_client("lambda").get_policy(FunctionName=FUNCTION)["Policy"])
    assert len(policy["Statement"]) == 1, policy
    return policy["Statement"][0]


@pytest.fixture(scope="session")
def lambda_():
    return moto_client("lambda")


@pytest.fixture(scope="session")
def iam():
    return moto_client("iam")


def refresh_permission() -> dict:
    policy = json.loads(moto_client("lambda").get_policy(FunctionName=REFRESH)["Policy"])
    assert len(policy["Statement"]) == 1, policy
    return policy["Statement"][0]


@pytest.fixture(scope="session")
def events():
    return moto_client("events")
