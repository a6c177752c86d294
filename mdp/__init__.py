"""theorysim.mdp: validated MDP models, exact solvers, torch-batched simulation, environments.

Public API (see the project's DESIGN): :class:`TabularMDP`, :class:`FiniteHorizonMDP`, :class:`LinearMDP`,
:func:`value_iteration`, :func:`policy_iteration`, :func:`policy_evaluation`, :func:`backward_induction`,
:func:`solve_occupancy_lp`; submodules ``batched``, ``generators``, ``envs``, ``grouping``.
"""
from mdp.model import (FiniteHorizonMDP, LinearMDP, ModelError, NegativeProbabilityError, NotFiniteError,
                       NotStochasticError, ParameterError, ShapeError, TabularMDP)
from mdp.occupancy import OccupancyResult, solve_occupancy_lp
from mdp.planning import (FiniteHorizonResult, PlanningResult, backward_induction, bellman_residual,
                          policy_evaluation, policy_iteration, policy_value, value_iteration)

__all__ = [
    "TabularMDP", "FiniteHorizonMDP", "LinearMDP", "ModelError", "ShapeError", "NotFiniteError",
    "NegativeProbabilityError", "NotStochasticError", "ParameterError", "value_iteration",
    "policy_iteration", "policy_evaluation", "policy_value", "bellman_residual", "backward_induction",
    "solve_occupancy_lp", "PlanningResult", "FiniteHorizonResult", "OccupancyResult",
]
