r"""s-rectangular L1 uncertainty sets: exact robust backups and IWOCS with deterministic or randomised policies.

The s-rectangular L1 set (Wiesemann, Kuhn & Rustem 2013; Ho, Petrik & Wiesemann 2018) shares one budget
:math:`\kappa` among the actions of a state,

.. math:: \mathcal P_s = \Big\{(p_a)_{a}:\ p_a\in\Delta_S,\ \sum_a \|p_a - q_{s,a}\|_1 \le \kappa\Big\},

so the adversary can react to the agent's *randomisation* and optimal robust policies may be stochastic.
Write :math:`f_{s,a}(k) = \min\{p^\top V : p\in\Delta, \|p-q_{s,a}\|_1\le k\}` (the (s,a)-rectangular L1
oracle, :func:`mdp.robust.oracles.l1_worst_case`): it is convex, piecewise linear and non-increasing in
:math:`k` — moving :math:`k/2` of mass from the highest-value states onto the lowest lowers the value by
:math:`(v_{(i)} - v_{\min})/2` per unit of budget on the :math:`i`-th highest state.

* **Policy backup** (fixed :math:`\pi`): :math:`\min_{k\ge0,\sum_a k_a\le\kappa}\sum_a\pi_a(r_{s,a} +
  \gamma f_{s,a}(k_a))` is a separable convex allocation; the greedy fill of all actions' linear pieces in
  decreasing order of :math:`\pi_a (v_{(i)}-v_{\min})/2` is exact.
* **Optimal backup**: by the minimax theorem :math:`\max_{\pi_s}\min_{p\in\mathcal P_s} =
  \min_{k}\max_a [r_{s,a}+\gamma f_{s,a}(k_a)]`; bisection on the level :math:`t` with the minimal budgets
  :math:`k_a(t)` from the closed-form inverse of :math:`f_{s,a}` (exact to rounding). The optimal
  randomised policy comes from the dual of the epigraph LP
  :math:`\min t\ \text{s.t.}\ t\ge \alpha_{a,i}+\beta_{a,i}k_a,\ \sum_a k_a\le\kappa` (one small HiGHS LP
  per state, used once at the end, and as an independent check of the bisection value).

IWOCS (:func:`mdp.robust.iwocs_srect`) plays either the greedy deterministic policy of :math:`\min_j Q^*_{T_j}`, as
in the paper, or, as a fix, the per-state max-min over action distributions
:math:`\max_{\pi_s}\min_j \pi_s^\top Q^*_{T_j}(s,\cdot)` (a small LP per state).

Example:
    >>> from mdp.generators import garnet
    >>> from mdp.robust import SRectL1Ball, s_rectangular_value_iteration
    >>> m = garnet(4, 2, 4, 0.9, seed=0)
    >>> r = s_rectangular_value_iteration(m, SRectL1Ball(m.P, 0.3), tol=1e-8)
    >>> bool(r.converged), r.policy.shape
    (True, (4, 2))
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from scipy.optimize import linprog

from mdp.model import TabularMDP, validate_policy
from mdp.operators import policy_average, q_values
from mdp.robust.dp import StaticWorstCase, adversary_policy_iteration, check_robust_model
from mdp.robust.oracles import l1_worst_case
from mdp.robust.sets import (RectangularityError, UncertaintySet, check_kernel, check_radius,
                             require_rectangularity)
from theory.fixed_point import certified_fixed_point
from theory.results import SolverResult

__all__ = ["SRectL1Ball", "SRectResult", "s_rectangular_value_iteration", "s_rectangular_policy_evaluation",
           "srect_worst_kernel"]


class SRectL1Ball(UncertaintySet):
    """s-rectangular L1 set around ``P[S, A, S]`` with a per-state budget ``radius`` shared by the actions."""

    rectangularity = "s"  # state-rectangular: static/dynamic equivalence holds (Wiesemann et al. 2013)

    def __init__(self, P, radius: float):
        self.P = check_kernel(P)
        self.radius = check_radius("radius", radius)

    def worst_case(self, V):
        raise RectangularityError("an s-rectangular set has no per-(s, a) worst case (the budget is shared by the "
                                  "actions); use policy_backup / optimal_backup or s_rectangular_value_iteration")

    # --- the pieces of f_{s,a} -----------------------------------------------------------------------
    def _pieces(self, V):
        """Sorted pieces: ``mass[S, A, n]`` (probability movable from the i-th highest state, the minimiser
        excluded) and ``drop[n]`` (value lost per unit of mass moved, v_(i) - v_min), n = S - 1."""
        V = np.asarray(V, dtype=float)
        j_min = int(np.argmin(V))
        order = [j for j in np.argsort(-V, kind="stable") if j != j_min]
        return self.P[:, :, order], V[order] - V[j_min]

    def _kernels(self, V, k):
        """Worst kernels of every (s, a) for per-pair budgets ``k[S, A]`` (the L1 oracle, one row each)."""
        S, A, _ = self.P.shape
        q = torch.from_numpy(self.P.reshape(S * A, 1, S).copy())
        v = torch.as_tensor(np.asarray(V, dtype=float)).expand(S * A, S)
        vals, p = l1_worst_case(q, v, torch.from_numpy(np.asarray(k, dtype=float).reshape(S * A)))
        return vals.numpy().reshape(S, A), p.numpy().reshape(S, A, S)

    def policy_backup(self, V, R, gamma, pi):
        r"""``(V_new[S], kernel[S, A, S])``: :math:`\min_{p\in\mathcal P_s}\sum_a\pi_a(R+\gamma p_a^\top V)` per state
        by the greedy allocation of the budget over all actions' pieces."""
        mass, drop = self._pieces(V)
        S, A, n = mass.shape
        rate = np.asarray(pi, dtype=float)[:, :, None] * drop[None, None, :]  # value saved per unit of mass
        length = 2.0 * mass  # budget needed to move that mass (L1 counts it twice)
        flat_rate = rate.reshape(S, A * n)
        order = np.argsort(-flat_rate, axis=1, kind="stable")
        L = np.take_along_axis(length.reshape(S, A * n), order, 1)
        before = np.cumsum(L, 1) - L
        alloc_sorted = np.clip(self.radius - before, 0.0, L)
        alloc = np.zeros_like(alloc_sorted)
        np.put_along_axis(alloc, order, alloc_sorted, 1)
        k = alloc.reshape(S, A, n).sum(-1)
        _, p = self._kernels(V, k)
        return policy_average(q_values(p.reshape(S * A, -1), R, gamma, np.asarray(V, dtype=float)), pi), p

    def optimal_backup(self, V, R, gamma, iterations: int = 100):
        r"""``V_new[S]``: :math:`\min_k\max_a [R_{s,a}+\gamma f_{s,a}(k_a)]` by bisection on the level, with the
        minimal budgets :math:`k_a(t)` from the closed-form inverse of :math:`f_{s,a}`."""
        mass, drop = self._pieces(V)
        S, A, n = mass.shape
        V = np.asarray(V, dtype=float)
        base = self.P @ V  # f(0) = q . V
        D = np.cumsum(mass * drop, -1)  # value reduction after the first i pieces
        C = np.cumsum(mass, -1)  # mass moved after the first i pieces
        g0 = q_values(self.P.reshape(S * A, S), R, gamma, V)  # no budget: the nominal backup
        g_inf = g0 - gamma * D[..., -1]  # all movable mass moved
        lo = g_inf.max(1)
        hi = g0.max(1)

        def budget(t):  # [S] -> minimal total budget to bring every action to <= t
            need = (base - (t[:, None] - R) / gamma)  # reduction needed [S, A]
            Dz = np.concatenate([np.zeros((S, A, 1)), D], -1)
            Cz = np.concatenate([np.zeros((S, A, 1)), C], -1)
            i = np.clip((Dz < need[..., None] - 1e-15).sum(-1), 1, n)  # first piece index reaching 'need' (1-based)
            d_prev = np.take_along_axis(Dz, (i - 1)[..., None], -1)[..., 0]
            c_prev = np.take_along_axis(Cz, (i - 1)[..., None], -1)[..., 0]
            rate = drop[i - 1]
            with np.errstate(divide="ignore", invalid="ignore"):
                k = 2.0 * (c_prev + np.where(rate > 0, (need - d_prev) / rate, 0.0))
            k = np.where(need <= 0, 0.0, k)
            k = np.where(need > D[..., -1] + 1e-12, np.inf, k)
            return k.sum(1)

        for _ in range(iterations):
            mid = (lo + hi) / 2
            ok = budget(mid) <= self.radius
            hi = np.where(ok, mid, hi)
            lo = np.where(ok, lo, mid)
        return hi

    def optimal_policy(self, V, R, gamma):
        r"""``(value[S], pi[S, A])`` from the epigraph LP per state (HiGHS); ``pi`` are the duals of the
        piece constraints summed per action — an optimal randomised policy of the s-rectangular max-min."""
        mass, drop = self._pieces(V)
        S, A, n = mass.shape
        g0 = q_values(self.P.reshape(S * A, S), R, gamma, np.asarray(V, dtype=float))  # nominal backup
        vals = np.zeros(S)
        pis = np.zeros((S, A))
        for s in range(S):
            # variables [t, k_0..k_{A-1}]; pieces of g_a(k) = R + gamma (base - reduction(k)):
            # reduction(k) = min over pieces is concave; g_a(k) = max_i (alpha_i + beta_i k)
            A_ub, b_ub, owner = [], [], []
            for a in range(A):
                Cz = np.r_[0.0, np.cumsum(mass[s, a])]
                Dz = np.r_[0.0, np.cumsum(mass[s, a] * drop)]
                for i in range(n):
                    if mass[s, a, i] <= 0:
                        continue
                    slope = -gamma * drop[i] / 2.0  # per unit of budget k
                    icpt = g0[s, a] - gamma * Dz[i] - slope * 2.0 * Cz[i]
                    row = np.zeros(A + 1)
                    row[0] = -1.0
                    row[1 + a] = slope
                    A_ub.append(row)
                    b_ub.append(-icpt)
                    owner.append(a)
                # floor after all movable mass is moved: g_a >= R + gamma (base - D_total)
                row = np.zeros(A + 1)
                row[0] = -1.0
                A_ub.append(row)
                b_ub.append(-(g0[s, a] - gamma * Dz[-1]))
                owner.append(a)
            budget_row = np.r_[0.0, np.ones(A)]
            res = linprog(np.r_[1.0, np.zeros(A)], A_ub=np.vstack(A_ub + [budget_row]),
                          b_ub=np.r_[b_ub, self.radius], bounds=[(None, None)] + [(0, None)] * A, method="highs")
            if res.status != 0:
                raise RuntimeError(f"s-rectangular LP at state {s} failed: {res.message}")
            vals[s] = res.fun
            duals = -res.ineqlin.marginals[:-1]
            pis[s] = np.bincount(owner, weights=duals, minlength=A)
            pis[s] = np.clip(pis[s], 0.0, None)
            pis[s] /= pis[s].sum()
        return vals, pis


