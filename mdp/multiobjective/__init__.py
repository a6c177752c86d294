r"""Multi-objective MDPs: Pareto metrics, exact fronts, and C-MORL Pareto-front search.

A multi-objective MDP is a :class:`~mdp.model.TabularMDP` with vector rewards ``R[S, A, m]``.

* :mod:`mdp.multiobjective.metrics`: hypervolume, expected utility, sparsity, cardinality, IGD, maximum
  utility loss, Pareto filter, crowding distance (maximisation, morl-baselines' definitions).
* :mod:`mdp.multiobjective.fronts`: exact value vectors (batched), the convex coverage set and the exact
  stochastic-policy front, ε-constraint LP steps.
* :mod:`mdp.multiobjective.deterministic_fronts`: set-valued value iteration for deterministic fronts.
* :mod:`mdp.multiobjective.cmorl`: C-MORL (Liu et al., ICLR 2025) and its linear-scalarisation baseline;
  :mod:`mdp.multiobjective.cmorl_barrier`: its barrier (interior-point) solver and archive.
"""
from mdp.multiobjective.fronts import (CCSResult, EpsilonConstraintResult, convex_coverage_set, epsilon_constraint,
                                       evaluate_policies, scalarised_optimum, stochastic_front_hypervolume,
                                       vector_value)
from mdp.multiobjective.deterministic_fronts import (ParetoVIResult, deterministic_epsilon_constraint,
                                                     pareto_value_iteration, recover_deterministic_policy)
from mdp.multiobjective.cmorl import CMORLResult, cmorl, linear_scalarisation, thresholds, weight_set
from mdp.multiobjective.models import random_momdp
from mdp.multiobjective.metrics import (FrontError, cardinality, check_weights, crowding_distance, dominates,
                                        energy_weights, expected_utility, hypervolume, hypervolume_2d, igd,
                                        maximum_utility_loss, pareto_filter, pareto_mask, simplex_grid, sparsity)

__all__ = ["FrontError", "hypervolume", "hypervolume_2d", "expected_utility", "energy_weights", "simplex_grid",
           "sparsity", "cardinality", "igd", "maximum_utility_loss", "pareto_filter", "pareto_mask", "dominates",
           "crowding_distance", "check_weights", "evaluate_policies", "vector_value", "scalarised_optimum",
           "convex_coverage_set", "CCSResult", "stochastic_front_hypervolume", "epsilon_constraint",
           "EpsilonConstraintResult", "pareto_value_iteration",
           "deterministic_epsilon_constraint", "recover_deterministic_policy", "ParetoVIResult", "cmorl", "CMORLResult",
           "linear_scalarisation", "thresholds", "weight_set", "random_momdp"]
