"""PettingZoo environments: AEC for the compiled extensive-form games, Parallel for Markov games (seeded;
``pettingzoo.test.api_test`` / ``parallel_api_test`` pass)."""
from games.envs.aec import (ExtensiveFormEnv, extensive_form_env, kuhn_poker_env, leduc_poker_env,
                            openspiel_env, tiny_hanabi_env)
from games.envs.parallel import MarkovGameEnv, markov_game_env
from games.envs.resource_grid import ResourceGridEnv, resource_grid_env

__all__ = ["ExtensiveFormEnv", "extensive_form_env", "kuhn_poker_env", "leduc_poker_env", "openspiel_env",
           "tiny_hanabi_env", "ResourceGridEnv", "resource_grid_env", "MarkovGameEnv", "markov_game_env"]
