r"""Robust MDPs: uncertainty sets with exact worst-case oracles, robust dynamic programming, and IWOCS.

A robust MDP replaces the kernel by a set :math:`\mathcal T`; for an :math:`(s,a)`-rectangular set
:math:`\mathcal T = \times_{s,a}\mathcal P_{s,a}` the robust Bellman operator is

.. math:: (\mathcal T_{\text{rob}} V)(s) = \max_a \Big[ r(s,a) + \gamma \min_{p \in \mathcal P_{s,a}} p^\top V \Big]
          \qquad\text{(Iyengar 2005, Nilim \& El Ghaoui 2005)}.

Modules (every public name is re-exported here, lazily: :mod:`theory.lazy`):

* :mod:`mdp.robust.sets` — uncertainty sets and the rectangularity contract (``"sa"``, ``"s"``, ``None``);
* :mod:`mdp.robust.oracles` — the worst-case oracles (torch L1 / L-inf / KL with batch axes, numpy W1);
* :mod:`mdp.robust.sparse_oracles` — the same oracles on sparse CSR nominal kernels (sets built from a SciPy
  sparse ``(S*A, S)`` matrix use them and return CSR kernels; no ``[S, A, S]`` array);
* :mod:`mdp.robust.dp` — robust VI and policy evaluation, adversary policy iteration, static worst cases;
* :mod:`mdp.robust.batched` — batched robust VI (torch, CPU or CUDA);
* :mod:`mdp.robust.iwocs_solver` — IWOCS (Zouitine, Geist & Rachelson 2024) and its s-rectangular variant;
* :mod:`mdp.robust.srect` — s-rectangular L1 sets and their solvers;
* :mod:`mdp.robust.instances` — uncertainty sets of published instances (``windy_walk_set``; not re-exported).

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
from theory.lazy import lazy_exports

_EXPORTS = {
    "RectangularityError": "mdp.robust.sets", "require_rectangularity": "mdp.robust.sets",
    "UncertaintySet": "mdp.robust.sets", "L1Ball": "mdp.robust.sets", "LinfBall": "mdp.robust.sets",
    "KLBall": "mdp.robust.sets", "WassersteinBall": "mdp.robust.sets", "FiniteModelSet": "mdp.robust.sets",
    "ModelHull": "mdp.robust.sets", "ParametricSet": "mdp.robust.sets", "check_kernel": "mdp.robust.sets",
    "check_radius": "mdp.robust.sets",
    "l1_worst_case": "mdp.robust.oracles", "linf_worst_case": "mdp.robust.oracles",
    "kl_worst_case": "mdp.robust.oracles", "wasserstein_worst_case": "mdp.robust.oracles",
    "ORACLES": "mdp.robust.oracles",
    "RobustResult": "mdp.robust.dp", "StaticWorstCase": "mdp.robust.dp", "robust_value_iteration": "mdp.robust.dp",
    "robust_policy_evaluation": "mdp.robust.dp", "adversary_policy_iteration": "mdp.robust.dp",
    "static_worst_case": "mdp.robust.dp", "static_policy_values": "mdp.robust.dp",
    "check_robust_model": "mdp.robust.dp",
    "BatchedRobustResult": "mdp.robust.batched", "batched_robust_value_iteration": "mdp.robust.batched",
    "IwocsResult": "mdp.robust.iwocs_solver", "iwocs": "mdp.robust.iwocs_solver",
    "iwocs_srect": "mdp.robust.iwocs_solver", "worst_case_search": "mdp.robust.iwocs_solver",
    "maxmin_policy": "mdp.robust.iwocs_solver",
    "SRectL1Ball": "mdp.robust.srect", "SRectResult": "mdp.robust.srect",
    "s_rectangular_value_iteration": "mdp.robust.srect", "s_rectangular_policy_evaluation": "mdp.robust.srect",
    "srect_worst_kernel": "mdp.robust.srect",
}
__all__, __getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
