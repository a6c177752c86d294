r"""Exact Pareto fronts of deterministic policies on deterministic transitions.

:func:`pareto_value_iteration` is set-valued value iteration :math:`\mathcal V_{k+1}(s) = \mathrm{ND}\big(\bigcup_a
\{r(s,a) + \gamma v : v \in \mathcal V_k(s'(s,a))\}\big)` (White 1982) from :math:`\mathcal V_0 \equiv \{0\}`;
:func:`deterministic_epsilon_constraint` is the ε-constraint step restricted to deterministic stationary
policies, read off that front with the policy recovered by tracing the sets
(:func:`recover_deterministic_policy`). The stochastic-policy fronts are in :mod:`mdp.multiobjective.fronts`.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from mdp.model import ModelError, TabularMDP
from mdp.multiobjective.fronts import EpsilonConstraintResult, require_multiobjective, vector_value
from mdp.multiobjective.metrics import FrontError, pareto_filter
from theory.results import SolverResult, warn_not_converged
from theory.validation import ParameterError, check_scalar, as_float_array

__all__ = ["ParetoVIResult", "pareto_value_iteration", "recover_deterministic_policy",
           "deterministic_epsilon_constraint"]


@dataclass(frozen=True)
class ParetoVIResult(SolverResult):
    r"""Set-valued value iteration (the base fields of :class:`theory.results.SolverResult` are keyword-only).

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
    return ParetoVIResult(front[np.lexsort(front.T[::-1])], tuple(sets), epsilon, residual=float(res),
                          error_bound=bound, converged=converged, iterations=it)


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
    v = as_float_array(target, name="target").astype(float)
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
    want = as_float_array(target, name="target")
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
    d = as_float_array(thresholds, name="thresholds").astype(float)
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
    G = vector_value(m, pi)
    return EpsilonConstraintResult(G, pi, l, d_out, residual=float(np.max(np.abs(G - target))), error_bound=None,
                                   converged=None, iterations=pareto.iterations)
