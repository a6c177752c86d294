r"""Multi-objective MDPs: Pareto metrics, exact fronts, and C-MORL Pareto-front search.

A multi-objective MDP is a :class:`~mdp.model.TabularMDP` with vector rewards ``R[S, A, m]``.

* :mod:`mdp.multiobjective.metrics`: hypervolume, expected utility, sparsity, cardinality, IGD, maximum
  utility loss, Pareto filter, crowding distance (maximisation, morl-baselines' definitions).
* :mod:`mdp.multiobjective.fronts`: exact value vectors (batched), the convex coverage set and the exact
  stochastic-policy front, ε-constraint LP steps.
* :mod:`mdp.multiobjective.deterministic_fronts`: set-valued value iteration for deterministic fronts.
* :mod:`mdp.multiobjective.cmorl_solver`: C-MORL (Liu et al., ICLR 2025) and its linear-scalarisation baseline;
  :mod:`mdp.multiobjective.cmorl_barrier`: its barrier (interior-point) solver and archive.
* :mod:`mdp.multiobjective.models`: random multi-objective MDPs.

Names are exported lazily (:mod:`theory.lazy`): importing :mod:`mdp.multiobjective.models` (a model module)
loads neither the solvers nor C-MORL, and ``mdp.multiobjective.cmorl`` imports C-MORL when first read.
"""
from theory.lazy import lazy_exports

_EXPORTS = {
    "FrontError": "mdp.multiobjective.metrics", "hypervolume": "mdp.multiobjective.metrics",
    "hypervolume_2d": "mdp.multiobjective.metrics", "expected_utility": "mdp.multiobjective.metrics",
    "energy_weights": "mdp.multiobjective.metrics", "simplex_grid": "mdp.multiobjective.metrics",
    "sparsity": "mdp.multiobjective.metrics", "cardinality": "mdp.multiobjective.metrics",
    "igd": "mdp.multiobjective.metrics", "maximum_utility_loss": "mdp.multiobjective.metrics",
    "pareto_filter": "mdp.multiobjective.metrics", "pareto_mask": "mdp.multiobjective.metrics",
    "dominates": "mdp.multiobjective.metrics", "crowding_distance": "mdp.multiobjective.metrics",
    "check_weights": "mdp.multiobjective.metrics",
    "evaluate_policies": "mdp.multiobjective.fronts", "vector_value": "mdp.multiobjective.fronts",
    "scalarised_optimum": "mdp.multiobjective.fronts", "convex_coverage_set": "mdp.multiobjective.fronts",
    "CCSResult": "mdp.multiobjective.fronts", "stochastic_front_hypervolume": "mdp.multiobjective.fronts",
    "epsilon_constraint": "mdp.multiobjective.fronts", "EpsilonConstraintResult": "mdp.multiobjective.fronts",
    "pareto_value_iteration": "mdp.multiobjective.deterministic_fronts",
    "deterministic_epsilon_constraint": "mdp.multiobjective.deterministic_fronts",
    "recover_deterministic_policy": "mdp.multiobjective.deterministic_fronts",
    "ParetoVIResult": "mdp.multiobjective.deterministic_fronts",
    "cmorl": "mdp.multiobjective.cmorl_solver", "CMORLResult": "mdp.multiobjective.cmorl_solver",
    "linear_scalarisation": "mdp.multiobjective.cmorl_solver", "thresholds": "mdp.multiobjective.cmorl_solver",
    "weight_set": "mdp.multiobjective.cmorl_solver",
    "random_momdp": "mdp.multiobjective.models",
}
__all__, __getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
