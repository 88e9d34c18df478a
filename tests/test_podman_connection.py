"""connection_plugins/podman.py's ContainerNamespaces against a real podman container.

The connection plugin and the testinfra suites (molecule/conftest.py) run commands in the test
instances through nsenter instead of `podman exec`; these tests check that such a command sees
what `podman exec` would give it, that a container recreated under the same name is found again,
and that a cached entry can never make a command run on the host. The module bytecode cache
(with_bytecode_cache) is checked with real Ansible runs into the container: same results with it
on and off, entries only root can write, and code read from the cache when its key matches.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

import ansible.module_utils.basic as ansible_basic
import pytest
from ansible_run import ANSIBLE_BIN, ansible_env, load_podman_connection

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


def ansible_module(module: str, args: str, cache: str = "on") -> subprocess.CompletedProcess:
    """One module run into the container with the repository's podman plugin (ad hoc, one line)."""
    return subprocess.run(
        [str(ANSIBLE_BIN / "ansible"), "all", "-i", f"{NAME},", "-c", "podman", "-o", "-m", module, "-a", args],
        capture_output=True, text=True, check=False, timeout=120,
        env=ansible_env(STOCKSENSE_BYTECODE_CACHE=cache, ANSIBLE_LOAD_CALLBACK_PLUGINS="0"),
    )


def test_only_a_pipelined_ansiballz_module_gets_the_bootstrap(monkeypatch):
    module = b"#!/usr/bin/python3\nfrom __future__ import annotations\nimport datetime\n_ANSIBALLZ_WRAPPER = True\n"
    patched = PLUGIN.with_bytecode_cache(module)
    assert patched.startswith(b"#!/usr/bin/python3\nfrom __future__ import annotations\ndef cache_ansiballz_bytecode(")
    assert patched.endswith(b"del cache_ansiballz_bytecode\nimport datetime\n_ANSIBALLZ_WRAPPER = True\n")
    compile(patched, "module", "exec")  # the future import still comes first
    for other in (None, b"", b"echo hello", b"from __future__ import annotations\nprint(1)\n"):
        assert PLUGIN.with_bytecode_cache(other) == other
    monkeypatch.setenv("STOCKSENSE_BYTECODE_CACHE", "off")
    assert PLUGIN.with_bytecode_cache(module) == module


def test_modules_give_the_same_results_with_the_bytecode_cache(namespaces):
    # Off, then on with the cache empty (compiles and stores), then on again (reads the entries).
    runs = [ansible_module("ansible.builtin.stat", "path=/etc/os-release get_checksum=true", cache)
            for cache in ("off", "on", "on")]
    assert {run.returncode for run in runs} == {0}, [run.stdout + run.stderr for run in runs]
    assert len({run.stdout for run in runs}) == 1
    listing = entered(namespaces, "stat", "-c", "%U %a %F", PLUGIN.BYTECODE_CACHE_DIR)
    assert listing.strip() == "root 700 directory"
    entries = entered(namespaces, "find", PLUGIN.BYTECODE_CACHE_DIR, "-type", "f").split()
    assert len(entries) > 20, entries  # module_utils.basic and what it imports


def test_a_corrupt_entry_is_compiled_again(namespaces):
    assert ansible_module("ansible.builtin.ping", "").returncode == 0
    entered(namespaces, "sh", "-c", f"for f in {PLUGIN.BYTECODE_CACHE_DIR}/*; do printf garbage > $f; done")
    run = ansible_module("ansible.builtin.ping", "")
    assert run.returncode == 0 and '"ping": "pong"' in run.stdout, run.stdout + run.stderr
    still_corrupt = entered(namespaces, "sh", "-c", f"grep -lx garbage {PLUGIN.BYTECODE_CACHE_DIR}/* || true")
    assert still_corrupt == ""  # each rewritten with the module's real bytecode


def test_a_cached_entry_is_what_runs(namespaces):
    """The guard that the cache is used at all: an entry planted under basic.py's key is run instead."""
    probe = "import sys; print(sys.implementation.cache_tag, sys.hexversion)"
    cache_tag, hexversion = entered(namespaces, "python3", "-c", probe).split()
    source = Path(ansible_basic.__file__).read_bytes()
    key = hashlib.sha256(
        f"{cache_tag} {hexversion}".encode() + b"\0ansible/module_utils/basic.py\0" + source
    ).hexdigest()
    planted = "raise ImportError('planted in the bytecode cache')"
    writer = ("import marshal, os, sys; d = sys.argv[1]; os.makedirs(d, 0o700, exist_ok=True); "
              "open(os.path.join(d, sys.argv[2]), 'wb').write(marshal.dumps(compile(sys.argv[3], 'x', 'exec')))")
    entered(namespaces, "python3", "-c", writer, PLUGIN.BYTECODE_CACHE_DIR, key, planted)
    assert "planted in the bytecode cache" in ansible_module("ansible.builtin.ping", "").stdout
    assert '"ping": "pong"' in ansible_module("ansible.builtin.ping", "", cache="off").stdout
