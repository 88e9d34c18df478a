"""Where the repository's top-level group_vars/ is (and is not) read: pins the Ansible behaviour that
the inventories' group_vars/web symlinks and the comment in group_vars/web/app.yml rely on.

ansible-core reads playbook-adjacent group_vars/ from the directory of the playbook that holds the play.
site.yml's stages are plays imported from playbooks/, so the top-level group_vars/ is NOT read for them;
each inventory links group_vars/web to it instead (inventory group_vars). A play in a file at the top
level does read it, as playbook group_vars, which beat inventory group_vars.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
SHARED_WEB = yaml.safe_load((REPO / "group_vars" / "web" / "app.yml").read_text())
PROBE_TASKS = [{"name": "Show the watchlist", "ansible.builtin.debug": {"msg": "WATCHLIST={{ app_watchlist | default('unset') | to_json }}"}}]


def run_playbook(playbook: Path, inventory: Path) -> list:
    env = {**os.environ, "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"), "ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.default"}
    env.pop("ANSIBLE_CALLBACKS_ENABLED", None)
    result = subprocess.run(
        [str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(inventory), str(playbook)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=120, check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    line = next(l for l in result.stdout.splitlines() if "WATCHLIST=" in l)
    return json.loads(line.split("WATCHLIST=", 1)[1].rstrip('"').replace('\\"', '"'))


def write_inventory(tmp_path: Path) -> Path:
    """A host in group web whose inventory group_vars set their own watchlist."""
    inventory = tmp_path / "inventory"
    (inventory / "group_vars" / "web").mkdir(parents=True)
    (inventory / "hosts.yml").write_text(yaml.safe_dump({"web": {"hosts": {"probe": {"ansible_connection": "local"}}}}))
    (inventory / "group_vars" / "web" / "app.yml").write_text(yaml.safe_dump({"app_watchlist": ["FROM_INVENTORY"]}))
    return inventory


def test_plays_imported_from_playbooks_do_not_read_the_top_level_group_vars(tmp_path):
    inventory = write_inventory(tmp_path)
    name = f".probe-{uuid.uuid4().hex[:8]}.yml"
    inner = REPO / "playbooks" / name
    outer = REPO / name
    inner.write_text(yaml.safe_dump([{"name": "Probe", "hosts": "web", "gather_facts": False, "tasks": PROBE_TASKS}]))
    outer.write_text(yaml.safe_dump([{"name": "Import", "ansible.builtin.import_playbook": f"playbooks/{name}"}]))
    try:
        assert run_playbook(outer, inventory) == ["FROM_INVENTORY"]
    finally:
        inner.unlink()
        outer.unlink()


def test_a_play_at_the_top_level_reads_them_and_they_win_over_the_inventory(tmp_path):
    inventory = write_inventory(tmp_path)
    top = REPO / f".probe-{uuid.uuid4().hex[:8]}.yml"
    top.write_text(yaml.safe_dump([{"name": "Probe", "hosts": "web", "gather_facts": False, "tasks": PROBE_TASKS}]))
    try:
        assert run_playbook(top, inventory) == SHARED_WEB["app_watchlist"]
    finally:
        top.unlink()
