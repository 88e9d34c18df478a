"""certbot asks for a certificate only once every domain resolves to the host's public address.

roles/certbot/tasks/dns.yml runs on the controller here, with names /etc/hosts answers (localhost
is 127.0.0.1), so no DNS query leaves the machine: a match makes certbot_dns_ready true at once; a
mismatch (expecting the documentation address 203.0.113.10) waits the bounded time, then skips
with a message and does not fail the play.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def run_dns_check(tmp_path: Path, expected: str, wait: int) -> tuple[subprocess.CompletedProcess, float]:
    playbook = tmp_path / "dns.yml"
    playbook.write_text(yaml.safe_dump([{
        "name": "certbot DNS check on the controller",
        "hosts": "localhost",
        "gather_facts": False,
        "vars": {"certbot_domains": ["localhost"], "certbot_dns_expected_address": expected,
                 "certbot_dns_wait_seconds": wait, "certbot_dns_retry_delay": 1},
        "tasks": [
            {"name": "The role's DNS tasks", "ansible.builtin.include_role": {"name": "certbot", "tasks_from": "dns"}},
            {"name": "Report", "ansible.builtin.debug": {"msg": "READY={{ certbot_dns_ready | to_json }}"}},
        ],
    }]))
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env.update(ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_ROLES_PATH=str(REPO / "roles"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_STDOUT_CALLBACK="ansible.builtin.default")
    started = time.monotonic()
    result = subprocess.run([str(BIN / "ansible-playbook"), "-i", "inventories/controller.yml", str(playbook)],
                            cwd=REPO, env=env, capture_output=True, text=True, timeout=120, check=False)
    return result, time.monotonic() - started


def ready(result: subprocess.CompletedProcess) -> bool:
    line = next(line for line in result.stdout.splitlines() if "READY=" in line)
    return json.loads(line.split("READY=", 1)[1].strip().strip('"'))


def test_names_resolving_to_the_host_let_certbot_run(tmp_path):
    result, _ = run_dns_check(tmp_path, "127.0.0.1", wait=30)
    assert result.returncode == 0, result.stdout + result.stderr
    assert ready(result) is True
    assert "certbot skipped" not in result.stdout


def test_names_pointing_elsewhere_skip_certbot_after_a_bounded_wait(tmp_path):
    result, elapsed = run_dns_check(tmp_path, "203.0.113.10", wait=3)
    assert result.returncode == 0, result.stdout + result.stderr
    assert ready(result) is False
    assert "certbot skipped for now" in result.stdout
    assert "localhost -> 127.0.0.1" in result.stdout
    assert elapsed >= 3, "it did not wait"
    assert elapsed < 60, "the wait is not bounded"
