"""Markov games: the model (:mod:`~games.markov.model`), marginal MDPs and exact NashConv
(:mod:`~games.markov.marginal`), soft Nash equilibria (:mod:`~games.markov.solvers`, Newton and path following
in :mod:`~games.markov.newton`), demonstrations, torch-batched simulation, instance generators, and multi-agent
inverse Q-learning (:mod:`~games.markov.mamql`, its data and objective in :mod:`~games.markov.irl`, baselines in
:mod:`~games.markov.baselines`, reward recovery in :mod:`~games.markov.recovery`).

Names are exported lazily (:mod:`theory.lazy`); ``mamql`` itself is exported by :mod:`games` (its module has the
same name).
"""
from theory.lazy import lazy_exports

_EXPORTS = {
    "MarkovGame": "games.markov.model",
    "MarkovGameTensors": "games.markov.model",
    "validate_policies": "games.markov.model",
    "stack_games": "games.markov.model",
    "marginal_tensors": "games.markov.marginal",
    "marginal_mdp": "games.markov.marginal",
    "agent_values": "games.markov.marginal",
    "markov_nash_conv": "games.markov.marginal",
    "SoftNashResult": "games.markov.solvers",
    "soft_nash": "games.markov.solvers",
    "soft_q": "games.markov.solvers",
    "logit_response": "games.markov.solvers",
    "Demonstrations": "games.markov.demonstrations",
    "sample_demonstrations": "games.markov.demonstrations",
    "MarkovGameRollout": "games.markov.simulation",
    "BatchedMarkovGame": "games.markov.simulation",
    "random_markov_game": "games.markov.instances",
    "bimatrix_markov_game": "games.markov.instances",
    "gems_game": "games.markov.instances",
    "GEMS_MOVES": "games.markov.instances",
    "ExpertData": "games.markov.irl",
    "IRLResult": "games.markov.irl",
    "expert_data": "games.markov.irl",
    "demonstration_data": "games.markov.irl",
    "implied_reward": "games.markov.irl",
    "state_occupancy": "games.markov.irl",
    "behaviour_cloning": "games.markov.baselines",
    "independent_iq_learn": "games.markov.baselines",
    "ma_airl": "games.markov.baselines",
    "RewardRecovery": "games.markov.recovery",
    "reward_recovery": "games.markov.recovery",
    "policy_kl": "games.markov.recovery",
    "policy_tv": "games.markov.recovery",
    "shaping_free_scale": "games.markov.recovery",
    "scale_normalised_rewards": "games.markov.recovery",
    "reoptimised_values": "games.markov.recovery",
    "transfer_returns": "games.markov.recovery",
    "recovery_metrics": "games.markov.recovery",
}
__all__, __getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
