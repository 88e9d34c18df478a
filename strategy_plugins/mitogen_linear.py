"""mitogen_linear, by name, from the mitogen package installed next to ansible (requirements-dev.txt).

Mitogen documents pointing `strategy_plugins` at a folder inside its installed package; that path
holds the Python version and the virtualenv's location. This one-line shim lets ansible.cfg and
molecule name a folder of the repository instead. Chosen per run or per play (see ansible.cfg):
linear stays the default strategy.
"""

from ansible_mitogen.plugins.strategy.mitogen_linear import StrategyModule  # noqa: F401
