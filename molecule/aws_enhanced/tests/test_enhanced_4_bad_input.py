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
    ],
)
def test_bad_setting_fails_before_any_api_call(tmp_path, bad, named):
    playbook = tmp_path / "validate.yml"
    playbook.write_text(VALIDATE)
    result = run_playbook(playbook, extra_vars=bad, inventory="inventories/controller.yml")
    assert result.rc != 0
    assert named in result.output
