"""scripts/build-app-artifacts.sh skips itself when nothing it reads or wrote has changed.

Every configure run calls it on the controller (role app, artifacts.yml). The checks run it with
--no-train (no TensorFlow training: the archive is then empty, which the script reports as missing
models) on a copy of the app's sources, so a source edit can be tried without touching app/.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "scripts" / "build-app-artifacts.sh"
SKIPPED = "inputs and outputs as the last build left them: nothing to do"


@pytest.fixture
def sources(tmp_path) -> Path:
    """A copy of what the wheel is built from, using app/.venv (make test's app-venv makes it)."""
    app = tmp_path / "app"
    app.mkdir()
    for name in ("pyproject.toml", "README.md", "constraints.txt"):
        shutil.copy(REPO / "app" / name, app / name)
    shutil.copytree(REPO / "app" / "src", app / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    venv = REPO / "app" / ".venv"
    assert (venv / "bin" / "stocksense").exists(), "needs app/.venv: make app-venv"
    (app / ".venv").symlink_to(venv)
    return app


def build(sources: Path, out: Path) -> tuple[dict, str]:
    run = subprocess.run([str(SCRIPT), "--out", str(out), "--no-train", "MSFT"], capture_output=True, text=True,
                         env={"PATH": "/usr/bin:/bin", "APP_DIR": str(sources), "HOME": str(out.parent)},
                         timeout=300, check=False)
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(run.stdout.splitlines()[-1]), run.stderr


def test_a_second_build_with_nothing_changed_does_nothing(sources, tmp_path):
    out = tmp_path / "out"
    first, _ = build(sources, out)
    assert first["changed"] is True and Path(first["wheel"]).is_file()
    second, log = build(sources, out)
    assert SKIPPED in log
    assert second == {**first, "changed": False}


def test_a_source_edit_builds_a_new_wheel(sources, tmp_path):
    out = tmp_path / "out"
    first, _ = build(sources, out)
    wheel_bytes = Path(first["wheel"]).read_bytes()
    with (sources / "src" / "stocksense" / "__init__.py").open("a") as module:
        module.write("# an edit\n")
    second, log = build(sources, out)
    assert SKIPPED not in log and second["changed"] is True
    assert Path(second["wheel"]).read_bytes() != wheel_bytes


def test_a_removed_output_is_made_again(sources, tmp_path):
    out = tmp_path / "out"
    first, _ = build(sources, out)
    Path(first["models"]).unlink()
    second, log = build(sources, out)
    assert SKIPPED not in log and second["changed"] is True and Path(second["models"]).is_file()
