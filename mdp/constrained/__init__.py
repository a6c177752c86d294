r"""Constrained MDPs: the exact LP reference, a Lagrangian primal–dual baseline and the two-stage
constrained actor-critic (TSCAC; Cai et al., WWW 2023).

Public API:
    :func:`lagrangian` (:mod:`mdp.constrained.primal_dual`), :func:`two_stage_actor_critic`,
    :func:`closed_form_policy`, :func:`stage_two`, :func:`stage_one_policies`
    (:mod:`mdp.constrained.two_stage`), the sample-based learners :func:`sampled_stage_one` and
    :func:`sampled_stage_two` (:mod:`mdp.constrained.sampled`), and helpers :func:`signal_values`,
    :func:`max_signal_values`, :func:`thresholds_between` (:mod:`mdp.constrained.core`). The exact optimum
    is the package's one occupancy LP, :func:`mdp.solve_occupancy_lp` ``(m, aux_rewards, thresholds)``.

Names are exported lazily (:mod:`theory.lazy`): ``mdp.constrained.lagrangian`` imports
:mod:`mdp.constrained.primal_dual` only when first read.
"""
from theory.lazy import lazy_exports

_EXPORTS = {
    "require_achievable": "mdp.constrained.core", "check_cmdp": "mdp.constrained.core",
    "constraint_ratios": "mdp.constrained.core", "is_feasible": "mdp.constrained.core",
    "max_signal_values": "mdp.constrained.core", "signal_values": "mdp.constrained.core",
    "thresholds_between": "mdp.constrained.core",
    "LagrangianResult": "mdp.constrained.primal_dual", "lagrangian": "mdp.constrained.primal_dual",
    "NoFeasibleLambdaWarning": "mdp.constrained.two_stage", "StageTwoResult": "mdp.constrained.two_stage",
    "TwoStageResult": "mdp.constrained.two_stage", "closed_form_policy": "mdp.constrained.two_stage",
    "soft_optimal_policy": "mdp.constrained.two_stage", "stage_one_policies": "mdp.constrained.two_stage",
    "stage_two": "mdp.constrained.two_stage", "two_stage_actor_critic": "mdp.constrained.two_stage",
    "DEFAULT_PRIOR_TEMPERATURE": "mdp.constrained.two_stage", "DEFAULT_PRIOR_SPREAD": "mdp.constrained.two_stage",
    "SampledResult": "mdp.constrained.sampled", "sampled_stage_one": "mdp.constrained.sampled",
    "sampled_stage_two": "mdp.constrained.sampled",
}
__all__, __getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
