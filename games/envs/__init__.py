"""PettingZoo AEC environments for the compiled extensive-form games (seeded; ``pettingzoo.test.api_test`` passes)."""
from games.envs.aec import (ExtensiveFormEnv, extensive_form_env, kuhn_poker_env, leduc_poker_env,
                            openspiel_env, tiny_hanabi_env)

__all__ = ["ExtensiveFormEnv", "extensive_form_env", "kuhn_poker_env", "leduc_poker_env", "openspiel_env",
           "tiny_hanabi_env"]
