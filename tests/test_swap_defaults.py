"""The swap role's RAM-derived default size, rendered by Ansible's own templating."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar, trust_as_template

DEFAULTS = Path(__file__).resolve().parent.parent / "roles" / "swap" / "defaults" / "main.yml"


@pytest.mark.parametrize(
    ("memtotal_mb", "expected"),
    [
        (957, 2048),  # t2.micro: 1 GiB RAM gets 2 GiB of swap
        (1990, 2048),
        (2048, 2048),
        (3900, 3900),
        (8192, 8192),
        (24000, 8192),
    ],
)
def test_default_size_follows_ram(memtotal_mb, expected):
    expression = yaml.safe_load(DEFAULTS.read_text())["swap_file_size_mb"]
    templar = Templar(loader=DataLoader(), variables={"ansible_facts": {"memtotal_mb": memtotal_mb}})
    assert int(templar.template(trust_as_template(expression))) == expected
