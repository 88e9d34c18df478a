"""tests/iam_completeness.py, the molecule scenarios' IAM completeness check, on small recordings.

The scenarios only ever show it passing; here it must name what a recording or the policy lacks.
"""

from __future__ import annotations

import pytest

from iam_completeness import policy_gaps


@pytest.fixture
def recording(tmp_path):
    """Write a recording as iam/recorder does (one "<prefix>:<Operation>" a line); its environment."""

    def _write(*operations: str) -> dict[str, str]:
        log = tmp_path / "aws-api.log"
        log.write_text("".join(f"{operation}\n" for operation in operations))
        return {"STOCKSENSE_AWS_API_LOG": str(log)}

    return _write


def test_a_recording_the_policy_covers_has_no_gap(recording):
    env = recording("ec2:RunInstances", "monitoring:PutMetricAlarm", "s3:PutBucketEncryption", "ec2:RunInstances")
    assert policy_gaps(env, {"ec2:RunInstances"}) == {}


def test_an_operation_the_policy_lacks_is_named(recording):
    env = recording("ec2:RunInstances", "ec2:DeleteVpc", "s3:PutBucketAcl")
    assert policy_gaps(env, {"ec2:RunInstances"}) == {"not allowed": ["ec2:DeleteVpc", "s3:PutBucketAcl"]}


def test_an_expected_operation_missing_from_the_recording_is_named(recording):
    env = recording("ec2:DescribeInstances")
    assert policy_gaps(env, {"ec2:DescribeInstances", "ec2:RunInstances"}) == {"not recorded": ["ec2:RunInstances"]}


def test_a_wildcard_grant_is_named(recording):
    policy = {"Statement": [{"Sid": "All", "Effect": "Allow", "Action": ["ec2:*"], "Resource": "*"}]}
    assert policy_gaps(recording(), set(), policy) == {"wildcard grants": ["All: ec2:*"]}


@pytest.mark.parametrize(
    ("env", "reason"),
    [({}, "STOCKSENSE_AWS_API_LOG is not set"), ({"STOCKSENSE_AWS_API_LOG": "/nonexistent/aws-api.log"}, "missing")],
)
def test_no_recording_fails_with_the_reason(env, reason):
    with pytest.raises(AssertionError, match=reason):
        policy_gaps(env, set())
