"""Bad input is refused by the role's validation before anything changes: on the converged instance
(the record, .env, the key and the app container stay as they were) and on a real Debian 12 bookworm
container, whose docker.io 20.10 has no Compose v2 (nothing is installed there).
"""

from __future__ import annotations

import json
import subprocess

import pytest

from test_containers_1_state import APP, CONVERGE_VARS, ENV_FILE, KEY_FILE, STATE, inspect

BOOKWORM = "stocksense-containers-bookworm-probe"


def snapshot(host) -> tuple:
    return (host.file(STATE).sha256sum, host.file(ENV_FILE).sha256sum, host.file(KEY_FILE).sha256sum,
            inspect(host, APP)["Id"])


@pytest.mark.parametrize(("extra", "message"), [
    ({"containers_image": ""}, "containers_image must be REPO:TAG"),
    ({"containers_image": "localhost/stocksense:"}, "containers_image must be REPO:TAG"),
    ({"containers_publish_port": 80}, "containers_publish_port must be 1024-65535 (got 80)"),
    ({"containers_secret_key": "short"}, "containers_secret_key must be at least 32 characters (got 5)"),
])
def test_bad_input_is_refused_and_changes_nothing(host, run_role, extra, message):
    before = snapshot(host)
    result = run_role("containers", {**CONVERGE_VARS, **extra})
    text = " ".join(result.output.split())
    assert result.rc != 0
    assert message in text and "Nothing was changed." in text, result.output[-3000:]
    assert CONVERGE_VARS["containers_secret_key"] not in text  # the key is never shown
    assert snapshot(host) == before


def test_bookworm_is_refused_before_any_package(tmp_path):
    """A plain bookworm container (no systemd needed: only facts and the checks run)."""
    subprocess.run(["podman", "rm", "-f", "-t", "0", BOOKWORM], capture_output=True, check=False)
    subprocess.run(["podman", "run", "-d", "--name", BOOKWORM, "--network", "none",
                    "localhost/stocksense-systemd:debian-bookworm", "sleep", "300"], capture_output=True, check=True)
    try:
        from ansible_run import ANSIBLE_BIN, PlayResult, ansible_env
        (tmp_path / "inventory.ini").write_text(f"{BOOKWORM} ansible_connection=containers.podman.podman\n")
        (tmp_path / "play.yml").write_text(
            "- hosts: all\n  gather_facts: true\n  roles:\n    - role: containers\n")
        proc = subprocess.run([str(ANSIBLE_BIN / "ansible-playbook"), "-i", str(tmp_path / "inventory.ini"),
                               str(tmp_path / "play.yml"), "-e", json.dumps(CONVERGE_VARS)],
                              capture_output=True, text=True, env=ansible_env(), timeout=300, check=False)
        result = PlayResult(proc.returncode, proc.stdout + proc.stderr)
        text = " ".join(result.output.split())
        assert result.rc != 0
        assert "needs Debian 13 (trixie) or later" in text and "only docker.io 20.10" in text, result.output[-3000:]
        assert result.changed == 0
        dpkg = subprocess.run(["podman", "exec", BOOKWORM, "dpkg-query", "-W", "docker.io"], capture_output=True, check=False)
        assert dpkg.returncode != 0  # not installed
    finally:
        subprocess.run(["podman", "rm", "-f", "-t", "0", BOOKWORM], capture_output=True, check=False)
