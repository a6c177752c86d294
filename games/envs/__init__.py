"""PettingZoo environments: AEC for the compiled extensive-form games, Parallel for Markov games (seeded;
``pettingzoo.test.api_test`` / ``parallel_api_test`` pass).

Exports are lazy (PEP 562, :mod:`theory.lazy`): ``from games.envs import resource_grid_env`` imports
:mod:`games.envs.resource_grid` only, not the extensive-form or Markov-game environments.
"""
from theory.lazy import lazy_exports

_EXPORTS = {
    "ExtensiveFormEnv": "games.envs.aec", "extensive_form_env": "games.envs.aec", "kuhn_poker_env": "games.envs.aec",
    "leduc_poker_env": "games.envs.aec", "openspiel_env": "games.envs.aec", "tiny_hanabi_env": "games.envs.aec",
    "MarkovGameEnv": "games.envs.parallel", "markov_game_env": "games.envs.parallel",
    "ResourceGridEnv": "games.envs.resource_grid", "resource_grid_env": "games.envs.resource_grid",
}
_SUBMODULES = {}
__all__, __getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, _SUBMODULES)
