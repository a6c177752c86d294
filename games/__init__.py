"""Games: extensive-form games compiled to sequence form, exact evaluators, MMD/CFR learners and
update-equivalence search (Sokota et al., ICLR 2024), PettingZoo environments.

Public API (shared/DESIGN.md): ``kuhn_poker``, ``leduc_poker``, ``tiny_hanabi``, ``uniform_policy``,
``expected_return``, ``exploitability``, ``solve_zero_sum``, ``mmd``, ``md_search``, ``mmd_search``,
``from_openspiel`` (any finite two-player perfect-recall OpenSpiel game), ``load_game`` (games by config name);
Markov games: ``MarkovGame``, ``marginal_mdp``, ``soft_nash``, ``markov_nash_conv``
(``games.nash_conv`` is the extensive-form one), ``sample_demonstrations``, ``mamql`` and its baselines.
"""
from games.extensive_form import (Chance, Decision, ExtensiveFormGame, GameError, PayoffShapeError,
                                  PerfectRecallError, PolicyError, TabularPolicy, Terminal, uniform_policy,
                                  validate_policy)
from games.evaluation import (best_response, expected_return, exploitability, nash_conv, policy_to_sequence,
                              sequence_to_policy, solve_zero_sum)
from games.cfr import cfr
from games.learner import LearnerResult
from games.mirror_descent import md_local_update, mmd, mmd_local_update
from games.normal_form import normal_form_game, perturbed_rps
from games.poker import kuhn_poker, leduc_poker
from games.search import md_search, mmd_search, search
from games.tiny_hanabi import TinyHanabi, tiny_hanabi
from games.markov.model import MarkovGame, stack_games
from games.markov.marginal import agent_values, marginal_mdp, markov_nash_conv
from games.markov.solvers import SoftNashResult, soft_nash
from games.markov.demonstrations import Demonstrations, sample_demonstrations
from games.markov.simulation import BatchedMarkovGame
from games.markov.instances import bimatrix_markov_game, gems_game, random_markov_game
from games.markov.irl import IRLResult, demonstration_data, expert_data
from games.markov.mamql import mamql
from games.markov.baselines import behaviour_cloning, independent_iq_learn, ma_airl
from games.markov.recovery import RewardRecovery, policy_kl, reward_recovery
from games.openspiel import OpenSpielCompileError, from_openspiel, from_openspiel_policy, to_openspiel_policy
from games.registry import GAME_FORMS, GameSpecError, check_game_spec, load_game

from games import population  # noqa: E402  (population games: the congestion family, MRA, the relational SAC)
from games.population import mra  # noqa: E402  (MRA: population-varying games, latent policy sets)

__all__ = [
    "Chance", "Decision", "ExtensiveFormGame", "GameError", "PayoffShapeError", "PerfectRecallError", "PolicyError",
    "LearnerResult", "TabularPolicy", "Terminal", "cfr", "md_local_update", "mmd", "mmd_local_update", "TinyHanabi",
    "best_response", "expected_return", "exploitability", "kuhn_poker", "leduc_poker", "md_search", "mmd_search",
    "nash_conv", "search", "normal_form_game", "perturbed_rps", "policy_to_sequence", "sequence_to_policy",
    "solve_zero_sum", "tiny_hanabi", "uniform_policy", "validate_policy", "GAME_FORMS", "GameSpecError",
    "OpenSpielCompileError", "check_game_spec", "from_openspiel", "from_openspiel_policy", "load_game",
    "to_openspiel_policy", "MarkovGame", "SoftNashResult", "Demonstrations", "BatchedMarkovGame", "marginal_mdp",
    "soft_nash", "markov_nash_conv", "agent_values", "sample_demonstrations", "stack_games", "random_markov_game",
    "bimatrix_markov_game", "gems_game", "IRLResult", "RewardRecovery", "mamql", "behaviour_cloning",
    "independent_iq_learn", "ma_airl", "expert_data", "demonstration_data", "reward_recovery", "policy_kl", "mra",
    "population",
]
