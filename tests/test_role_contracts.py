"""Each role's contract is written three times: defaults/main.yml (the values), meta/argument_specs.yml
(what ansible validates) and the README's variable table (what a person reads). They must agree.

- Every variable in defaults/main.yml has an argument spec, and every spec option has a default there.
- Where a spec declares a default, it is exactly the value in defaults/main.yml.
- Every variable in defaults/main.yml is named in the README's tables, and every role-prefixed name
  in the first column of those tables is a variable of defaults/main.yml (no stale rows).
- The README's default column agrees with defaults/main.yml: a fixed default (a number, a boolean,
  a short string, an empty list or mapping) is written as it is, in backticks, one per name in the
  row or one for all of them; a default computed by Jinja or a long value may be described in words,
  and an empty default the role requires may say "required". Backticked values are compared.
- In the roles listed in OVERRIDABLE_TEMPLATE_ROLES every template task takes its src from one
  *_template variable whose default is a file of the role's templates/, and every such file has one.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

ROLES_DIR = Path(__file__).resolve().parent.parent / "roles"
ROLES = sorted(p.name for p in ROLES_DIR.iterdir() if (p / "defaults" / "main.yml").is_file())
FIRST_CELL = re.compile(r"^\|([^|]*)\|")
TWO_CELLS = re.compile(r"^\|([^|]*)\|([^|]*)\|")
NAME = re.compile(r"`([a-z][a-z0-9_]*)`")
# A default cell that only gives values: `a`, `b` or `a` / `b`, maybe with a trailing "(note)".
LITERAL_CELL = re.compile(r"^`[^`]*`(?:\s*[,/]\s*`[^`]*`)*$")
TRAILING_NOTE = re.compile(r"\s*\([^)]*\)\s*$")


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


def readme_default_rows(role: str) -> list[tuple[list[str], str]]:
    """(variable names, default cell) of each README table row naming variables of defaults/main.yml."""
    names_of_role = set(defaults(role))
    rows = []
    for line in (ROLES_DIR / role / "README.md").read_text().splitlines():
        cells = TWO_CELLS.match(line)
        if cells:
            names = [name for name in NAME.findall(cells.group(1)) if name in names_of_role]
            if names:
                rows.append((names, cells.group(2).strip()))
    return rows


def cell_literals(cell: str) -> list[str] | None:
    """The backticked values of a default cell, or None when the cell describes the default in words."""
    bare = TRAILING_NOTE.sub("", cell)
    return re.findall(r"`([^`]*)`", bare) if LITERAL_CELL.match(bare) else None


def is_computed(value) -> bool:
    """A default written with Jinja anywhere in it: the README describes it rather than repeating it."""
    if isinstance(value, str):
        return "{{" in value or "{%" in value
    if isinstance(value, dict):
        return any(is_computed(item) for item in value.values())
    if isinstance(value, list):
        return any(is_computed(item) for item in value)
    return False


def must_be_literal(value) -> bool:
    """Fixed defaults short enough that the README writes them out."""
    if is_computed(value):
        return False
    if isinstance(value, str):
        return "\n" not in value and len(value) <= 60
    if isinstance(value, (list, dict)):
        return len(value) == 0
    return True


def literal_equals(text: str, value) -> bool:
    try:
        parsed = yaml.safe_load(text)
    except yaml.YAMLError:
        parsed = text
    return parsed == value or text == value


def readme_default_problems(role: str) -> list[str]:
    values = defaults(role)
    problems = []
    for names, cell in readme_default_rows(role):
        literals = cell_literals(cell)
        if literals is None:
            written_out = [n for n in names if must_be_literal(values[n]) and not ("required" in cell and not values[n])]
            problems += [f"{n}: default {values[n]!r} described as {cell!r}; write it as `...`" for n in written_out]
            continue
        if len(literals) not in (1, len(names)):
            problems.append(f"{', '.join(names)}: {len(literals)} values {literals} for {len(names)} names")
            continue
        for name, text in zip(names, literals * len(names) if len(literals) == 1 else literals):
            if not is_computed(values[name]) and not literal_equals(text, values[name]):
                problems.append(f"{name}: README says `{text}`, defaults/main.yml says {values[name]!r}")
    return problems


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


@pytest.mark.parametrize("role", ROLES)
def test_readme_defaults_equal_the_defaults_file(role):
    assert readme_default_problems(role) == []


# Roles whose every template can be replaced by the user through one variable (geerlingguy's
# nginx_vhost_template style). The app role joins the list once its templates are overridable too.
OVERRIDABLE_TEMPLATE_ROLES = ["baseline", "certbot", "cloudwatch_agent", "nginx", "swap"]
# src: "{{ name_template }}", or for a loop over items that may name their own: item.template | default(name_template).
TEMPLATE_VARIABLE = re.compile(r"^\{\{\s*(?:item\.template\s*\|\s*default\(\s*)?([a-z0-9_]+_template)\s*\)?\s*\}\}$")


def template_sources(node) -> list[str]:
    """src of every ansible.builtin.template task anywhere in a tasks or handlers file (blocks included)."""
    if isinstance(node, list):
        return [src for item in node for src in template_sources(item)]
    if isinstance(node, dict):
        found = [node["ansible.builtin.template"]["src"]] if isinstance(node.get("ansible.builtin.template"), dict) else []
        return found + [src for value in node.values() for src in template_sources(value)]
    return []


def role_template_sources(role: str) -> list[str]:
    files = sorted((ROLES_DIR / role).glob("tasks/*.yml")) + sorted((ROLES_DIR / role).glob("handlers/*.yml"))
    return [src for path in files for src in template_sources(yaml.safe_load(path.read_text()))]


@pytest.mark.parametrize("role", OVERRIDABLE_TEMPLATE_ROLES)
def test_every_template_is_chosen_by_a_variable_defaulting_to_the_roles_own_file(role):
    values = defaults(role)
    own_files = sorted(p.name for p in (ROLES_DIR / role / "templates").glob("*")) if (ROLES_DIR / role / "templates").is_dir() else []
    problems = []
    chosen = []
    for src in role_template_sources(role):
        match = TEMPLATE_VARIABLE.match(src.strip())
        if not match:
            problems.append(f"template src {src!r} is not a *_template variable")
            continue
        name = match.group(1)
        if values.get(name) not in own_files:
            problems.append(f"{name} defaults to {values.get(name)!r}, not one of the role's templates {own_files}")
        chosen.append(values.get(name))
    problems += [f"templates/{name} is never the default of a *_template variable" for name in own_files if name not in chosen]
    assert problems == []
