from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml


@pytest.fixture(scope="session")
def standin_vars() -> dict:
    """The role variables scripts/build-cloudwatch-standin.sh wrote for the TEST STAND-IN package."""
    project = Path(os.environ.get("MOLECULE_PROJECT_DIRECTORY", Path(__file__).resolve().parents[3]))
    return yaml.safe_load((project / ".cache" / "cloudwatch-standin" / "standin-vars.yml").read_text())
