"""Each role's contract is written three times: defaults/main.yml (the values), meta/argument_specs.yml
(what ansible validates) and the README's variable table (what a person reads). They must agree.

- Every variable in defaults/main.yml has an argument spec, and every spec option has a default there.
- Where a spec declares a default, it is exactly the value in defaults/main.yml.
- Every variable in defaults/main.yml is named in the README's tables, and every role-prefixed name
  in the first column of those tables is a variable of defaults/main.yml (no stale rows).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

ROLES_DIR = Path(__file__).resolve().parent.parent / "roles"
ROLES = sorted(p.name for p in ROLES_DIR.iterdir() if (p / "defaults" / "main.yml").is_file())
FIRST_CELL = re.compile(r"^\|([^|]*)\|")
NAME = re.compile(r"`([a-z][a-z0-9_]*)`")


def defaults(role: str) -> dict:
    return yaml.safe_load((ROLES_DIR / role / "defaults" / "main.yml").read_text()) or {}


def spec_options(role: str) -> dict:
    specs = yaml.safe_load((ROLES_DIR / role / "meta" / "argument_specs.yml").read_text())["argument_specs"]
    return specs["main"].get("options", {})


def readme_names(role: str) -> set[str]:
    """Variable names in the first column of the README's tables (a cell may name several)."""
    names: set[str] = set()
    for line in (ROLES_DIR / role / "README.md").read_text().splitlines():
        cell = FIRST_CELL.match(line)
        if cell:
            names.update(NAME.findall(cell.group(1)))
    return names


def prefix(role: str) -> str:
    return f"{role}_"


@pytest.mark.parametrize("role", ROLES)
def test_every_default_has_a_spec_and_every_spec_a_default(role):
    assert sorted(set(defaults(role)) - set(spec_options(role))) == [], "in defaults/main.yml but not in meta/argument_specs.yml"
    assert sorted(set(spec_options(role)) - set(defaults(role))) == [], "in meta/argument_specs.yml but not in defaults/main.yml"


@pytest.mark.parametrize("role", ROLES)
def test_spec_defaults_equal_the_defaults_file(role):
    values = defaults(role)
    wrong = {
        name: (option["default"], values.get(name))
        for name, option in spec_options(role).items()
        if "default" in option and option["default"] != values.get(name)
    }
    assert wrong == {}, "argument spec default != defaults/main.yml value (spec, defaults)"


@pytest.mark.parametrize("role", ROLES)
def test_readme_tables_name_every_variable_and_nothing_else(role):
    documented = {name for name in readme_names(role) if name.startswith(prefix(role))}
    assert sorted(set(defaults(role)) - documented) == [], "variables missing from the README's tables"
    assert sorted(documented - set(defaults(role))) == [], "README rows naming variables the role does not have"
