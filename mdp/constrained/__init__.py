r"""Constrained MDPs: the exact LP reference, a Lagrangian primal–dual baseline and the two-stage
constrained actor-critic (TSCAC; Cai et al., WWW 2023).

Public API:
    :func:`lagrangian` (:mod:`mdp.constrained.lagrangian`), :func:`two_stage_actor_critic`,
    :func:`closed_form_policy`, :func:`stage_two`, :func:`stage_one_policies`
    (:mod:`mdp.constrained.two_stage`), the sample-based learners :func:`sampled_stage_one` and
    :func:`sampled_stage_two` (:mod:`mdp.constrained.sampled`), and helpers :func:`signal_values`,
    :func:`max_signal_values`, :func:`thresholds_between` (:mod:`mdp.constrained.core`). The exact optimum
    is the package's one occupancy LP, :func:`mdp.solve_occupancy_lp` ``(m, aux_rewards, thresholds)``.
"""
from mdp.constrained.core import (check_cmdp, constraint_ratios, is_feasible, max_signal_values,
                                  require_achievable, signal_values, thresholds_between)
from mdp.constrained.lagrangian import LagrangianResult, lagrangian
from mdp.constrained.sampled import SampledResult, sampled_stage_one, sampled_stage_two
from mdp.constrained.two_stage import (DEFAULT_PRIOR_SPREAD, DEFAULT_PRIOR_TEMPERATURE,
                                       NoFeasibleLambdaWarning, StageTwoResult, TwoStageResult, closed_form_policy,
                                       soft_optimal_policy, stage_one_policies, stage_two, two_stage_actor_critic)

__all__ = ["require_achievable", "check_cmdp", "constraint_ratios", "is_feasible", "max_signal_values", "signal_values",
           "thresholds_between", "LagrangianResult", "lagrangian", "NoFeasibleLambdaWarning", "StageTwoResult",
           "TwoStageResult", "closed_form_policy", "soft_optimal_policy", "stage_one_policies", "stage_two",
           "two_stage_actor_critic", "DEFAULT_PRIOR_TEMPERATURE", "DEFAULT_PRIOR_SPREAD",
           "SampledResult", "sampled_stage_one", "sampled_stage_two"]