@dataclass(frozen=True)
class SRectResult(SolverResult):
    r"""Result of the s-rectangular solvers.

    Attributes:
        V: ``[S]`` returned iterate; policy: ``[S, A]`` (the LP's randomised max-min for VI, the evaluated
            policy for PE); value: ``mu @ V``.
        iterations: backups in the loop; oracle_calls: s-rectangular backups evaluated (``iterations + 1``).
        residual: :math:`\|\mathcal T V - V\|_\infty` of the returned ``V`` (the s-rectangular optimal or
            policy operator); error_bound: certified :math:`\|V - V^\star\|_\infty`; converged: ``error_bound <= tol``.
        history: ``[iterations]`` step sizes when asked for.
    """

    V: np.ndarray
    policy: np.ndarray
    value: float


def _srect_set(m, uset, who):
    check_robust_model(m, uset, who)
    require_rectangularity(uset, ("s",), who, "use robust_value_iteration / robust_policy_evaluation")


def s_rectangular_value_iteration(m: TabularMDP, uset: SRectL1Ball, tol: float = 1e-8, max_iter: int = 100_000,
                                  history: bool = False) -> SRectResult:
    r"""Robust VI with the s-rectangular optimal backup :meth:`SRectL1Ball.optimal_backup`, certified to ``tol``.

    Args:
        m: nominal model; uset: an s-rectangular set; tol: certified accuracy; max_iter: budget;
        history: record the step sizes.

    Returns:
        :class:`SRectResult` whose policy is the epigraph LP's randomised max-min at the returned ``V``.
    """
    who = "s_rectangular_value_iteration"
    _srect_set(m, uset, who)
    r = certified_fixed_point(lambda V: uset.optimal_backup(V, m.R, m.gamma), np.zeros(m.S), m.gamma, tol, max_iter,
                              who, history=history)
    _, pi = uset.optimal_policy(r.V, m.R, m.gamma)
    return SRectResult(r.V, pi, float(m.mu @ r.V), iterations=r.iterations, residual=r.residual,
                       converged=r.converged, error_bound=r.error_bound, oracle_calls=r.iterations + 1,
                       history=r.history)


