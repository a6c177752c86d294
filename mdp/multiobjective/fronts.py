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
* **Deterministic policies on deterministic transitions**: :func:`pareto_value_iteration`, set-valued
  value iteration :math:`\mathcal V_{k+1}(s) = \mathrm{ND}\big(\bigcup_a \{r(s,a) + \gamma v :
  v \in \mathcal V_k(s'(s,a))\}\big)` (White 1982) from :math:`\mathcal V_0 \equiv \{0\}`, and
  :func:`deterministic_epsilon_constraint`, the ε-constraint step restricted to deterministic stationary
  policies, read off that front with the policy recovered by tracing the sets.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from cvxpy.error import SolverError

from mdp.batched_planning import batched_policy_evaluation
from mdp.model import ModelError, TabularMDP
from mdp.multiobjective.metrics import FrontError, as_front, pareto_filter, pareto_mask
from mdp.occupancy import solve_occupancy_lp
from mdp.planning import policy_evaluation, policy_iteration
from theory.results import warn_not_converged
from theory.validation import ParameterError, check_scalar, to_numpy

__all__ = ["require_multiobjective", "evaluate_policies", "vector_value", "CCSResult", "convex_coverage_set",
           "stochastic_front_hypervolume", "EpsilonConstraintResult", "epsilon_constraint",
           "ParetoVIResult", "pareto_value_iteration", "scalarised_optimum",
           "deterministic_epsilon_constraint", "recover_deterministic_policy"]


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
class CCSResult:
    r"""Convex coverage set of a multi-objective MDP.

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
    residual: float
    error_bound: float
    converged: bool
    iterations: int
    oracle_calls: int


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
    return CCSResult(V[keep], Pi[keep], float(max(gap, 0.0)), float(max(gap, 0.0)), converged, it, calls)


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
class EpsilonConstraintResult:
    """One ε-constraint step: ``value`` ``[m]`` (exact, re-evaluated), ``policy`` ``[S, A]``,
    ``objective`` (the maximised index) and ``thresholds`` ``[m]`` (``-inf`` at ``objective``)."""

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
    d = to_numpy(thresholds, name="thresholds")
    if d.shape != (k,) or np.any(np.isnan(d)) or np.any(d == np.inf):
        raise FrontError(f"thresholds must be a [{k}] vector of numbers (-inf: unconstrained), got {d.tolist()}")
    others = [j for j in range(k) if j != l and np.isfinite(d[j])]
    aux = np.moveaxis(m.R[:, :, others], 2, 0) if others else None
    lp = solve_occupancy_lp(m, aux_rewards=aux, thresholds=d[others] if others else None,
                            weights=np.eye(k)[l], solver=solver)
    pi = lp.policy
    if lexicographic and k > 1:
        best = float(vector_value(m, pi)[l])
        w2 = np.ones(k)
        w2[l] = 0.0
        rows = [l] + others
        t2 = np.r_[best - 1e-9 * (1 + abs(best)), d[others]]
        try:
            pi = solve_occupancy_lp(m, aux_rewards=np.moveaxis(m.R[:, :, rows], 2, 0), thresholds=t2,
                                    weights=w2, solver=solver).policy
        except (ModelError, SolverError):
            pass                                  # numerically infeasible second stage: keep stage one
    d_out = d.copy()
    d_out[l] = -np.inf
    return EpsilonConstraintResult(vector_value(m, pi), pi, l, d_out)


@dataclass(frozen=True)
class ParetoVIResult:
    r"""Set-valued value iteration.

    Attributes:
        front: ``[k, m]`` Pareto front of deterministic policies from the start state (exact mode), or an
            additive :math:`\varepsilon`-Pareto set of it (``epsilon`` given, see
            :func:`pareto_value_iteration`).
        sets: per state, the ``[k_s, m]`` non-dominated value vectors.
        residual: Hausdorff distance (sup norm) between the backup of the returned sets and the sets.
        error_bound: exact mode: :math:`\gamma\,\mathrm{residual}/(1-\gamma)` (the set backup is a
            γ-contraction in the Hausdorff metric) for :math:`\gamma < 1`; for :math:`\gamma = 1` ``0.0`` when
            the sets are an exact fixed point, else ``None``. ε mode: the certified :math:`\varepsilon'
            \le \varepsilon` of the returned front (every deterministic policy's value is
            :math:`\varepsilon'`-dominated by a front point, every front point is within :math:`\varepsilon'`
            of a deterministic policy's value).
        converged: exact mode ``residual <= tol``; ε mode ``error_bound <= epsilon``. ``iterations``: backups.
        epsilon: the requested ``epsilon`` (``None``: exact mode).
    """

    front: np.ndarray
    sets: tuple
    residual: float
    error_bound: float | None
    converged: bool
    iterations: int
    epsilon: float | None = None


def _hausdorff(X: np.ndarray, Y: np.ndarray) -> float:
    if X.shape[0] == 0 and Y.shape[0] == 0:
        return 0.0
    if X.shape[0] == 0 or Y.shape[0] == 0:
        return np.inf
    if X.shape == Y.shape and np.array_equal(X, Y):
        return 0.0
    from scipy.spatial import cKDTree

    dx = cKDTree(Y).query(X, p=np.inf)[0].max()                 # sup-norm nearest neighbours, O(n log n)
    dy = cKDTree(X).query(Y, p=np.inf)[0].max()
    return float(max(dx, dy))


def _box_prune(X: np.ndarray, delta: float) -> np.ndarray:
    r"""One point per :math:`\delta`-box :math:`\lfloor x/\delta \rfloor` (the one with the largest sum),
    Pareto-filtered. Two points of one box differ by less than :math:`\delta` in every coordinate, so every
    dropped point :math:`x` has a kept :math:`y` with :math:`y + \delta \mathbf 1 \ge x` (the box's
    representative, or the kept point that dominates it)."""
    box = np.floor(X / delta)
    order = np.lexsort((-X.sum(1), *box.T[::-1]))                  # by box, then largest sum first
    B = box[order]
    first = np.ones(len(order), bool)
    first[1:] = np.any(B[1:] != B[:-1], axis=1)
    return pareto_filter(X[np.sort(order[first])])


def pareto_value_iteration(m: TabularMDP, gamma: float | None = None, tol: float = 1e-12,
                           max_iter: int = 10_000, epsilon: float | None = None,
                           max_points: int = 2_000) -> ParetoVIResult:
    r"""Pareto front of deterministic policies of a deterministic-transition MDP by set-valued VI.

    **Exact mode** (``epsilon=None``): :math:`\mathcal V_{k+1} = \mathrm{ND}(T\mathcal V_k)` from
    :math:`\mathcal V_0 \equiv \{0\}` until the Hausdorff residual is ``<= tol``. On acyclic (episodic)
    models the sets are finite and reached exactly. On a model with a reachable cycle whose laps give
    different reward vectors the exact front of non-stationary deterministic policies is *infinite* (each
    extra lap adds points, e.g. 4 states × 3 actions: ~4× more points every five backups); when a state's
    set exceeds ``max_points`` the function refuses with a ``ModelError`` that says so, instead of
    filtering ever larger sets.

    **ε mode** (``epsilon`` given, :math:`\gamma < 1`): the backup is followed by :math:`\delta`-box
    pruning (:func:`_box_prune`, :math:`\delta = \varepsilon(1-\gamma)/2`),
    :math:`\tilde{\mathcal V}_{k+1} = \mathrm{Prune}_\delta(T\tilde{\mathcal V}_k)`. By induction every point
    of :math:`T^k\{0\}(s)` is :math:`e_k`-dominated by a point of :math:`\tilde{\mathcal V}_k(s)` with
    :math:`e_k = \delta + \gamma e_{k-1} = \delta(1-\gamma^k)/(1-\gamma)` (the error accumulated over
    backups, at most :math:`\varepsilon/2`); each point of :math:`\tilde{\mathcal V}_k` is the ``k``-step
    return of a deterministic policy, within :math:`\gamma^k B` of its infinite-horizon value
    (:math:`B = \max|R|/(1-\gamma)`). The loop runs until :math:`e_k + \gamma^k B \le \varepsilon`
    (:math:`k = \lceil \log(\varepsilon/2B)/\log\gamma \rceil` backups) or until the pruned sets are an
    exact fixed point (then every point is itself attained and the bound is :math:`e_\infty \le
    \varepsilon/2`). The result is an additive ε-Pareto set: every deterministic (even non-stationary)
    policy's value :math:`G` has a front point :math:`f` with :math:`G \le f + \varepsilon\mathbf 1`, and
    every front point is within :math:`\varepsilon` (sup norm) of such a value. The sets hold at most one
    point per δ-box, so the runtime is bounded whatever the model.

    Args:
        m: multi-objective model whose every row ``P[s, a, :]`` is one-hot and whose ``mu`` is one-hot.
            Absorbing zero-reward states are terminal (value set ``{0}``).
        gamma: discount overriding ``m.gamma``; ``1.0`` is allowed for episodic models in exact mode (every
            reward stream ends in a terminal state or is dominated).
        tol: Hausdorff tolerance of the exact mode's stopping test.
        max_iter: budget of backups.
        epsilon: ``None`` (exact) or the certified additive accuracy ``> 0`` of an ε-Pareto front.
        max_points: exact mode's budget of points per state before the refusal.

    Returns:
        :class:`ParetoVIResult`; ``front`` is the set of the start state.

    Example:
        >>> from mdp.envs.deep_sea_treasure import deep_sea_treasure
        >>> len(pareto_value_iteration(deep_sea_treasure("concave", 0.99)).front)
        10
    """
    k = require_multiobjective(m, "pareto_value_iteration")
    g = m.gamma if gamma is None else check_scalar("gamma", gamma, low=0.0, high=1.0)
    tol = check_scalar("tol", tol, low=0.0)
    max_iter = check_scalar("max_iter", max_iter, low=1, integer=True)
    max_points = check_scalar("max_points", max_points, low=1, integer=True)
    if epsilon is not None:
        epsilon = check_scalar("epsilon", epsilon, low=0.0, low_open=True)
        if epsilon == np.inf:
            raise ParameterError("epsilon must be finite, got inf")
        if g >= 1.0:
            raise ParameterError(f"epsilon needs gamma < 1 (the certificate sums the pruning error over "
                                 f"backups, epsilon(1-gamma)/2 each), got gamma={g!r}")
    P = m.dense_P()
    if not np.all(np.isclose(P.max(-1), 1.0, atol=1e-12)):
        s, a = np.argwhere(~np.isclose(P.max(-1), 1.0, atol=1e-12))[0]
        raise ModelError(f"pareto_value_iteration needs deterministic transitions; P[{s}, {a}, :] is not one-hot")
    starts = np.flatnonzero(m.mu > 0)
    if starts.size != 1:
        raise ModelError(f"pareto_value_iteration needs one start state; mu has {starts.size} states with mass")
    nxt = P.argmax(-1)
    term = m.absorbing_states()
    zero = np.zeros((1, k))
    sets = [zero] * m.S
    if epsilon is not None:
        delta = epsilon * (1.0 - g) / 2.0
        B = float(np.abs(m.R).max()) / (1.0 - g)
        needed = 0 if B <= epsilon / 2 or g == 0.0 else int(np.ceil(np.log(epsilon / (2 * B)) / np.log(g)))
        prune = (lambda X: _box_prune(X, delta))
    else:
        prune = pareto_filter

    def backup(cur):
        new = []
        for s in range(m.S):
            if term[s]:
                new.append(zero)
                continue
            cand = np.concatenate([m.R[s, a] + g * cur[nxt[s, a]] for a in range(m.A)])
            new.append(prune(cand))
        return new

    res, it = np.inf, 0
    if epsilon is None:
        for it in range(max_iter + 1):
            new = backup(sets)
            big = max(range(m.S), key=lambda s: len(new[s]))
            if len(new[big]) > max_points:
                raise ModelError(
                    f"pareto_value_iteration: the exact front at state {big} has {len(new[big])} points after "
                    f"{it + 1} backups, more than max_points={max_points}; a cycle with different reward vectors "
                    f"makes the exact front of this model infinite. Pass epsilon=... (e.g. 1e-2) for a certified "
                    f"epsilon-approximate front, or raise max_points")
            res = max(_hausdorff(a, b) for a, b in zip(new, sets))
            if res <= tol or it == max_iter:
                break
            sets = new
        converged = bool(res <= tol)
        if not converged:
            warn_not_converged("pareto_value_iteration", residual=res, tol=tol, iterations=it)
        bound = (g * res / (1 - g) if g < 1 else (0.0 if res == 0 else None))
    else:
        bound = np.inf
        for it in range(1, max_iter + 1):
            new = backup(sets)
            res = max(_hausdorff(a, b) for a, b in zip(new, sets))
            sets = new
            acc = delta * (1.0 - g ** it) / (1.0 - g)
            if res == 0.0:                                  # an exact fixed point of the pruned backup
                bound = delta / (1.0 - g)
                break
            bound = acc + g ** it * B
            if it >= needed:
                break
        converged = bool(bound <= epsilon * (1 + 1e-12))
        if not converged:
            warn_not_converged("pareto_value_iteration", residual=bound, tol=epsilon, iterations=it)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        front = sets[int(starts[0])]
    return ParetoVIResult(front[np.lexsort(front.T[::-1])], tuple(sets), float(res), bound, converged, it, epsilon)


def recover_deterministic_policy(m: TabularMDP, pareto: ParetoVIResult, target,
                                 atol: float | None = None) -> np.ndarray:
    r"""A deterministic stationary policy whose value vector is ``target``, a point of ``pareto.front``.

    Traces the sets of :func:`pareto_value_iteration` from the start state :math:`s_0` with
    :math:`v_0 = ` ``target``: at state :math:`s_i` pick the first action :math:`a` and the vector
    :math:`v' \in \mathcal V(s'(s_i, a))` with :math:`r(s_i, a) + \gamma v' = v_i` (within ``atol``), fix
    :math:`\pi(s_i) = a` and continue from :math:`(s'(s_i, a), v')` until a terminal state or a state already
    fixed (then the stationary policy repeats that cycle). States off the traced path take action 0. The
    recovered policy is evaluated exactly (``mdp.policy_evaluation``); a value that differs from ``target``
    (the point needs a non-stationary policy, e.g. a cycle left after some laps) raises ``ModelError``.

    Args:
        m: the deterministic-transition model :func:`pareto_value_iteration` ran on.
        pareto: its result (``sets`` per state), run in exact mode with the model's own discount ``m.gamma``.
        target: ``[k]`` a point of ``pareto.front``.
        atol: matching tolerance (default :math:`10^{-8}(1 + \max|{\rm target}|)`).

    Returns:
        ``[S, A]`` one-hot policy.
    """
    k = require_multiobjective(m, "recover_deterministic_policy")
    if getattr(pareto, "epsilon", None) is not None:
        raise ParameterError(f"recover_deterministic_policy needs an exact pareto_value_iteration result; this one "
                             f"was run with epsilon={pareto.epsilon} (pruned sets hold truncated returns)")
    v = to_numpy(target, name="target").astype(float)
    if v.shape != (k,):
        raise FrontError(f"target must be a [{k}] vector, got shape {v.shape}")
    g = m.gamma
    tol = 1e-8 * (1.0 + float(np.abs(v).max())) if atol is None else float(atol)
    P = m.dense_P()
    nxt = P.argmax(-1)
    term = m.absorbing_states()
    s = int(np.flatnonzero(m.mu > 0)[0])
    pi = np.zeros((m.S, m.A))
    pi[:, 0] = 1.0
    fixed: set[int] = set()
    while not term[s] and s not in fixed:
        for a in range(m.A):
            succ = pareto.sets[nxt[s, a]]
            dist = np.abs(m.R[s, a] + g * succ - v).max(1)
            i = int(np.argmin(dist))
            if dist[i] <= tol:
                break
        else:
            raise ModelError(f"target {v.tolist()} is not in the Pareto set of state {s} (no action matches)")
        pi[s] = np.eye(m.A)[a]
        fixed.add(s)
        s, v = int(nxt[s, a]), succ[i]
    G = vector_value(m, pi)
    want = to_numpy(target, name="target")
    if np.abs(G - want).max() > 10 * tol:
        raise ModelError(f"the Pareto point {want.tolist()} is attained only by a non-stationary policy: the traced "
                         f"stationary policy has value {G.tolist()}")
    return pi


def deterministic_epsilon_constraint(m: TabularMDP, objective: int, thresholds,
                                     pareto: ParetoVIResult | None = None) -> EpsilonConstraintResult:
    r"""The ε-constraint step over deterministic stationary policies of a deterministic-transition MDP, exactly.

    .. math:: \max_{\pi\ \text{deterministic}} G^\pi_l \quad\text{s.t.}\quad G^\pi_j \ge d_j\ (j \ne l),

    ties broken by the largest :math:`\sum_{j \ne l} G_j` (so the answer is Pareto-optimal, not only weakly).
    Exact by the deterministic Pareto front :math:`F` of :func:`pareto_value_iteration`: the constrained
    maximum over all deterministic policies is attained on :math:`F` (a feasible policy dominated by
    :math:`q \in F` makes :math:`q` feasible and at least as good), so the step is the best feasible point
    of :math:`F`; its policy comes from :func:`recover_deterministic_policy`, which checks that a
    *stationary* policy attains it (raising ``ModelError`` otherwise). Unlike :func:`epsilon_constraint`
    (the occupancy LP, whose optimum may randomise), this reaches the non-supported points of a
    deterministic front, e.g. the eight concave-region treasures of deep-sea-treasure.

    Args:
        m: multi-objective model with one-hot transitions and one start state.
        objective: ``l``, the index maximised.
        thresholds: ``[k]`` thresholds ``d`` (entry ``l`` ignored; ``-inf``: unconstrained).
        pareto: a :func:`pareto_value_iteration` result of ``m`` to reuse (computed when ``None``).

    Returns:
        :class:`EpsilonConstraintResult` with a one-hot ``policy`` and its exact ``value``. Raises
        ``ModelError`` when no front point meets the thresholds.

    Example:
        >>> from mdp.envs.deep_sea_treasure import deep_sea_treasure
        >>> m = deep_sea_treasure("concave", 0.99)
        >>> deterministic_epsilon_constraint(m, 0, [-np.inf, -10.0]).value
        array([14.76391511, -8.64827525])
    """
    k = require_multiobjective(m, "deterministic_epsilon_constraint")
    l = check_scalar("objective", objective, low=0, high=k - 1, integer=True)
    d = to_numpy(thresholds, name="thresholds").astype(float)
    if d.shape != (k,) or np.any(np.isnan(d)) or np.any(d == np.inf):
        raise FrontError(f"thresholds must be a [{k}] vector of numbers (-inf: unconstrained), got {d.tolist()}")
    if pareto is None:
        pareto = pareto_value_iteration(m)
    F = pareto.front
    others = [j for j in range(k) if j != l]
    ok = np.all(F[:, others] >= d[others] - 1e-12 * (1 + np.abs(d[others])), axis=1)
    if not ok.any():
        raise ModelError(f"deterministic_epsilon_constraint: no deterministic policy meets thresholds {d.tolist()}")
    cand = F[ok]
    best = cand[:, l].max()
    tied = cand[cand[:, l] >= best - 1e-12 * (1 + abs(best))]
    target = tied[int(np.argmax(tied[:, others].sum(1)))]
    pi = recover_deterministic_policy(m, pareto, target)
    d_out = d.copy()
    d_out[l] = -np.inf
    return EpsilonConstraintResult(vector_value(m, pi), pi, l, d_out)
