"""strategy_plugins/mitogen_linear.py: mitogen's strategy under a repository path, with the
installed collections listed once per play instead of once per task (the shim's docstring says
why). Each task's module is sent with the folders mitogen's own planner would have added."""

import importlib.util
import pathlib
from types import SimpleNamespace

import pytest
from ansible import constants
from ansible.plugins.loader import init_plugin_loader
from ansible_mitogen import planner
from ansible_mitogen.plugins.strategy.mitogen_linear import StrategyModule as MitogenLinear

SHIM = pathlib.Path(__file__).resolve().parents[1] / "strategy_plugins" / "mitogen_linear.py"
MITOGEN_LOAD_COLLECTIONS = planner._load_collections


@pytest.fixture(scope="module", autouse=True)
def collection_loader():
    """ansible-core's collection finder, installed as every ansible CLI installs it at start."""
    init_plugin_loader(constants.COLLECTIONS_PATHS)


@pytest.fixture
def shim(monkeypatch):
    """The shim loaded from its file, as ansible loads a strategy plugin; the planner restored."""
    monkeypatch.setattr(planner, "_load_collections", MITOGEN_LOAD_COLLECTIONS)
    spec = importlib.util.spec_from_file_location("stocksense_mitogen_linear_shim", SHIM)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def folders_added(load_collections):
    invocation = SimpleNamespace(_extra_sys_paths=set())
    load_collections(invocation)
    return invocation._extra_sys_paths


def test_the_shim_is_mitogens_linear_strategy(shim):
    assert issubclass(shim.StrategyModule, MitogenLinear)


def test_a_module_gets_the_same_collection_folders_as_from_mitogens_planner(shim):
    expected = folders_added(MITOGEN_LOAD_COLLECTIONS)
    assert any(folder.endswith("/ansible_collections/amazon/aws") for folder in expected), expected
    shim.list_collections_once()
    assert planner._load_collections is not MITOGEN_LOAD_COLLECTIONS
    assert folders_added(planner._load_collections) == expected


def test_the_folders_are_listed_once_not_per_task(shim, monkeypatch):
    shim.list_collections_once()
    calls = []
    monkeypatch.setattr(shim, "list_collection_dirs", lambda: calls.append(1) or [])
    for _ in range(3):
        folders_added(planner._load_collections)
    assert calls == []


def test_running_a_play_lists_them_before_mitogen_runs_it(shim, monkeypatch):
    seen = []
    monkeypatch.setattr(shim, "list_collections_once", lambda: seen.append("listed"))
    monkeypatch.setattr(MitogenLinear, "run", lambda self, iterator, ctx: seen.append("run") or 0)
    strategy = shim.StrategyModule.__new__(shim.StrategyModule)
    assert strategy.run(iterator=None, play_context=None) == 0
    assert seen == ["listed", "run"]
