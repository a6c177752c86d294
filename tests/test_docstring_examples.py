"""The usage examples in the main entry points' docstrings run and print what they say."""
import doctest
import importlib

import pytest

MODULES = ["mdp.planning", "mdp.occupancy", "mdp.actor_critic", "mdp.robust.dp", "mdp.robust.iwocs",
           "mdp.robust.sparse_oracles", "mdp.robust.sets",
           "theory.halpern", "theory.fixed_point", "theory.validation", "games.mirror_descent", "games.cfr",
           "games.search", "mdp.grouping", "games.mra_sac", "games.envs.resource_grid"]


@pytest.mark.parametrize("name", MODULES)
def test_examples(name):
    mod = importlib.import_module(name)
    result = doctest.testmod(mod, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0 and result.attempted > 0, result
