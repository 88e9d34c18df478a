"""The stack's parameters in moto's SSM Parameter Store: the database password a SecureString made
once and never printed, the database's address as plain Strings, and the instance role allowed to
read the stack's path only (decrypting through SSM only).
"""

from __future__ import annotations

import json
import re

import pytest

from conftest import ACCOUNT, ANSIBLE_LOG, PASSWORD_PARAMETER, PATH, REGION, SCENARIO, STACK, VERIFY_PARAMETER, moto_client, run_playbook, secret


def test_database_password_is_a_generated_securestring(ssm):
    parameter = ssm.get_parameter(Name=PASSWORD_PARAMETER, WithDecryption=True)["Parameter"]
    assert parameter["Type"] == "SecureString"
    assert re.fullmatch(r"[A-Za-z0-9]{40}", parameter["Value"])
    metadata = ssm.describe_parameters(ParameterFilters=[{"Key": "Name", "Values": [PASSWORD_PARAMETER]}])["Parameters"][0]
    assert metadata["KeyId"] == "alias/aws/ssm"


def test_database_address_is_published_as_strings(ssm, rds):
    database = rds.describe_db_instances(DBInstanceIdentifier=f"{STACK}-db")["DBInstances"][0]
    expected = {
        "host": database["Endpoint"]["Address"],
        "port": str(database["Endpoint"]["Port"]),
        "name": "stocksense",
        "username": "stocksense",
    }
    for key, value in expected.items():
        parameter = ssm.get_parameter(Name=f"{PATH}/db/{key}")["Parameter"]
        assert (parameter["Type"], parameter["Value"]) == ("String", value), key


def test_instance_role_reads_only_the_stacks_path_and_decrypts_through_ssm_only():
    document = moto_client("iam").get_role_policy(RoleName=STACK, PolicyName="ssm-parameters")["PolicyDocument"]
    if isinstance(document, str):
        document = json.loads(document)
    statements = {s["Sid"]: s for s in document["Statement"]}
    arn = f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter{PATH}/*"
    read = statements["ReadTheStacksParametersOnly"]
    assert sorted(read["Action"]) == ["ssm:GetParameter", "ssm:GetParameters"]
    assert read["Resource"] == arn
    decrypt = statements["DecryptThemThroughSsmOnly"]
    assert decrypt["Action"] == "kms:Decrypt"
    assert decrypt["Condition"]["StringEquals"] == {"kms:ViaService": f"ssm.{REGION}.amazonaws.com"}
    assert decrypt["Condition"]["StringLike"] == {"kms:EncryptionContext:PARAMETER_ARN": arn}
    assert len(statements) == 2


def test_secrets_never_reach_converges_output():
    """Converge and idempotence wrote their whole output to ANSIBLE_LOG_PATH (molecule.yml)."""
    log = ANSIBLE_LOG.read_text()
    assert "Create the PostgreSQL database" in log, "the log must hold converge's run"
    assert secret(PASSWORD_PARAMETER) not in log
    assert secret(VERIFY_PARAMETER) not in log


@pytest.fixture(scope="module")
def rerun():
    """converge.yml again, verbose, with a longer default TTL: the CDN must be updated, nothing else."""
    before = {name: secret(name) for name in (PASSWORD_PARAMETER, VERIFY_PARAMETER)}
    result = run_playbook(SCENARIO / "converge.yml", extra_vars={"aws_enhanced_cdn_default_ttl": 600}, inventory="inventories/controller.yml", verbosity="-vv")
    assert result.rc == 0, result.output[-5000:]
    return before, result


def test_rerun_keeps_the_secrets_generated_once(rerun):
    before, _ = rerun
    assert {name: secret(name) for name in before} == before


def test_rerun_prints_no_secret_even_verbose(rerun):
    before, result = rerun
    assert "Store the database password once" in result.output
    for value in before.values():
        assert value not in result.output


def test_rerun_updates_only_the_distribution(rerun):
    _, result = rerun
    assert result.changed == 1, result.output[-5000:]
    from conftest import distribution_config

    assert distribution_config()["DefaultCacheBehavior"]["DefaultTTL"] == 600
