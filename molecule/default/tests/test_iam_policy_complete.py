"""iam/operator-policy.json allows every AWS API operation site.yml made in the sandbox.

molecule.yml puts iam/recorder on PYTHONPATH with STOCKSENSE_AWS_API_LOG set, so every Ansible
process of converge and idempotence (preflight, provision, the sandbox play, the inventory)
appended its AWS API operations (botocore's before-call event) to that file; prepare empties it.
moto stands in for AWS, so the operations are real API calls, answered locally.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "tests"))
from iam_completeness import policy_gaps  # noqa: E402

# Calls site.yml makes on every run: provision's lookups, the sandbox play's and the inventory's.
EXPECTED = {"ec2:DescribeInstances", "ec2:DescribeImages", "ec2:DescribeInstanceTypes", "iam:GetRole"}


def test_operator_policy_allows_every_operation_of_site_yml():
    """Also fails if the recording lacks one of EXPECTED, or the policy grants a wildcard."""
    assert policy_gaps(os.environ, EXPECTED) == {}
