"""theorysim.mdp: validated MDP models, exact solvers, torch-batched simulation, environments.

Public API (see the project's DESIGN): :class:`TabularMDP`, :class:`FiniteHorizonMDP`, :class:`LinearMDP`,
:func:`value_iteration`, :func:`policy_iteration`, :func:`policy_evaluation`, :func:`backward_induction`,
:func:`solve_occupancy_lp`; submodules ``batched``, ``generators``, ``envs``, ``grouping``.

Exports are lazy (PEP 562, :mod:`theory.lazy`): ``import mdp`` imports no submodule, and ``mdp.value_iteration``
imports :mod:`mdp.planning` when first read.
"""
from theory.lazy import lazy_exports

_EXPORTS = {
    "TabularMDP": "mdp.model", "FiniteHorizonMDP": "mdp.model", "LinearMDP": "mdp.model",
    "ModelError": "mdp.model", "ShapeError": "mdp.model", "NotFiniteError": "mdp.model",
    "NegativeProbabilityError": "mdp.model", "NotStochasticError": "mdp.model", "ParameterError": "mdp.model",
    "value_iteration": "mdp.planning", "policy_iteration": "mdp.planning", "policy_evaluation": "mdp.planning",
    "policy_value": "mdp.planning", "bellman_residual": "mdp.planning", "backward_induction": "mdp.planning",
    "PlanningResult": "mdp.planning", "FiniteHorizonResult": "mdp.planning",
    "solve_occupancy_lp": "mdp.occupancy", "OccupancyResult": "mdp.occupancy",
}
_SUBMODULES = {"batched": "mdp.batched", "generators": "mdp.generators", "envs": "mdp.envs",
               "grouping": "mdp.grouping"}
__all__, __getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, _SUBMODULES)
