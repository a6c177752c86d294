r"""Robust MDPs: uncertainty sets with exact worst-case oracles, robust dynamic programming, and IWOCS.

A robust MDP replaces the kernel by a set :math:`\mathcal T`; for an :math:`(s,a)`-rectangular set
:math:`\mathcal T = \times_{s,a}\mathcal P_{s,a}` the robust Bellman operator is

.. math:: (\mathcal T_{\text{rob}} V)(s) = \max_a \Big[ r(s,a) + \gamma \min_{p \in \mathcal P_{s,a}} p^\top V \Big]
          \qquad\text{(Iyengar 2005, Nilim \& El Ghaoui 2005)}.

Modules (every public name is re-exported here):

* :mod:`mdp.robust.sets` — uncertainty sets and the rectangularity contract (``"sa"``, ``"s"``, ``None``);
* :mod:`mdp.robust.oracles` — the worst-case oracles (torch L1 / L-inf / KL with batch axes, numpy W1);
* :mod:`mdp.robust.sparse_oracles` — the same oracles on sparse CSR nominal kernels (sets built from a SciPy
  sparse ``(S*A, S)`` matrix use them and return CSR kernels; no ``[S, A, S]`` array);
* :mod:`mdp.robust.dp` — robust VI and policy evaluation, adversary policy iteration, static worst cases;
* :mod:`mdp.robust.batched` — batched robust VI (torch, CPU or CUDA);
* :mod:`mdp.robust.iwocs` — IWOCS (Zouitine, Geist & Rachelson 2024) and its s-rectangular variant;
* :mod:`mdp.robust.srect` — s-rectangular L1 sets and their solvers.

Every solver returns a frozen result following :mod:`theory.results` (``residual`` of the returned
iterate, ``error_bound``, ``converged``, ``iterations``, ``oracle_calls``, ``history`` on request).

Example:
    >>> from mdp.generators import garnet
    >>> from mdp.robust import L1Ball, iwocs, robust_value_iteration
    >>> m = garnet(6, 2, 6, 0.9, seed=0)
    >>> U = L1Ball(m.P, 0.5)
    >>> v = robust_value_iteration(m, U, tol=1e-9).value
    >>> r = iwocs(m, U, eps=1e-7)
    >>> r.lower - 1e-7 <= v <= r.upper + 1e-7
    True
"""
from __future__ import annotations

from mdp.robust.batched import BatchedRobustResult, batched_robust_value_iteration
from mdp.robust.dp import (RobustResult, StaticWorstCase, adversary_policy_iteration, check_robust_model,
                           robust_policy_evaluation, robust_value_iteration, static_policy_values,
                           static_worst_case)
from mdp.robust.iwocs import IwocsResult, iwocs, iwocs_srect, maxmin_policy, worst_case_search
from mdp.robust.oracles import ORACLES, kl_worst_case, l1_worst_case, linf_worst_case, wasserstein_worst_case
from mdp.robust.sets import (FiniteModelSet, KLBall, L1Ball, LinfBall, ModelHull, ParametricSet,
                             RectangularityError, UncertaintySet, WassersteinBall, check_kernel, check_radius,
                             require_rectangularity)
from mdp.robust.srect import (SRectL1Ball, SRectResult, s_rectangular_policy_evaluation,
                              s_rectangular_value_iteration, srect_worst_kernel)

__all__ = [
    "RectangularityError", "require_rectangularity", "UncertaintySet", "L1Ball", "LinfBall", "KLBall",
    "WassersteinBall", "FiniteModelSet", "ModelHull", "ParametricSet", "check_kernel", "check_radius",
    "l1_worst_case", "linf_worst_case", "kl_worst_case", "wasserstein_worst_case", "ORACLES",
    "RobustResult", "StaticWorstCase", "robust_value_iteration", "robust_policy_evaluation",
    "adversary_policy_iteration", "static_worst_case", "static_policy_values", "check_robust_model",
    "BatchedRobustResult", "batched_robust_value_iteration",
    "IwocsResult", "iwocs", "iwocs_srect", "worst_case_search", "maxmin_policy",
    "SRectL1Ball", "SRectResult", "s_rectangular_value_iteration", "s_rectangular_policy_evaluation",
    "srect_worst_kernel",
]
