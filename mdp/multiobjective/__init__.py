r"""Multi-objective MDPs: Pareto metrics, exact fronts, and C-MORL Pareto-front search.

A multi-objective MDP is a :class:`~mdp.model.TabularMDP` with vector rewards ``R[S, A, m]``.

* :mod:`mdp.multiobjective.metrics`: hypervolume, expected utility, sparsity, cardinality, IGD, maximum
  utility loss, Pareto filter, crowding distance (maximisation, morl-baselines' definitions).
* :mod:`mdp.multiobjective.fronts`: exact value vectors (batched), the convex coverage set and the exact
  stochastic-policy front, ε-constraint LP steps, set-valued value iteration for deterministic fronts.
* :mod:`mdp.multiobjective.cmorl`: C-MORL (Liu et al., ICLR 2025) and its linear-scalarisation baseline.
"""
from mdp.multiobjective.fronts import (CCSResult, EpsilonConstraintResult, ParetoVIResult, convex_coverage_set,
                                       deterministic_epsilon_constraint, epsilon_constraint,
                                       recover_deterministic_policy, evaluate_policies, pareto_value_iteration,
                                       scalarised_optimum, stochastic_front_hypervolume, vector_value)
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
