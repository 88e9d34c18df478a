"""strategy_plugins/mitogen_linear.py: mitogen's strategy under a repository path, with the
installed collections listed once per play instead of once per task (the shim's docstring says
why). Each task's module is sent with the folders mitogen's own planner would have added.

The listing checks run in a fresh interpreter that installs ansible-core's collection finder
first, as every ansible CLI does at start: in pytest's process other tests may already have
imported `ansible_collections` as a plain namespace package, which ansible-core cannot list."""

import importlib.util
import json
import pathlib
import subprocess
import sys

import pytest
from ansible_mitogen.plugins.strategy.mitogen_linear import StrategyModule as MitogenLinear

SHIM = pathlib.Path(__file__).resolve().parents[1] / "strategy_plugins" / "mitogen_linear.py"

# Lists the folders both ways in a clean interpreter; prints what a test needs as JSON.
LISTING = """
import importlib.util, json, sys
from types import SimpleNamespace
from ansible import constants
from ansible.plugins.loader import init_plugin_loader
init_plugin_loader(constants.COLLECTIONS_PATHS)
from ansible_mitogen import planner

def folders_added(load_collections):
    invocation = SimpleNamespace(_extra_sys_paths=set())
    load_collections(invocation)
    return sorted(invocation._extra_sys_paths)

spec = importlib.util.spec_from_file_location("shim", sys.argv[1])
shim = importlib.util.module_from_spec(spec)
spec.loader.exec_module(shim)
mitogens = planner._load_collections
expected = folders_added(mitogens)
shim.list_collections_once()
listings = []
shim.list_collection_dirs = lambda: listings.append(1) or []
print(json.dumps({
    "expected": expected,
    "replaced": planner._load_collections is not mitogens,
    "from_shim": [folders_added(planner._load_collections) for _ in range(3)],
    "listings_after": len(listings),
}))
"""


@pytest.fixture(scope="module")
def listing():
    done = subprocess.run([sys.executable, "-c", LISTING, str(SHIM)], capture_output=True, text=True,
                          check=False, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_the_shim_is_mitogens_linear_strategy():
    assert issubclass(load_shim().StrategyModule, MitogenLinear)


def test_a_module_gets_the_same_collection_folders_as_from_mitogens_planner(listing):
    expected = listing["expected"]
    assert any(folder.endswith("/ansible_collections/amazon/aws") for folder in expected), expected
    assert listing["replaced"]
    assert listing["from_shim"][0] == expected


def test_the_folders_are_listed_once_not_per_task(listing):
    assert listing["from_shim"] == [listing["expected"]] * 3
    assert listing["listings_after"] == 0


def test_running_a_play_lists_them_before_mitogen_runs_it(monkeypatch):
    shim = load_shim()
    seen = []
    monkeypatch.setattr(shim, "list_collections_once", lambda: seen.append("listed"))
    monkeypatch.setattr(MitogenLinear, "run", lambda self, iterator, ctx: seen.append("run") or 0)
    strategy = shim.StrategyModule.__new__(shim.StrategyModule)
    assert strategy.run(iterator=None, play_context=None) == 0
    assert seen == ["listed", "run"]


def load_shim():
    """The shim loaded from its file, as ansible loads a strategy plugin."""
    spec = importlib.util.spec_from_file_location("stocksense_mitogen_linear_shim", SHIM)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