def s_rectangular_policy_evaluation(m: TabularMDP, uset: SRectL1Ball, pi, tol: float = 1e-8,
                                    max_iter: int = 100_000, history: bool = False) -> SRectResult:
    r"""Robust value of a (possibly stochastic) policy under the s-rectangular adversary
    (:meth:`SRectL1Ball.policy_backup`, a :math:`\gamma`-contraction), certified to ``tol``."""
    who = "s_rectangular_policy_evaluation"
    _srect_set(m, uset, who)
    pi = validate_policy(pi, m.S, m.A)
    r = certified_fixed_point(lambda V: uset.policy_backup(V, m.R, m.gamma, pi)[0], np.zeros(m.S), m.gamma, tol,
                              max_iter, who, history=history)
    return SRectResult(r.V, pi, float(m.mu @ r.V), iterations=r.iterations, residual=r.residual,
                       converged=r.converged, error_bound=r.error_bound, oracle_calls=r.iterations + 1,
                       history=r.history)


def srect_worst_kernel(m: TabularMDP, uset: SRectL1Ball, pi, tol: float = 1e-10, history: bool = False,
                       warn: bool = True) -> StaticWorstCase:
    r"""The worst static kernel against ``pi``: :func:`mdp.robust.adversary_policy_iteration` with the
    s-rectangular :meth:`SRectL1Ball.policy_backup` (``value``, certified ``lower``, ``kernel``, ...)."""
    _srect_set(m, uset, "srect_worst_kernel")
    return adversary_policy_iteration(m, uset, pi, tol=tol, history=history, warn=warn)
