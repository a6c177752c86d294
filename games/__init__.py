"""Games: extensive-form games compiled to sequence form, exact evaluators, MMD/CFR learners and
update-equivalence search (Sokota et al., ICLR 2024), PettingZoo environments.

Public API (shared/DESIGN.md): ``kuhn_poker``, ``leduc_poker``, ``tiny_hanabi``, ``uniform_policy``,
``expected_return``, ``exploitability``, ``solve_zero_sum``, ``mmd``, ``md_search``, ``mmd_search``,
``from_openspiel`` (any finite two-player perfect-recall OpenSpiel game), ``load_game`` (games by config name).
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
from games.openspiel import OpenSpielCompileError, from_openspiel, from_openspiel_policy, to_openspiel_policy
from games.registry import GAME_FORMS, GameSpecError, check_game_spec, load_game

__all__ = [
    "Chance", "Decision", "ExtensiveFormGame", "GameError", "PayoffShapeError", "PerfectRecallError", "PolicyError",
    "LearnerResult", "TabularPolicy", "Terminal", "cfr", "md_local_update", "mmd", "mmd_local_update", "TinyHanabi", "best_response", "expected_return", "exploitability", "kuhn_poker",
    "leduc_poker", "md_search", "mmd_search", "nash_conv", "search", "normal_form_game", "perturbed_rps", "policy_to_sequence", "sequence_to_policy",
    "solve_zero_sum", "tiny_hanabi", "uniform_policy", "validate_policy",
    "GAME_FORMS", "GameSpecError", "OpenSpielCompileError", "check_game_spec", "from_openspiel",
    "from_openspiel_policy", "load_game", "to_openspiel_policy",
]
