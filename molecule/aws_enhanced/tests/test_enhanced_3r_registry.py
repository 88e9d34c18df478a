"""The model registry the role made; moto stands in for S3, IAM and SSM.

The bucket is private, encrypted at rest, versioned and refuses requests without TLS; the instance
role may only list and get under the registry prefix (the controller publishes, the instance never
writes); the instance finds the registry and the database's network in two String parameters.
"""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from conftest import DB_NETWORK_PARAMETER, REGISTRY_BUCKET, REGISTRY_PREFIX, REGISTRY_URL_PARAMETER, STACK, inline_policy

BUCKET_ARN = f"arn:aws:s3:::{REGISTRY_BUCKET}"


def test_registry_bucket_is_private_encrypted_and_versioned_in_moto(s3):
    block = s3.get_public_access_block(Bucket=REGISTRY_BUCKET)["PublicAccessBlockConfiguration"]
    assert block == {"BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": True}
    rules = s3.get_bucket_encryption(Bucket=REGISTRY_BUCKET)["ServerSideEncryptionConfiguration"]["Rules"]
    assert [r["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] for r in rules] == ["AES256"]
    assert s3.get_bucket_versioning(Bucket=REGISTRY_BUCKET)["Status"] == "Enabled", "a bad push must be recoverable"
    assert s3.get_bucket_tagging(Bucket=REGISTRY_BUCKET)["TagSet"]


def test_registry_old_versions_expire_and_current_ones_never_in_moto(s3):
    (rule,) = s3.get_bucket_lifecycle_configuration(Bucket=REGISTRY_BUCKET)["Rules"]
    assert rule["Status"] == "Enabled"
    assert rule["NoncurrentVersionExpiration"]["NoncurrentDays"] == 30
    assert "Expiration" not in rule, "the current version of a model must never expire"


def test_registry_bucket_refuses_requests_without_tls_in_moto(s3):
    (deny,) = json.loads(s3.get_bucket_policy(Bucket=REGISTRY_BUCKET)["Policy"])["Statement"]
    assert (deny["Effect"], deny["Principal"], deny["Action"]) == ("Deny", "*", "s3:*")
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert sorted(deny["Resource"]) == [BUCKET_ARN, f"{BUCKET_ARN}/*"]


def test_moto_refuses_a_push_without_tls_as_the_bucket_policy_says(s3):
    """moto enforces bucket policies and serves plain HTTP: a put is refused as AWS would refuse it."""
    with pytest.raises(ClientError) as refused:
        s3.put_object(Bucket=REGISTRY_BUCKET, Key=f"{REGISTRY_PREFIX}/probe", Body=b"x")
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_instance_role_may_only_read_the_registry_in_moto():
    """GetObject under the prefix, ListBucket on the registry's own bucket (HeadBucket needs it, with no
    prefix to condition on), nothing else: no Put, no Delete, no other bucket."""
    statements = {s["Sid"]: s for s in inline_policy(STACK, "registry-read")["Statement"]}
    assert set(statements) == {"ListTheRegistryBucket", "ReadTheRegistryOnly"}
    assert all(s["Effect"] == "Allow" for s in statements.values())
    listing = statements["ListTheRegistryBucket"]
    assert (listing["Action"], listing["Resource"]) == ("s3:ListBucket", BUCKET_ARN)
    reading = statements["ReadTheRegistryOnly"]
    assert (reading["Action"], reading["Resource"]) == ("s3:GetObject", f"{BUCKET_ARN}/{REGISTRY_PREFIX}/*")
    assert "Condition" not in reading


def test_registry_url_names_the_bucket_and_prefix(ssm, s3):
    parameter = ssm.get_parameter(Name=REGISTRY_URL_PARAMETER)["Parameter"]
    assert (parameter["Type"], parameter["Value"]) == ("String", f"s3://{REGISTRY_BUCKET}/{REGISTRY_PREFIX}")
    assert REGISTRY_BUCKET in [b["Name"] for b in s3.list_buckets()["Buckets"]]


def test_db_network_is_the_default_vpcs_cidr(ssm, ec2, rds):
    (vpc,) = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"]
    parameter = ssm.get_parameter(Name=DB_NETWORK_PARAMETER)["Parameter"]
    assert (parameter["Type"], parameter["Value"]) == ("String", vpc["CidrBlock"])
    # The database sits in that VPC: its subnet group's VPC.
    database = rds.describe_db_instances(DBInstanceIdentifier=f"{STACK}-db")["DBInstances"][0]
    assert database["DBSubnetGroup"]["VpcId"] == vpc["VpcId"]
