"""Helpers shared by the testinfra suites of every molecule scenario.

The suites check behaviour, so besides reading the converged instance they run the role again
with other variables (resize, remove, bad input) through ansible-playbook over the podman
connection, exactly as a user's play would.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import testinfra

REPO = Path(__file__).resolve().parent.parent
# The ansible-playbook of the virtualenv running these tests, whatever PATH says.
ANSIBLE_PLAYBOOK = Path(sys.executable).parent / "ansible-playbook"
RECAP = re.compile(r"^(?P<host>\S+)\s*:\s*ok=(?P<ok>\d+)\s+changed=(?P<changed>\d+)\s+unreachable=(?P<unreachable>\d+)\s+failed=(?P<failed>\d+)", re.M)


@dataclass
class PlayResult:
    rc: int
    output: str

    @property
    def changed(self) -> int:
        match = RECAP.search(self.output)
        assert match, f"no play recap in output:\n{self.output[-3000:]}"
        return int(match["changed"])

    @property
    def failed(self) -> bool:
        return self.rc != 0


@pytest.fixture(scope="module")
def first_host(request):
    """The first instance of the scenario, for tests that change state and need not run on every platform."""
    names = request.config.getoption("hosts")
    first = (names if isinstance(names, str) else ",".join(names)).split(",")[0]
    return testinfra.get_host(f"podman://{first}")


@pytest.fixture
def run_role(first_host, tmp_path):
    """Run one role against the scenario's first instance through ansible-playbook; returns its PlayResult."""

    def _run(role: str, role_vars: dict | None = None, *, check: bool = False, verbose: bool = False, tasks_from: str = "main") -> PlayResult:
        instance = first_host.backend.name
        inventory = tmp_path / "inventory.ini"
        inventory.write_text(f"{instance} ansible_connection=containers.podman.podman\n")
        playbook = tmp_path / "play.yml"
        playbook.write_text(
            "- hosts: all\n"
            "  gather_facts: true\n"
            "  tasks:\n"
            "    - ansible.builtin.include_role:\n"
            f"        name: {role}\n"
            f"        tasks_from: {tasks_from}\n"
        )
        env = dict(os.environ)
        env.update(
            ANSIBLE_CONFIG=str(REPO / "ansible.cfg"),
            ANSIBLE_ROLES_PATH=str(REPO / "roles"),
            ANSIBLE_NOCOLOR="1",
        )
        cmd = [str(ANSIBLE_PLAYBOOK), "-i", str(inventory), str(playbook), "-e", json.dumps(role_vars or {})]
        if check:
            cmd.append("--check")
        if verbose:
            cmd.append("-v")
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900, check=False)
        return PlayResult(proc.returncode, proc.stdout + proc.stderr)

    return _run
