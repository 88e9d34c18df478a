"""iam/operator-policy.json allows every AWS API operation Ansible made in this scenario.

Runs last. Every ansible-playbook and module process of the scenario (converge, idempotence and
the tests' runs: rerun, teardown) appended its operations to STOCKSENSE_AWS_API_LOG through
iam/recorder (botocore's before-call event). moto answers them locally.
"""

from __future__ import annotations

import os

from iam_completeness import policy_gaps  # tests/, on sys.path through conftest.py

# What this scenario must have recorded; an empty or partial recording would pass vacuously.
EXPECTED = {
    "rds:CreateDBInstance", "rds:ModifyDBInstance", "rds:DeleteDBInstance", "rds:CreateDBSubnetGroup",
    "rds:DeleteDBSubnetGroup", "ssm:PutParameter", "ssm:GetParameter", "ssm:DeleteParameter",
    "cloudfront:CreateDistributionWithTags", "cloudfront:UpdateDistribution", "cloudfront:DeleteDistribution",
    "iam:PutRolePolicy", "iam:DeleteRolePolicy", "ec2:AuthorizeSecurityGroupIngress",
    "ec2:DescribeVpcs", "s3:CreateBucket", "s3:PutBucketPolicy", "s3:PutBucketVersioning",
    "s3:PutBucketEncryption", "s3:PutPublicAccessBlock", "s3:ListObjectVersions", "s3:DeleteObjects",
    "s3:DeleteBucket",
}


def test_operator_policy_allows_every_operation_of_provision_update_and_teardown():
    """Also fails if the recording lacks one of EXPECTED, or the policy grants a wildcard."""
    assert policy_gaps(os.environ, EXPECTED) == {}
