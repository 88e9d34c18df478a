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

import pytest

sys.path.insert(0, str(Path(os.environ["MOLECULE_PROJECT_DIRECTORY"]) / "iam"))
import policy_check  # noqa: E402

# Calls site.yml makes on every run: provision's lookups, the sandbox play's and the inventory's.
EXPECTED = {"ec2:DescribeInstances", "ec2:DescribeImages", "ec2:DescribeInstanceTypes", "iam:GetRole"}


@pytest.fixture(scope="module")
def operations() -> set[str]:
    found = policy_check.recording(os.environ)
    print("recorded AWS API operations:", ", ".join(sorted(found)))
    return found


def test_the_recording_saw_site_yml(operations):
    assert EXPECTED <= operations, sorted(EXPECTED - operations)


def test_operator_policy_allows_every_recorded_operation(operations):
    missing = policy_check.missing_actions(policy_check.load_policy(), operations)
    assert missing == [], f"iam/operator-policy.json lacks: {missing}"
