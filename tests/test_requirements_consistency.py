"""requirements.yml and the collections bundled with the pinned ansible package must agree.

Nothing here talks to Ansible Galaxy: the installed collections are read from their MANIFEST.json.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import ansible_collections
import pytest
import yaml
from packaging.specifiers import SpecifierSet
from packaging.version import Version

REPO = Path(__file__).resolve().parent.parent
COLLECTIONS_ROOT = Path(next(iter(ansible_collections.__path__)))
FQCN_USE = re.compile(r"\b([a-z_]+)\.([a-z_]+)\.[a-z_]+:")


def required() -> dict[str, str]:
    data = yaml.safe_load((REPO / "requirements.yml").read_text())
    return {entry["name"]: str(entry["version"]) for entry in data["collections"]}


def installed_version(fqcn: str) -> str | None:
    namespace, name = fqcn.split(".")
    manifest = COLLECTIONS_ROOT / namespace / name / "MANIFEST.json"
    if not manifest.is_file():
        return None
    return json.loads(manifest.read_text())["collection_info"]["version"]


def spec_of(version: str) -> SpecifierSet:
    """ansible-galaxy accepts a bare version (exact) or a specifier list such as '>=1.0,<2'."""
    return SpecifierSet(version if version[0] in "<>=!~" else f"=={version}")


@pytest.mark.parametrize("fqcn", sorted(required()))
def test_installed_collection_satisfies_requirements(fqcn):
    found = installed_version(fqcn)
    assert found is not None, f"{fqcn} is in requirements.yml but not installed with the pinned ansible package"
    wanted = required()[fqcn]
    assert Version(found) in spec_of(wanted), f"{fqcn}: installed {found}, requirements.yml asks for {wanted}"


def test_every_collection_used_is_listed():
    """Each collection named by a fully-qualified module in roles/, playbooks/ or site.yml is in requirements.yml."""
    used: set[str] = set()
    sources = [*REPO.glob("roles/*/**/*.yml"), *REPO.glob("playbooks/*.yml"), *REPO.glob("site.yml"), *REPO.glob("inventories/**/*.yml")]
    for path in sources:
        for namespace, name in FQCN_USE.findall(path.read_text()):
            used.add(f"{namespace}.{name}")
        if path.name.endswith("aws_ec2.yml"):
            used.add("amazon.aws")
    used -= {"ansible.builtin"}
    # Only names that are real installed collections count (skips YAML keys that merely look dotted).
    used = {fqcn for fqcn in used if installed_version(fqcn) is not None}
    missing = sorted(used - set(required()))
    assert not missing, f"used but not listed in requirements.yml: {missing}"
