"""The app role reads nothing outside itself unless told where (issue 11, "one public interface").

- roles/app has no path reaching out of the role (no role_path ~ '/../..' into the repository);
- the repository's plays hand it its controller paths: group_vars/web/app.yml, read as inventory
  group_vars by the play in playbooks/configure.yml, resolves them to this repository's build
  script, app sources and artifact cache;
- without them the role stops at once with a message that names them.
"""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path

import yaml

from ansible_run import ANSIBLE_BIN, REPO, ansible_env

ROLE = REPO / "roles" / "app"
PATHS = ("app_source_dir", "app_build_script", "app_artifacts_dir")
# role_path ~ '/../..' or any other way up out of the role ("/..." ellipses in comments are fine).
UP = re.compile(r"/\.\.(?!\.)")


def test_the_role_does_not_reach_outside_itself():
    offenders = [
        f"{path.relative_to(REPO)}:{number}"
        for path in sorted(ROLE.rglob("*"))
        if path.is_file() and path.suffix in {".yml", ".j2"}
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if UP.search(line)
    ]
    assert offenders == []
    assert not (ROLE / "files").exists(), "the role ships no code of its own: the app's CLI does the work"


def _probe(tmp_path: Path, tasks: list, role_vars: dict | None = None):
    import subprocess

    inventory = tmp_path / "inventory"
    (inventory / "group_vars").mkdir(parents=True)
    (inventory / "group_vars" / "web").symlink_to(REPO / "group_vars" / "web")
    (inventory / "hosts.yml").write_text(yaml.safe_dump({"web": {"hosts": {"probe": {"ansible_connection": "local"}}}}))
    play = REPO / "playbooks" / f".probe-{uuid.uuid4().hex[:8]}.yml"
    play.write_text(yaml.safe_dump([{"name": "Probe", "hosts": "web", "gather_facts": False, "tasks": tasks}]))
    try:
        cmd = [str(ANSIBLE_BIN / "ansible-playbook"), "-i", str(inventory), str(play)]
        if role_vars:
            cmd += ["-e", json.dumps(role_vars)]
        return subprocess.run(cmd, cwd=REPO, env=ansible_env(ANSIBLE_STDOUT_CALLBACK="ansible.builtin.default"),
                              capture_output=True, text=True, timeout=120, check=False)
    finally:
        play.unlink()


def test_the_repository_plays_hand_the_role_its_controller_paths(tmp_path):
    shown = [{"name": f"Show {name}", "ansible.builtin.debug": {"msg": f"{name}={{{{ {name} }}}}"}} for name in PATHS]
    proc = _probe(tmp_path, shown)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    values = {name: line.split(f"{name}=", 1)[1].strip().strip("'\"") for name in PATHS
              for line in proc.stdout.splitlines() if f"msg: {name}=" in line or f'"msg": "{name}=' in line}
    assert values == {
        "app_source_dir": str(REPO / "app"),
        "app_build_script": str(REPO / "scripts" / "build-app-artifacts.sh"),
        "app_artifacts_dir": str(REPO / ".cache" / "app-artifacts"),
    }
    assert Path(values["app_build_script"]).is_file() and (Path(values["app_source_dir"]) / "pyproject.toml").is_file()


def test_without_its_controller_paths_the_role_stops_and_names_them(tmp_path):
    empty = {name: "" for name in PATHS} | {"app_secret_key": "x" * 40}
    proc = _probe(tmp_path, [{"name": "Run the role's checks", "ansible.builtin.include_role": {"name": "app", "tasks_from": "validate"}}], empty)
    assert proc.returncode != 0
    assert "Set app_artifacts_dir" in proc.stdout and "app_build_script and app_source_dir" in proc.stdout
