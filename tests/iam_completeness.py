"""The IAM completeness check the moto-backed molecule scenarios end with (iam/README.md).

A scenario's Ansible processes record their AWS API operations (iam/recorder) in the file
STOCKSENSE_AWS_API_LOG names. policy_gaps() reads that recording and iam/operator-policy.json and
returns what keeps the recording from proving the policy complete, so each scenario's last test is
one call with its own expected operations. tests/test_iam_completeness.py checks the helper itself.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "iam"))
import policy_check  # noqa: E402


def policy_gaps(env: Mapping[str, str], expected: set[str], policy: dict | None = None) -> dict[str, list[str]]:
    """Each problem found, by kind, with its sorted items; {} when there is none.

    - "not recorded": operations the scenario must have made but the recording lacks (an empty or
      partial recording would let the policy check pass vacuously);
    - "not allowed": IAM actions of recorded operations the policy does not allow;
    - "wildcard grants": statements granting more than named actions.
    """
    operations = policy_check.recording(env)
    # Shown with pytest -rA: what the scenario really called, for whoever edits the policy.
    print("recorded AWS API operations:", ", ".join(sorted(operations)))
    policy = policy_check.load_policy() if policy is None else policy
    gaps = {
        "not recorded": sorted(expected - operations),
        "not allowed": policy_check.missing_actions(policy, operations),
        "wildcard grants": policy_check.wildcard_grants(policy),
    }
    return {kind: items for kind, items in gaps.items() if items}
