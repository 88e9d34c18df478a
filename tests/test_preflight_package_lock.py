"""configure.yml waits for the dpkg/apt lock before any role installs a package.

The wait's own script is taken from playbooks/configure.yml and run here against a lock file that
another process holds the way dpkg does (a POSIX fcntl lock): it must report the lock as busy while
it is held and free once it is released. Real EC2 instances (cloud-init, unattended-upgrades) cannot
be started here; the default molecule scenario runs the same pre_tasks on a systemd container,
where they pass without waiting.
"""

from __future__ import annotations

import fcntl
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
WAIT_TASK = "Wait until no apt or dpkg run holds the package lock"


def configure_play() -> dict:
    plays = yaml.safe_load((REPO / "playbooks" / "configure.yml").read_text())
    return next(play for play in plays if play.get("hosts") == "web")


def lock_check_script() -> str:
    task = next(task for task in configure_play()["pre_tasks"] if task["name"] == WAIT_TASK)
    argv = task["ansible.builtin.command"]["argv"]
    assert argv[:2] == ["python3", "-c"]
    assert "/var/lib/dpkg/lock-frontend" in argv[3:]
    assert task["until"] == "configure_apt_lock.rc == 0" and int(task["retries"]) * int(task["delay"]) >= 300
    return argv[2]


def check(lock: Path) -> int:
    return subprocess.run([sys.executable, "-c", lock_check_script(), str(lock)], capture_output=True, check=False, timeout=30).returncode


def test_the_wait_sees_a_held_lock_and_its_release(tmp_path):
    lock = tmp_path / "lock-frontend"
    lock.write_text("")
    holder = subprocess.Popen(
        [sys.executable, "-c", "import fcntl, sys, time; f = open(sys.argv[1], 'a'); fcntl.lockf(f, fcntl.LOCK_EX); print('held', flush=True); time.sleep(60)", str(lock)],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        assert check(lock) != 0, "a held dpkg lock was reported free"
    finally:
        holder.kill()
        holder.wait()
    assert check(lock) == 0, "a free lock was reported busy"
    with open(lock, "a") as ours:  # our own lock, in this process: a child process still sees it busy
        fcntl.lockf(ours, fcntl.LOCK_EX)
        assert check(lock) != 0


def test_cloud_init_is_waited_for_only_where_it_exists():
    tasks = {task["name"]: task for task in configure_play()["pre_tasks"]}
    wait = tasks["Wait for cloud-init to finish the first boot"]
    assert wait["ansible.builtin.command"]["argv"] == ["cloud-init", "status", "--wait"]
    assert wait["when"] == "configure_cloud_init.stat.exists"
