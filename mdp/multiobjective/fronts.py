r"""Exact value vectors and exact Pareto fronts of multi-objective tabular MDPs.

A multi-objective MDP is a :class:`~mdp.model.TabularMDP` with rewards ``R[S, A, m]``; the value of a
policy is the vector :math:`G^\pi = \mu^\top V^\pi \in \mathbb R^m`,
:math:`V^\pi = (I - \gamma P_\pi)^{-1} r_\pi`.

Three exact fronts:

* **Stochastic policies** (the occupancy polytope). The achievable set
  :math:`\{G^\pi\}` is the linear image of the occupancy polytope, a convex polytope whose vertices are
  values of deterministic policies; its Pareto part is supported everywhere, so it is described by the
  **convex coverage set** (CCS) :math:`\{G^{\pi_w}: w \in \Delta_m\}` of scalarised optima.
  :func:`convex_coverage_set` computes the CCS by an *outer approximation* (Benson 1998; the primal twin
  of optimistic linear support, Roijers et al. 2015): with the vertices :math:`V` found so far, for every
  upper facet of :math:`\mathrm{conv}(V) - \mathbb R^m_+` with normal :math:`w \ge 0` and offset
  :math:`h_V(w) = \max_{v \in V} w^\top v`, solve the scalarised MDP exactly (policy iteration); add its
  value when :math:`\max_\pi w^\top G^\pi > h_V(w)`. When no facet improves, :math:`h_V = h_A` on the
  whole simplex (on each linearity region of :math:`h_V` the convex :math:`h_A` is below the
  interpolation of its corner values), so the CCS is exact and :func:`stochastic_front_hypervolume`
  gives the exact hypervolume of the stochastic-policy front: the volume of
  :math:`(\mathrm{conv}(V) - \mathbb R^m_+) \cap \{x \ge z\}`.
* **ε-constraint** (the package's one occupancy LP): :func:`epsilon_constraint` solves
  :math:`\max_\pi G^\pi_l` s.t. :math:`G^\pi_j \ge d_j\ (j \ne l)`, then (lexicographically)
  :math:`\max \sum_{j \ne l} G_j` at that optimum, so the answer is Pareto-optimal, not only weakly.
* **Deterministic policies on deterministic transitions** (:mod:`mdp.multiobjective.deterministic_fronts`):
  :func:`~mdp.multiobjective.deterministic_fronts.pareto_value_iteration`, set-valued value iteration
  :math:`\mathcal V_{k+1}(s) = \mathrm{ND}\big(\bigcup_a \{r(s,a) + \gamma v :
  v \in \mathcal V_k(s'(s,a))\}\big)` (White 1982) from :math:`\mathcal V_0 \equiv \{0\}`, and
  :func:`~mdp.multiobjective.deterministic_fronts.deterministic_epsilon_constraint`, the ε-constraint step
  restricted to deterministic stationary policies, read off that front with the policy recovered by tracing the sets.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from cvxpy.error import SolverError

from mdp.batched_planning import batched_policy_evaluation
from mdp.model import ModelError, TabularMDP
from mdp.multiobjective.metrics import FrontError, as_front, pareto_mask
from mdp.occupancy import solve_occupancy_lp
from mdp.planning import policy_evaluation, policy_iteration
from theory.results import SolverResult, warn_not_converged
from theory.validation import ParameterError, check_scalar, as_float_array

__all__ = ["require_multiobjective", "evaluate_policies", "vector_value", "CCSResult", "convex_coverage_set",
           "stochastic_front_hypervolume", "EpsilonConstraintResult", "epsilon_constraint", "scalarised_optimum"]


def require_multiobjective(m, who: str) -> int:
    """The number of objectives of ``m`` (a ``TabularMDP`` with ``R[S, A, k]``, ``k >= 2``), else an error."""
    if not isinstance(m, TabularMDP):
        raise TypeError(f"{who} needs a TabularMDP, got {type(m).__name__}")
    if m.R.ndim != 3 or m.R.shape[2] < 2:
        raise ModelError(f"{who} needs vector rewards R[S, A, m] with m >= 2, got R of shape {m.R.shape}")
    return int(m.R.shape[2])


def vector_value(m: TabularMDP, pi) -> np.ndarray:
    r"""Exact value vector :math:`G^\pi = \mu^\top V^\pi` ``[m]`` of one policy (``mdp.policy_evaluation``)."""
    require_multiobjective(m, "vector_value")
    return m.mu @ policy_evaluation(m, pi)


def evaluate_policies(m: TabularMDP, policies, device: str = "cpu"):
    r"""Exact value vectors of ``B`` policies in one batched tensor program.

    :math:`P_\pi[b] = \sum_a \pi_b(a|s) P(\cdot|s,a)`, :math:`r_\pi[b] = \sum_a \pi_b(a|s) R(s,a,\cdot)`,
    :math:`V[b] = (I - \gamma P_\pi[b])^{-1} r_\pi[b]` (one batched LU solve with ``m`` right-hand
    sides), :math:`G[b] = \mu^\top V[b]`.

    Args:
        m: multi-objective model (dense or sparse kernel; densified for the batched solve).
        policies: ``[B, S, A]`` numpy array or torch tensor (rows on the simplex).
        device: torch device of the computation.

    Returns:
        ``[B, m]`` torch tensor (float64) on ``device``.

    Example:
        >>> from mdp.multiobjective import random_momdp
        >>> m = random_momdp(5, 2, 2, seed=0)
        >>> G = evaluate_policies(m, np.full((8, m.S, m.A), 1 / m.A))
        >>> tuple(G.shape), bool(G.std(0).max() == 0)          # 8 copies of the uniform policy: one value
        ((8, 2), True)
    """
    import torch

    require_multiobjective(m, "evaluate_policies")
    pi = torch.as_tensor(policies, dtype=torch.float64, device=device)
    if pi.ndim != 3 or tuple(pi.shape[1:]) != (m.S, m.A):
        raise ParameterError(f"policies has shape {tuple(pi.shape)}, expected (B, {m.S}, {m.A})")
    if not bool(torch.all(pi >= 0)) or float((pi.sum(-1) - 1).abs().max()) > 1e-8:
        raise ParameterError("policies must hold distributions over actions (rows >= 0 summing to 1)")
    P = torch.as_tensor(m.dense_P().copy(), dtype=torch.float64, device=device)
    R = torch.as_tensor(m.R.copy(), dtype=torch.float64, device=device)
    mu = torch.as_tensor(m.mu.copy(), dtype=torch.float64, device=device)
    V = batched_policy_evaluation(P, R, m.gamma, pi)                                  # [B, S, k]
    return torch.einsum("s,bsk->bk", mu, V)


def scalarised_optimum(m: TabularMDP, weight) -> tuple[np.ndarray, np.ndarray]:
    """``(G, pi)``: an exactly optimal deterministic policy of ``R @ weight`` (policy iteration) and its
    value vector ``[m]``."""
    pi = policy_iteration(m.scalarized(weight)).policy
    return vector_value(m, pi), pi


@dataclass(frozen=True)
class CCSResult(SolverResult):
    r"""Convex coverage set of a multi-objective MDP (the base fields of :class:`theory.results.SolverResult`
    are keyword-only).

    Attributes:
        vertices: ``[k, m]`` value vectors of the CCS (deterministic policies), Pareto-filtered.
        policies: ``[k, S, A]`` one-hot policies attaining them.
        residual: :math:`\max_w [\max_\pi w^\top G^\pi - h_V(w)]` over the last checked facet weights
            (the utility a facet missed; 0 at the exact CCS).
        error_bound: the same number, a certified bound on the maximum utility loss over *all* weights.
        converged: ``error_bound <= tol``.
        iterations: outer-approximation rounds; ``oracle_calls``: scalarised MDPs solved.
    """

    vertices: np.ndarray
    policies: np.ndarray


def _lifted_points(V: np.ndarray, z0: np.ndarray) -> np.ndarray:
    """Every vertex with every subset of coordinates replaced by ``z0``: ``conv`` of these is
    :math:`(\\mathrm{conv}(V) - \\mathbb R^m_+) \\cap \\{x \\ge z_0\\}` when ``V > z0``."""
    k, mdim = V.shape
    masks = (np.arange(2 ** mdim)[:, None] >> np.arange(mdim)) & 1            # [2^m, m]
    pts = np.where(masks[None].astype(bool), V[:, None, :], z0)                 # [k, 2^m, m]
    return np.unique(pts.reshape(-1, mdim), axis=0)


def _upper_facets(V: np.ndarray) -> list[tuple[np.ndarray, float]]:
    """``(w, h)`` for each facet of ``conv(V) - R^m_+`` with normal ``w >= 0`` on the simplex."""
    from scipy.spatial import ConvexHull

    z0 = V.min(0) - 1.0 - np.abs(V).max()
    hull = ConvexHull(_lifted_points(V, z0))
    out = []
    for eq in hull.equations:
        n = eq[:-1]
        if np.all(n >= -1e-12) and n.sum() > 1e-12:
            w = np.clip(n, 0, None)
            w = w / w.sum()
            out.append((w, float(np.max(V @ w))))
    return out


def convex_coverage_set(m: TabularMDP, tol: float = 1e-9, max_iter: int = 200) -> CCSResult:
    r"""The exact convex coverage set by outer approximation (see the module docstring).

    Args:
        m: multi-objective model with ``R[S, A, k]``, ``2 <= k <= 6`` (the hull has ``|V| 2^k`` points).
        tol: facet improvement (in utility) below which the CCS is declared complete.
        max_iter: budget of rounds (each solves one scalarised MDP per new upper facet).

    Returns:
        :class:`CCSResult`.

    Example:
        >>> from mdp.envs.deep_sea_treasure import deep_sea_treasure
        >>> ccs = convex_coverage_set(deep_sea_treasure("convex", gamma=0.99))
        >>> ccs.vertices.shape
        (10, 2)
    """
    k = require_multiobjective(m, "convex_coverage_set")
    if k > 6:
        raise ParameterError(f"convex_coverage_set supports up to 6 objectives, the model has {k}")
    tol = check_scalar("tol", tol, low=0.0)
    max_iter = check_scalar("max_iter", max_iter, low=1, integer=True)
    verts, pols, calls = [], [], 0
    for j in range(k):
        G, pi = scalarised_optimum(m, np.eye(k)[j])
        verts.append(G)
        pols.append(pi)
        calls += 1
    checked: dict[tuple, float] = {}
    gap = np.inf
    it = 0
    for it in range(1, max_iter + 1):
        V = np.array(verts)
        gap, added = 0.0, False
        for w, h in _upper_facets(V):
            key = tuple(np.round(w, 12))
            if key in checked:
                best = checked[key]
            else:
                G, pi = scalarised_optimum(m, w)
                calls += 1
                best = float(w @ G)
                checked[key] = best
                if best > h + tol and not any(np.allclose(G, v, rtol=0, atol=1e-12) for v in verts):
                    verts.append(G)
                    pols.append(pi)
                    added = True
            gap = max(gap, best - h)
        if not added:
            break
    V, Pi = np.array(verts), np.array(pols)
    keep = _keep_pareto(V)
    converged = bool(gap <= tol)
    if not converged:
        warn_not_converged("convex_coverage_set", residual=gap, tol=tol, iterations=it)
    return CCSResult(V[keep], Pi[keep], residual=float(max(gap, 0.0)), error_bound=float(max(gap, 0.0)),
                     converged=converged, iterations=it, oracle_calls=calls)


def _keep_pareto(V: np.ndarray) -> np.ndarray:
    return pareto_mask(V)


def stochastic_front_hypervolume(vertices, ref) -> float:
    r"""Hypervolume of :math:`(\mathrm{conv}(V) - \mathbb R^m_+) \cap \{x \ge z\}`: the exact hypervolume
    of the front of stochastic policies whose CCS is ``vertices`` ``[k, m]`` (reference ``ref`` ``[m]``).

    Computed as the volume of a polytope: qhull gives the facets of the lifted hull, the box
    :math:`x \ge z` is added as half-spaces, and the intersection's volume is the hypervolume.
    """
    from scipy.optimize import linprog
    from scipy.spatial import ConvexHull, HalfspaceIntersection

    V = as_front("vertices", vertices)
    mdim = V.shape[1]
    z = as_front("ref", ref, mdim)[0]
    if not np.any(np.all(V > z, axis=1)):
        return 0.0
    z0 = np.minimum(V.min(0), z) - 1.0 - np.abs(V).max()
    hull = ConvexHull(_lifted_points(V, z0))
    box = np.hstack([-np.eye(mdim), z[:, None]])                     # -x + z <= 0
    H = np.vstack([hull.equations, box])
    A, b = H[:, :-1], H[:, -1]
    norms = np.linalg.norm(A, axis=1)
    res = linprog(np.r_[np.zeros(mdim), -1.0], A_ub=np.hstack([A, norms[:, None]]), b_ub=-b,
                  bounds=[(None, None)] * mdim + [(0, None)], method="highs")
    if res.status != 0 or res.x[-1] <= 1e-12:
        return 0.0
    inter = HalfspaceIntersection(H, res.x[:-1])
    return float(ConvexHull(inter.intersections).volume)


@dataclass(frozen=True)
class EpsilonConstraintResult(SolverResult):
    r"""One ε-constraint step: ``value`` ``[m]`` (exact, re-evaluated), ``policy`` ``[S, A]``,
    ``objective`` (the maximised index) and ``thresholds`` ``[m]`` (``-inf`` at ``objective``).

    The base fields (:class:`theory.results.SolverResult`, keyword-only) depend on the solver.
    :func:`epsilon_constraint` (occupancy LP): ``residual`` the flow-constraint violation of the LP whose
    policy is returned (:attr:`mdp.occupancy.OccupancyResult.residual`), ``error_bound`` ``None`` (the
    lexicographic second stage certifies no distance to the ε-constraint optimum), ``converged`` whether
    that LP was solved to ``"optimal"``, ``iterations`` the LP solver's iterations summed over the LPs,
    ``oracle_calls`` the LPs attempted (1 or 2).
    :func:`~mdp.multiobjective.deterministic_fronts.deterministic_epsilon_constraint`: ``residual``
    :math:`\|G^\pi - p\|_\infty` between the exact value of the recovered policy and the front point ``p`` it
    was recovered for, ``error_bound`` and ``converged`` ``None`` (a read-off, nothing tested),
    ``iterations`` the set-valued backups behind the front used.
    """

    value: np.ndarray
    policy: np.ndarray
    objective: int
    thresholds: np.ndarray


def epsilon_constraint(m: TabularMDP, objective: int, thresholds, lexicographic: bool = True,
                       solver: str = "HIGHS") -> EpsilonConstraintResult:
    r"""Solve :math:`\max_\pi G^\pi_l` s.t. :math:`G^\pi_j \ge d_j\ (j \ne l)` exactly (occupancy LP).

    Args:
        m: multi-objective model.
        objective: ``l``, the index maximised.
        thresholds: ``[m]`` thresholds ``d`` (entry ``l`` ignored; ``-inf`` entries are unconstrained).
        lexicographic: then maximise :math:`\sum_{j\ne l} G_j` subject to :math:`G_l \ge G_l^* - 10^{-9}
            (1 + |G_l^*|)` and the constraints, so the result is not weakly dominated.
        solver: the cvxpy solver of :func:`mdp.solve_occupancy_lp`.

    Returns:
        :class:`EpsilonConstraintResult`. Raises ``ModelError`` when the constraints are infeasible.
    """
    k = require_multiobjective(m, "epsilon_constraint")
    l = check_scalar("objective", objective, low=0, high=k - 1, integer=True)
    d = as_float_array(thresholds, name="thresholds")
    if d.shape != (k,) or np.any(np.isnan(d)) or np.any(d == np.inf):
        raise FrontError(f"thresholds must be a [{k}] vector of numbers (-inf: unconstrained), got {d.tolist()}")
    others = [j for j in range(k) if j != l and np.isfinite(d[j])]
    aux = np.moveaxis(m.R[:, :, others], 2, 0) if others else None
    lp = solve_occupancy_lp(m, aux_rewards=aux, thresholds=d[others] if others else None,
                            weights=np.eye(k)[l], solver=solver)
    pi = lp.policy
    its, calls = lp.iterations, 1
    if lexicographic and k > 1:
        best = float(vector_value(m, pi)[l])
        w2 = np.ones(k)
        w2[l] = 0.0
        rows = [l] + others
        t2 = np.r_[best - 1e-9 * (1 + abs(best)), d[others]]
        calls += 1
        try:
            lp2 = solve_occupancy_lp(m, aux_rewards=np.moveaxis(m.R[:, :, rows], 2, 0), thresholds=t2,
                                     weights=w2, solver=solver)
            lp, pi, its = lp2, lp2.policy, its + lp2.iterations
        except (ModelError, SolverError):
            pass                                  # numerically infeasible second stage: keep stage one
    d_out = d.copy()
    d_out[l] = -np.inf
    return EpsilonConstraintResult(vector_value(m, pi), pi, l, d_out, residual=lp.residual, error_bound=None,
                                   converged=lp.converged, iterations=its, oracle_calls=calls)
