"""Extensive-form games: declarative trees compiled to sequence form, exact evaluators, CFR and MMD learners,
update-equivalence search, the OpenSpiel bridge and the game registry.

Modules: :mod:`~games.efg.model` (nodes, :class:`ExtensiveFormGame`), :mod:`~games.efg.sequence_form` (the
torch arrays of the treeplex), :mod:`~games.efg.policy`, :mod:`~games.efg.normal_form`, :mod:`~games.efg.poker`,
:mod:`~games.efg.tiny_hanabi`, :mod:`~games.efg.evaluation` (expected returns, best responses, NashConv,
the sequence-form LP), :mod:`~games.efg.learners` (what CFR and MMD share), :mod:`~games.efg.cfr`,
:mod:`~games.efg.mmd`, :mod:`~games.efg.search`, :mod:`~games.efg.openspiel`, :mod:`~games.efg.registry`.

Exports are lazy (PEP 562, :mod:`theory.lazy`). The functions ``cfr``, ``mmd``, ``search`` and ``tiny_hanabi``
share their module's name, so they are exported by :mod:`games`, not here.
"""
from theory.lazy import lazy_exports

_EXPORTS = {
    "Chance": "games.efg.model", "Decision": "games.efg.model", "Terminal": "games.efg.model",
    "ExtensiveFormGame": "games.efg.model", "Treeplex": "games.efg.model", "GameError": "games.efg.model",
    "PerfectRecallError": "games.efg.model", "PayoffShapeError": "games.efg.model",
    "PlayerTensors": "games.efg.sequence_form", "SequenceFormTensors": "games.efg.sequence_form",
    "PolicyError": "games.efg.policy", "TabularPolicy": "games.efg.policy", "uniform_policy": "games.efg.policy",
    "validate_game_policy": "games.efg.policy",
    "normal_form_game": "games.efg.normal_form", "perturbed_rps": "games.efg.normal_form",
    "kuhn_poker": "games.efg.poker", "leduc_poker": "games.efg.poker", "TinyHanabi": "games.efg.tiny_hanabi",
    "best_response": "games.efg.evaluation", "expected_return": "games.efg.evaluation",
    "exploitability": "games.efg.evaluation", "nash_conv": "games.efg.evaluation",
    "policy_to_sequence": "games.efg.evaluation", "sequence_to_policy": "games.efg.evaluation",
    "solve_zero_sum": "games.efg.evaluation", "ZeroSumSolution": "games.efg.evaluation",
    "BestResponse": "games.efg.evaluation",
    "LearnerResult": "games.efg.learners", "CFRSolver": "games.efg.cfr", "MMDSolver": "games.efg.mmd",
    "md_local_update": "games.efg.mmd", "mmd_local_update": "games.efg.mmd",
    "md_search": "games.efg.search", "mmd_search": "games.efg.search",
    "OpenSpielCompileError": "games.efg.openspiel", "from_openspiel": "games.efg.openspiel",
    "from_openspiel_policy": "games.efg.openspiel", "to_openspiel_policy": "games.efg.openspiel",
    "GAME_FORMS": "games.efg.registry", "GameSpecError": "games.efg.registry",
    "check_game_spec": "games.efg.registry", "load_game": "games.efg.registry",
}
_SUBMODULES = {}
__all__, __getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, _SUBMODULES)
