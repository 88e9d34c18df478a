"""Each role's OS-specific values, chosen from faked facts by the role's own tasks/os_vars.yml.

Only Debian runs here (Ubuntu's archive is unreachable), so Ubuntu 24.04 is covered this far and no
further: its facts pick a vars file, that file loads, and it defines every OS value the role's tasks
and templates use. The file choice runs the role's own expression (the first_found lookup) through
Ansible's templating, as a play would.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from ansible.parsing.dataloader import DataLoader
from ansible.plugins.loader import init_plugin_loader
from ansible.template import Templar, trust_as_template

ROLES_DIR = Path(__file__).resolve().parent.parent / "roles"
OS_ROLES = ["nginx", "certbot", "cloudwatch_agent", "app"]

FACTS = {
    "debian13": {"distribution": "Debian", "distribution_major_version": "13", "distribution_version": "13.2",
                 "distribution_release": "trixie", "os_family": "Debian"},
    "debian12": {"distribution": "Debian", "distribution_major_version": "12", "distribution_version": "12.12",
                 "distribution_release": "bookworm", "os_family": "Debian"},
    "ubuntu2404": {"distribution": "Ubuntu", "distribution_major_version": "24", "distribution_version": "24.04",
                   "distribution_release": "noble", "os_family": "Debian"},
}
UNSUPPORTED = {"distribution": "Rocky", "distribution_major_version": "9", "distribution_version": "9.6",
               "distribution_release": "Blue Onyx", "os_family": "RedHat"}

# The file each release must get; a role missing here has one Debian.yml for the whole family.
EXPECTED_FILE = {
    ("nginx", "debian13"): "Debian.yml",
    ("nginx", "debian12"): "Debian-12.yml",
    ("nginx", "ubuntu2404"): "Ubuntu-24.yml",
}


def trusted(value):
    """YAML read from disk is untrusted for Ansible's templating; mark every string as a template."""
    if isinstance(value, str):
        return trust_as_template(value)
    if isinstance(value, list):
        return [trusted(item) for item in value]
    if isinstance(value, dict):
        return {key: trusted(item) for key, item in value.items()}
    return value


def os_tasks(role: str) -> list[dict]:
    return yaml.safe_load((ROLES_DIR / role / "tasks" / "os_vars.yml").read_text())


def task_using(role: str, module: str) -> dict:
    return next(task for task in os_tasks(role) if module in task)


@pytest.fixture(scope="module", autouse=True)
def plugins():
    """Load Ansible's plugins (the first_found lookup), as ansible-playbook does at start."""
    init_plugin_loader()


def templar_for(role: str, facts: dict, extra: dict | None = None) -> Templar:
    variables = {"ansible_facts": facts, "role_path": str(ROLES_DIR / role), **(extra or {})}
    return Templar(loader=DataLoader(), variables=variables)


def chosen_vars_file(role: str, facts: dict) -> Path:
    """The vars file the role's include_vars task picks for these facts."""
    task = task_using(role, "ansible.builtin.include_vars")
    templar = templar_for(role, facts, trusted(task.get("vars", {})))
    return Path(templar.template(trust_as_template(task["ansible.builtin.include_vars"]["file"])))


def os_values_used(role: str) -> set[str]:
    """Every __<role>_* name the role's tasks, handlers and templates refer to."""
    pattern = re.compile(rf"\b(__{role}_\w+)")
    used: set[str] = set()
    for folder in ("tasks", "handlers", "templates"):
        for path in (ROLES_DIR / role / folder).glob("*"):
            used.update(pattern.findall(path.read_text()))
    return used


def test_each_role_with_os_values_loads_them_through_os_vars():
    for role in OS_ROLES:
        main = (ROLES_DIR / role / "tasks" / "main.yml").read_text()
        assert "os_vars.yml" in main, f"{role}: tasks/main.yml does not include os_vars.yml"
        assert os_values_used(role), f"{role}: no __{role}_* value is used, so vars/<os>.yml would be dead"


@pytest.mark.parametrize("release", sorted(FACTS))
@pytest.mark.parametrize("role", OS_ROLES)
def test_release_gets_a_vars_file_defining_every_os_value(role, release):
    chosen = chosen_vars_file(role, FACTS[release])
    assert chosen.parent == ROLES_DIR / role / "vars"
    assert chosen.is_file()
    assert chosen.name == EXPECTED_FILE.get((role, release), "Debian.yml")
    values = yaml.safe_load(chosen.read_text())
    missing = os_values_used(role) - set(values)
    assert not missing, f"{role} on {release}: {chosen.name} lacks {sorted(missing)}"


@pytest.mark.parametrize("role", OS_ROLES)
def test_the_vars_files_of_a_role_define_the_same_names(role):
    files = sorted((ROLES_DIR / role / "vars").glob("*.yml"))
    names = {path.name: set(yaml.safe_load(path.read_text())) for path in files if path.name != "main.yml"}
    assert names, f"{role}: no OS vars file"
    assert len({frozenset(keys) for keys in names.values()}) == 1, names


def test_nginx_http2_syntax_follows_the_release():
    """nginx 1.26 (Debian 13) takes `http2 on;`; 1.22 (Debian 12) and 1.24 (Ubuntu 24.04) only the listen flag."""
    http2 = {release: yaml.safe_load(chosen_vars_file("nginx", facts).read_text())["__nginx_http2_directive"]
             for release, facts in FACTS.items()}
    assert http2 == {"debian13": True, "debian12": False, "ubuntu2404": False}


@pytest.mark.parametrize("role", OS_ROLES)
def test_supported_releases_pass_the_os_check_and_others_do_not(role):
    condition = task_using(role, "ansible.builtin.assert")["ansible.builtin.assert"]["that"]
    conditions = condition if isinstance(condition, list) else [condition]

    def passes(facts: dict) -> bool:
        templar = templar_for(role, facts)
        return all(templar.evaluate_conditional(trust_as_template(item)) for item in conditions)

    assert all(passes(facts) for facts in FACTS.values())
    assert not passes(UNSUPPORTED)
