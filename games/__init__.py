"""Games, in three families with one subpackage each, and their environments.

- :mod:`games.efg` -- extensive-form games: declarative trees compiled to sequence form, normal-form games,
  Kuhn/Leduc poker and tiny Hanabi, exact evaluators (expected return, best response, NashConv, the
  sequence-form LP), the learners CFR/CFR+ and MMD (with stepping objects :class:`~games.efg.cfr.CFRSolver` and
  :class:`~games.efg.mmd.MMDSolver`), update-equivalence search (Sokota et al., ICLR 2024), the OpenSpiel bridge
  and the game registry.
- :mod:`games.markov` -- n-agent general-sum Markov games: the model, marginal MDPs and exact NashConv
  (``markov_nash_conv``), soft (logit) Nash equilibria, demonstrations, torch-batched simulation, instance
  generators and multi-agent inverse Q-learning (MAMQL) with its baselines.
- :mod:`games.population` -- population-varying games: the congestion family, MRA latent policy sets
  (``games.mra`` is :mod:`games.population.mra`) and the relational latent soft actor-critic
  (:mod:`games.population.sac`).
- :mod:`games.envs` -- PettingZoo environments (AEC for extensive-form games, Parallel for Markov games and the
  resource grid).

The families import one another only through declared shared modules (the import-linter contracts in
``pyproject.toml``). Every name below is exported lazily (PEP 562, :mod:`theory.lazy`): ``from games import
kuhn_poker`` imports :mod:`games.efg.poker` and what it needs, nothing else, so a pipeline job records and
depends on only the sources it uses.
"""
from theory.lazy import lazy_exports

_EXPORTS = {
    "cfr": "games.efg.cfr", "CFRSolver": "games.efg.cfr",
    "best_response": "games.efg.evaluation", "expected_return": "games.efg.evaluation",
    "exploitability": "games.efg.evaluation", "nash_conv": "games.efg.evaluation",
    "policy_to_sequence": "games.efg.evaluation", "sequence_to_policy": "games.efg.evaluation",
    "solve_zero_sum": "games.efg.evaluation", "ZeroSumSolution": "games.efg.evaluation",
    "LearnerResult": "games.efg.learners",
    "md_local_update": "games.efg.mmd", "mmd": "games.efg.mmd", "mmd_local_update": "games.efg.mmd",
    "MMDSolver": "games.efg.mmd",
    "Chance": "games.efg.model", "Decision": "games.efg.model", "ExtensiveFormGame": "games.efg.model",
    "GameError": "games.efg.model", "PayoffShapeError": "games.efg.model", "PerfectRecallError": "games.efg.model",
    "Terminal": "games.efg.model",
    "normal_form_game": "games.efg.normal_form", "perturbed_rps": "games.efg.normal_form",
    "OpenSpielCompileError": "games.efg.openspiel", "from_openspiel": "games.efg.openspiel",
    "from_openspiel_policy": "games.efg.openspiel", "to_openspiel_policy": "games.efg.openspiel",
    "kuhn_poker": "games.efg.poker", "leduc_poker": "games.efg.poker",
    "PolicyError": "games.efg.policy", "TabularPolicy": "games.efg.policy", "uniform_policy": "games.efg.policy",
    "validate_game_policy": "games.efg.policy",
    "GAME_FORMS": "games.efg.registry", "GameSpecError": "games.efg.registry",
    "check_game_spec": "games.efg.registry", "load_game": "games.efg.registry",
    "md_search": "games.efg.search", "mmd_search": "games.efg.search", "search": "games.efg.search",
    "SequenceFormTensors": "games.efg.sequence_form",
    "TinyHanabi": "games.efg.tiny_hanabi", "tiny_hanabi": "games.efg.tiny_hanabi",
    "behaviour_cloning": "games.markov.baselines", "independent_iq_learn": "games.markov.baselines",
    "ma_airl": "games.markov.baselines",
    "Demonstrations": "games.markov.demonstrations", "sample_demonstrations": "games.markov.demonstrations",
    "random_markov_game": "games.markov.instances", "bimatrix_markov_game": "games.markov.instances",
    "gems_game": "games.markov.instances",
    "IRLResult": "games.markov.irl", "expert_data": "games.markov.irl", "demonstration_data": "games.markov.irl",
    "mamql": "games.markov.mamql",
    "marginal_mdp": "games.markov.marginal", "markov_nash_conv": "games.markov.marginal",
    "agent_values": "games.markov.marginal",
    "MarkovGame": "games.markov.model", "stack_games": "games.markov.model",
    "MarkovGameTensors": "games.markov.model",
    "RewardRecovery": "games.markov.recovery", "reward_recovery": "games.markov.recovery",
    "policy_kl": "games.markov.recovery", "policy_tv": "games.markov.recovery",
    "BatchedMarkovGame": "games.markov.simulation",
    "SoftNashResult": "games.markov.solvers", "soft_nash": "games.markov.solvers",
}
_SUBMODULES = {
    "efg": "games.efg", "markov": "games.markov", "population": "games.population", "envs": "games.envs",
    "mra": "games.population.mra",
}
__all__, __getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, _SUBMODULES)
