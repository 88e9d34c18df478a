"""connection_plugins/podman.py's ContainerNamespaces against a real podman container.

The connection plugin and the testinfra suites (molecule/conftest.py) run commands in the test
instances through nsenter instead of `podman exec`; these tests check that such a command sees
what `podman exec` would give it, that a container recreated under the same name is found again,
and that a cached entry can never make a command run on the host.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from ansible_run import load_podman_connection

REPO = Path(__file__).resolve().parents[1]
IMAGE = "localhost/stocksense-systemd:debian-bookworm"  # scripts/build-image.sh (make images)
NAME = "stocksense-nsenter-test"

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("nsenter"),
                                reason="nsenter needs root (rootful podman); the plugin falls back to podman exec")


PLUGIN = load_podman_connection()


def start_container() -> None:
    subprocess.run(["podman", "rm", "-f", "-t", "0", NAME], capture_output=True, check=False)
    subprocess.run(["podman", "run", "-d", "--name", NAME, IMAGE, "sleep", "infinity"],
                   capture_output=True, check=True, timeout=120)


def podman_exec(*argv: str) -> str:
    return subprocess.run(["podman", "exec", NAME, *argv], capture_output=True, text=True, check=True).stdout


def entered(namespaces, *argv: str) -> str:
    command = namespaces.command(list(argv))
    assert command is not None, "nsenter was not used"
    return subprocess.run(command, capture_output=True, text=True, check=True, stdin=subprocess.DEVNULL).stdout


@pytest.fixture
def namespaces(tmp_path):
    start_container()
    yield PLUGIN.ContainerNamespaces(NAME, cache_dir=tmp_path / "cache")
    subprocess.run(["podman", "rm", "-f", "-t", "0", NAME], capture_output=True, check=False)


@pytest.mark.parametrize("argv", [
    ["hostname"],
    ["id"],
    ["pwd"],
    ["sh", "-c", "env | sort"],
    ["grep", "-E", "^Cap(Bnd|Eff|Prm)", "/proc/self/status"],
    ["readlink", "/proc/1/exe"],
    ["cat", "/etc/debian_version"],
])
def test_a_command_sees_what_podman_exec_gives_it(namespaces, argv):
    assert entered(namespaces, *argv) == podman_exec(*argv)


def test_a_container_recreated_under_the_same_name_is_found_again(namespaces):
    first = entered(namespaces, "hostname")
    start_container()
    second = entered(namespaces, "hostname")
    assert second != first
    assert second == podman_exec("hostname")


def test_a_cache_entry_pointing_at_the_host_is_never_used(namespaces):
    entered(namespaces, "true")  # writes the cache entry
    entry = namespaces._entry_path()
    own = {"pid": os.getpid(), "identity": PLUGIN._identity(os.getpid()), "caps": "", "env": []}
    entry.write_text(json.dumps(own))
    assert entered(namespaces, "hostname") == podman_exec("hostname")
    assert json.loads(entry.read_text())["pid"] != os.getpid()


def test_podman_exec_is_used_when_asked(namespaces, monkeypatch):
    monkeypatch.setenv("STOCKSENSE_PODMAN_EXEC", "podman")
    assert namespaces.command(["true"]) is None


def test_a_stopped_container_falls_back_to_podman_exec(namespaces):
    subprocess.run(["podman", "stop", "-t", "0", NAME], capture_output=True, check=True)
    assert namespaces.command(["true"]) is None
