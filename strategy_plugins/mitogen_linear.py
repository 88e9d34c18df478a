"""mitogen_linear, by name, from the mitogen package installed next to ansible (requirements-dev.txt).

Mitogen documents pointing `strategy_plugins` at a folder inside its installed package; that path
holds the Python version and the virtualenv's location. This shim lets ansible.cfg and molecule
name a folder of the repository instead. Chosen per run or per play (see ansible.cfg): linear
stays the default strategy.

It also lists the installed collections once per play instead of once per task. Before it sends a
collection's module (ansible.posix, community.crypto, amazon.aws, ...), mitogen's planner
(mitogen 0.3.54, pinned) asks ansible-core for every installed collection's folder. It keeps its
planners in a module-level cache, but each task runs in a freshly forked worker, so every such
task imported the ansible package's ~100 collections and parsed their meta/runtime.yml again. The
folders are listed here, in the parent process before the play's workers fork, and every worker
reuses the list. tests/test_mitogen_shim.py checks the list is the one mitogen would make.
"""

from ansible.collections.list import list_collection_dirs
from ansible_mitogen import planner
from ansible_mitogen.plugins.strategy.mitogen_linear import StrategyModule as MitogenLinear


def installed_collection_dirs():
    """Every installed collection's folder, as text, in the order ansible-core lists them."""
    return tuple(path.decode("utf-8") for path in list_collection_dirs())


def load_collections_from(dirs):
    """A stand-in for planner._load_collections that adds the folders listed once (dirs)."""

    def load_collections(invocation):
        invocation._extra_sys_paths.update(dirs)

    return load_collections


def list_collections_once():
    """Point mitogen's planner at a list made now; workers forked afterwards inherit it."""
    planner._load_collections = load_collections_from(installed_collection_dirs())


class StrategyModule(MitogenLinear):
    def run(self, iterator, play_context):
        list_collections_once()
        return super().run(iterator, play_context)
