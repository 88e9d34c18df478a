"""stack_profile containers in playbooks/preflight.yml, on the controller (no AWS call is reached):
the profile is accepted only with an image to run.
"""

from __future__ import annotations

import json
import subprocess

from ansible_run import ANSIBLE_BIN, PlayResult, ansible_env
from conftest import REPO

from test_containers_1_state import IMAGE

PROFILE_CHECK = "stack_profile must be"
IMAGE_CHECK = "stack_profile containers runs the app image built here"


def run_playbook(playbook: str, extra_vars: dict, inventory: str) -> PlayResult:
    proc = subprocess.run([str(ANSIBLE_BIN / "ansible-playbook"), "-i", inventory, playbook, "-e", json.dumps(extra_vars)],
                          cwd=REPO, capture_output=True, text=True, env=ansible_env(), timeout=300, check=False)
    return PlayResult(proc.returncode, proc.stdout + proc.stderr)


def test_preflight_accepts_containers_with_an_image():
    result = run_playbook("playbooks/preflight.yml", extra_vars={"stack_profile": "containers", "containers_image": IMAGE},
                          inventory="inventories/controller.yml")
    text = " ".join(result.output.split())
    assert PROFILE_CHECK not in text and IMAGE_CHECK not in text
    assert "Preflight - the web hosts' secrets" in result.output  # went on to the next play


def test_preflight_refuses_containers_without_an_image():
    result = run_playbook("playbooks/preflight.yml", extra_vars={"stack_profile": "containers", "containers_image": ""},
                          inventory="inventories/controller.yml")
    assert result.rc != 0
    assert IMAGE_CHECK in " ".join(result.output.split())
    assert "Preflight - the web hosts' secrets" not in result.output
