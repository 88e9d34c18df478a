"""Bad settings stop the role before any AWS call, with a message naming the variable."""

from __future__ import annotations

import pytest

from conftest import run_playbook

VALIDATE = """
- name: Validate only
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Run the role's validation
      ansible.builtin.include_role:
        name: aws_enhanced
        tasks_from: validate
"""


@pytest.mark.parametrize(
    ("bad", "named"),
    [
        ({"aws_enhanced_db_engine_version": "latest"}, "aws_enhanced_db_engine_version"),
        ({"aws_enhanced_cdn_max_ttl": 5}, "aws_enhanced_cdn_max_ttl"),
        ({"aws_enhanced_db_storage_type": "io1"}, "aws_enhanced_db_storage_type"),
        ({"aws_enhanced_registry_noncurrent_days": 0}, "aws_enhanced_registry_noncurrent_days at least 1 (got 0)"),
    ],
)
def test_bad_setting_fails_before_any_api_call(tmp_path, bad, named):
    playbook = tmp_path / "validate.yml"
    playbook.write_text(VALIDATE)
    result = run_playbook(playbook, extra_vars=bad, inventory="inventories/controller.yml")
    assert result.rc != 0
    assert named in result.output


def test_preflight_refuses_an_unknown_stack_profile():
    """The first preflight play names the variable and its two values; a good value passes it."""
    bad = run_playbook("playbooks/preflight.yml", extra_vars={"stack_profile": "huge"}, inventory="inventories/controller.yml")
    assert bad.rc != 0
    assert "stack_profile must be single (one EC2 instance) or enhanced" in " ".join(bad.output.split())
    assert "Preflight - the web hosts' secrets" not in bad.output
    good = run_playbook("playbooks/preflight.yml", extra_vars={"stack_profile": "enhanced"}, inventory="inventories/controller.yml")
    assert "stack_profile must be" not in good.output
    assert "Preflight - the web hosts' secrets" in good.output
