r"""Robust MDPs: uncertainty sets with exact worst-case oracles, robust VI, and IWOCS.

A robust MDP replaces the kernel by a set :math:`\mathcal T`. For an :math:`(s,a)`-rectangular set
:math:`\mathcal T = \times_{s,a}\mathcal P_{s,a}` the robust Bellman operator is

.. math:: (\mathcal T_{\text{rob}} V)(s) = \max_a \Big[ r(s,a) + \gamma \min_{p \in \mathcal P_{s,a}} p^\top V \Big]
          \qquad\text{(Iyengar 2005, Nilim \& El Ghaoui 2005)},

the nominal operator of :mod:`mdp.operators` with the expectation replaced by the set's worst-case
oracle ``uset.worst_case(V) -> (values[S, A], kernel[S, A, S])``. Oracles (vectorised over all
``(s, a)``; each tested against cvxpy):

* :class:`L1Ball` :math:`\|p - q\|_1 \le \kappa`: move :math:`\kappa/2` of mass from the highest-value
  states to the lowest (one sort of ``V`` serves every row);
* :class:`LinfBall` :math:`\|p-q\|_\infty \le \kappa`: fill the box greedily in increasing ``V``;
* :class:`KLBall` :math:`\mathrm{KL}(p\|q) \le \rho`: the one-dimensional dual
  :math:`\max_{\beta>0} -\beta\log\sum_j q_j e^{-v_j/\beta} - \beta\rho`, :math:`p^* \propto q e^{-v/\beta^*}`,
  whose stationarity condition :math:`\mathrm{KL}(p_\beta\|q)=\rho` is solved by bisection;
* :class:`WassersteinBall` :math:`W_1(p, q) \le \delta` for a ground metric ``d``: the LP dual
  :math:`\max_{\lambda\ge0} -\lambda\delta + \sum_j q_j\min_k(v_k + \lambda d_{jk})`;
* :class:`FiniteModelSet` / :class:`ParametricSet`: a finite (or parametrised) family of whole kernels,
  *static* and possibly coupled across states; its rectangular hull is what robust VI sees.

IWOCS (Zouitine, Geist & Rachelson 2024) solves the robust problem as a sequence of static ones:
:math:`Q_i = \min_{j\le i} Q^*_{T_j}`, :math:`\pi_i = \mathrm{greedy}(Q_i)`,
:math:`T_{i+1} = \arg\min_{T\in\mathcal T} V^{\pi_i}_T(\mu)`, stopping when
:math:`U_i - L_i \le \varepsilon` with :math:`L_i = V^{\pi_i}_{T_{i+1}}(\mu)` and
:math:`U_i = \mu^\top\max_a Q_i(\cdot,a)`. For rectangular sets with an exact search,
:math:`L_i \le V^*_{\mathcal T}(\mu) \le U_i` (static/dynamic equivalence and no duality gap), so the
bracket is a certificate.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

import numpy as np
import torch

from mdp.model import ModelError, ShapeError, TabularMDP, as_numpy, validate_policy
from mdp.operators import q_values
from mdp.planning import policy_evaluation, policy_iteration

__all__ = ["UncertaintySet", "L1Ball", "LinfBall", "KLBall", "WassersteinBall", "FiniteModelSet", "ModelHull", "ParametricSet",
           "RobustResult", "IwocsResult", "robust_value_iteration", "robust_policy_evaluation",
           "static_worst_case", "adversary_policy_iteration", "StaticWorstCase", "iwocs", "l1_worst_case",
           "linf_worst_case", "kl_worst_case", "ORACLES", "BatchedRobustResult", "batched_robust_value_iteration"]


def _check_kernel(P):
    m = TabularMDP(P, np.zeros(P.shape[:2]), 0.5)  # reuse the model's validation (rows, signs, finiteness)
    return m.dense_P()


def _check_radius(name, r):
    if not (isinstance(r, (int, float, np.floating)) and math.isfinite(r)) or r < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {r!r}")
    return float(r)


class UncertaintySet:
    """Base class. ``rectangular`` sets define ``worst_case(V)``; static sets define ``models``."""

    rectangular = True

    def worst_case(self, V):  # pragma: no cover - abstract
        raise NotImplementedError

    def nominal(self) -> np.ndarray:
        return self.P

    def policy_backup(self, V, R, gamma, pi):
        r"""``(F V, T)``: nature's best response to ``pi`` at ``V``,
        :math:`(FV)(s) = \sum_a \pi(a|s)[R(s,a) + \gamma\min_{p\in\mathcal P_{s,a}} p^\top V]`, and the kernel attaining it."""
        w, T = self.worst_case(V)
        return ((R + gamma * w) * pi).sum(1), T


class _Ball(UncertaintySet):
    """An (s,a)-rectangular ball of ``radius`` around the nominal kernel ``P[S, A, S]``."""

    def __init__(self, P, radius: float):
        self.P = _check_kernel(as_numpy(P))
        self.radius = _check_radius("radius", radius)


# ----------------------------------------------------------------------------------------------
# Worst-case oracles: torch, leading batch axes, one implementation for the numpy classes and the
# batched solvers. q[..., N, S] (rows = flattened (s, a) pairs), v[..., S], radius broadcastable to [...].
# ----------------------------------------------------------------------------------------------
def _radius_like(radius, v):
    r = torch.as_tensor(radius, dtype=v.dtype, device=v.device)
    return r.expand(v.shape[:-1]) if r.ndim == 0 else r


def l1_worst_case(q, v, radius):
    r"""Worst case over :math:`\{p\in\Delta: \|p-q\|_1\le\kappa\}`: move :math:`\min(\kappa/2, 1-q_{j^*})` of mass
    onto the lowest-value state :math:`j^* = \arg\min v`, taken from the highest-value states first (one
    sort of ``v`` serves every row). Returns ``(p @ v [..., N], p [..., N, S])``."""
    r = _radius_like(radius, v)
    i_min = v.argmin(-1)  # [...]
    idx_min = i_min[..., None, None].expand(*q.shape[:-1], 1)
    delta = torch.minimum(r[..., None] / 2, 1.0 - q.gather(-1, idx_min)[..., 0])  # [..., N]
    order = torch.argsort(-v, dim=-1, stable=True)  # highest value first
    order_q = order[..., None, :].expand_as(q)
    qs = q.gather(-1, order_q).masked_fill((order == i_min[..., None])[..., None, :], 0.0)
    before = torch.cumsum(qs, -1) - qs
    take = torch.minimum((delta[..., None] - before).clamp_min(0.0), qs)
    p = q.clone().scatter_add_(-1, order_q, -take).scatter_add_(-1, idx_min, delta[..., None]).clamp_min_(0.0)
    return (p @ v[..., :, None])[..., 0], p


def linf_worst_case(q, v, radius):
    r"""Worst case over :math:`\{p\in\Delta: \|p-q\|_\infty\le\kappa\}`: start from the lower box corner and fill
    the remaining mass greedily in increasing ``v``."""
    r = _radius_like(radius, v)[..., None, None]
    lo = (q - r).clamp_min(0.0)
    hi = (q + r).clamp_max(1.0)
    mass = 1.0 - lo.sum(-1)
    order_q = torch.argsort(v, dim=-1, stable=True)[..., None, :].expand_as(q)
    cap = (hi - lo).gather(-1, order_q)
    before = torch.cumsum(cap, -1) - cap
    add = torch.minimum((mass[..., None] - before).clamp_min(0.0), cap)
    p = lo.scatter_add(-1, order_q, add)
    return (p @ v[..., :, None])[..., 0], p


def kl_worst_case(q, v, radius, iterations: int = 64):
    r"""Worst case over :math:`\{p: \mathrm{KL}(p\|q)\le\rho\}` via the dual :math:`\max_{\beta>0}
    -\beta\log\sum_j q_j e^{-v_j/\beta}-\beta\rho`; its stationarity condition
    :math:`\mathrm{KL}(p_\beta\|q)=\rho`, :math:`p_\beta\propto q e^{-v/\beta}`, is monotone in
    :math:`\beta` and solved by bisection on :math:`\log\beta` (the initial bracket is under 75 nats wide, so
    64 halvings reach the spacing of doubles), so the
    primal kernel meets the budget and ``p @ v`` equals the dual value. If all the mass on the minimisers
    of ``v`` already fits (:math:`-\log q(\arg\min v)\le\rho`), that corner is the answer."""
    rho = _radius_like(radius, v)[..., None]  # [..., 1]
    support = q > 0
    vb = v[..., None, :].expand_as(q)
    inf = torch.tensor(math.inf, dtype=q.dtype, device=q.device)
    vmin = torch.where(support, vb, inf).amin(-1)  # [..., N]
    at_min = support & (vb <= vmin[..., None] + 1e-12)
    q_min = torch.where(at_min, q, torch.zeros_like(q)).sum(-1)
    corner = -torch.log(q_min) <= rho
    spread = (v.amax(-1) - v.amin(-1)).clamp_min(1e-12)[..., None].expand_as(q_min)
    lo = torch.log(1e-12 * spread)
    hi = torch.log(1e8 * spread / rho.clamp_min(1e-12))
    dv = torch.where(support, vb - vmin[..., None], torch.zeros_like(q))
    logq = torch.log(torch.where(support, q, torch.ones_like(q)))
    neg = torch.tensor(-math.inf, dtype=q.dtype, device=q.device)

    def tilt(beta):
        z = torch.where(support, logq - dv / beta[..., None], neg)
        zmax = z.amax(-1, keepdim=True)
        w = torch.exp(z - zmax)
        Z = w.sum(-1, keepdim=True)
        p = w / Z
        kl = (p * torch.where(support, z - zmax - torch.log(Z) - logq, torch.zeros_like(q))).sum(-1)
        return p, kl

    for _ in range(iterations):
        mid = (lo + hi) / 2
        inside = tilt(torch.exp(mid))[1] <= rho  # beta large enough: inside the ball
        hi = torch.where(inside, mid, hi)
        lo = torch.where(inside, lo, mid)
    p, _ = tilt(torch.exp(hi))
    p_corner = torch.where(at_min, q, torch.zeros_like(q)) / q_min.clamp_min(1e-300)[..., None]
    p = torch.where(corner[..., None], p_corner, p)
    p = torch.where(rho[..., None] <= 0, q, p)  # radius 0: the nominal row (bisection would only jitter)
    return (p @ v[..., :, None])[..., 0], p


def _numpy_oracle(fn, P, V, radius, **kw):
    S, A, _ = P.shape
    q = torch.from_numpy(np.array(P.reshape(S * A, S), dtype=np.float64))
    vals, p = fn(q, torch.as_tensor(np.asarray(V, dtype=np.float64)), float(radius), **kw)
    return vals.numpy().reshape(S, A), p.numpy().reshape(S, A, S)


class L1Ball(_Ball):
    """(s,a)-rectangular L1 ball ``{p in simplex: ||p - P[s, a]||_1 <= radius}`` (oracle :func:`l1_worst_case`)."""

    kind = "l1"

    def worst_case(self, V):
        return _numpy_oracle(l1_worst_case, self.P, V, self.radius)


class LinfBall(_Ball):
    """(s,a)-rectangular box ``{p in simplex: |p - P[s, a]|_inf <= radius}`` (oracle :func:`linf_worst_case`)."""

    kind = "linf"

    def worst_case(self, V):
        return _numpy_oracle(linf_worst_case, self.P, V, self.radius)


class KLBall(_Ball):
    """(s,a)-rectangular KL ball ``{p: KL(p || P[s, a]) <= radius}`` (support within that of ``P[s, a]``;
    oracle :func:`kl_worst_case`)."""

    kind = "kl"

    def __init__(self, P, radius: float, iterations: int = 64):
        super().__init__(P, radius)
        self.iterations = iterations

    def worst_case(self, V):
        if self.radius == 0.0:
            p = self.P.copy()
            return p @ np.asarray(V, dtype=np.float64), p
        return _numpy_oracle(kl_worst_case, self.P, V, self.radius, iterations=self.iterations)


class WassersteinBall(_Ball):
    """(s,a)-rectangular Wasserstein-1 ball ``{p: W_1(p, P[s, a]) <= radius}`` under ground metric ``metric[S, S]``.

    Exact oracle through the LP dual :math:`g(\\lambda) = -\\lambda\\delta + \\sum_j q_j\\phi_j(\\lambda)`,
    :math:`\\phi_j(\\lambda) = \\min_k (v_k + \\lambda d_{jk})`. Each :math:`\\phi_j` is the lower envelope of
    :math:`S` lines and does not depend on the row :math:`q`: we walk all envelopes at once (one
    ``[S, S]`` step per envelope piece), merge their breakpoints :math:`\\Lambda`, and record on every
    segment of :math:`\\Lambda` the transport map :math:`j \\mapsto k_j(\\lambda)` and its cost
    :math:`c(\\lambda) = \\sum_j q_j d_{j k_j(\\lambda)}` (non-increasing, :math:`= -g'(\\lambda) + \\ldots`).
    Per row, a bisection over the segments finds the first one with :math:`c \\le \\delta`; the optimal
    kernel mixes the maps on both sides of that breakpoint :math:`\\lambda^*` so the budget is met
    exactly (complementary slackness), and is the exact LP optimum up to rounding.
    """

    def __init__(self, P, radius: float, metric=None):
        super().__init__(P, radius)
        S = self.P.shape[0]
        d = np.abs(np.arange(S)[:, None] - np.arange(S)[None, :]).astype(float) if metric is None else as_numpy(metric)
        if d.shape != (S, S) or np.any(d < 0) or np.any(np.diag(d) != 0) or not np.isfinite(d).all():
            raise ValueError(f"metric must be a finite non-negative [{S}, {S}] matrix with zero diagonal")
        self.metric = np.asarray(d, dtype=np.float64)

    def _envelopes(self, v):
        """Breakpoints ``B[j, :]`` (inf-padded) and argmins ``K[j, :]`` of every :math:`\\phi_j` on ``[0, inf)``."""
        d = self.metric
        S = v.size
        rows = np.arange(S)
        # lambda -> 0+: the minimisers of v, the closest one to j (then the lowest index)
        key = np.where(v[None, :] <= v.min(), d, np.inf)
        k = np.argmin(key, axis=1)
        lam = np.zeros(S)
        Bs, Ks = [], [k.copy()]
        active = np.ones(S, dtype=bool)
        for _ in range(S):
            dk = d[rows, k]
            steeper = d < dk[:, None]  # only lines with a smaller slope can take over
            with np.errstate(divide="ignore", invalid="ignore"):
                cross = np.where(steeper, (v[None, :] - v[k][:, None]) / (dk[:, None] - d), np.inf)
            cross = np.maximum(cross, lam[:, None])
            nxt = cross.min(1)
            active &= np.isfinite(nxt)
            if not active.any():
                break
            # ties: jump to the flattest of the lines crossing at the same lambda
            tie = np.where(cross <= nxt[:, None], d, np.inf)
            k = np.where(active, np.argmin(tie, axis=1), k)
            lam = np.where(active, nxt, lam)
            Bs.append(np.where(active, nxt, np.inf))
            Ks.append(k.copy())
        B = np.stack(Bs, 1) if Bs else np.full((S, 0), np.inf)
        return B, np.stack(Ks, 1)

    def worst_case(self, V):
        S, A, _ = self.P.shape
        q = self.P.reshape(S * A, S)
        v = np.asarray(V, dtype=np.float64)
        d, delta = self.metric, self.radius
        B, K = self._envelopes(v)
        lams = np.unique(B[np.isfinite(B)])
        starts = np.r_[0.0, lams]  # segment l is [starts[l], starts[l+1])
        # map on each segment: the argmin after all of j's breakpoints <= the segment's start
        idx = np.stack([np.searchsorted(B[j][np.isfinite(B[j])], starts, side="right") for j in range(S)], 1)
        maps = K[np.arange(S)[None, :], idx]  # [M, S]
        costs_map = d[np.arange(S)[None, :], maps]  # [M, S]
        M = starts.size
        N = q.shape[0]
        # first segment with cost <= delta (cost is non-increasing in the segment index)
        lo = np.full(N, -1)
        hi = np.full(N, M - 1)  # the last segment has cost 0 (k_j = j once lambda is large)
        while np.any(hi - lo > 1):
            mid = (lo + hi) // 2
            mid_c = np.maximum(mid, 0)
            ok = (q * costs_map[mid_c]).sum(1) <= delta + 1e-15
            upd = hi - lo > 1
            hi = np.where(upd & ok, mid, hi)
            lo = np.where(upd & ~ok, mid, lo)
        seg = hi
        rows = np.arange(N)[:, None]
        P_hi = np.zeros((N, S))
        np.add.at(P_hi, (np.repeat(rows, S, 1), maps[seg]), q)
        c_hi = (q * costs_map[seg]).sum(1)
        prev = np.maximum(seg - 1, 0)
        P_lo = np.zeros((N, S))
        np.add.at(P_lo, (np.repeat(rows, S, 1), maps[prev]), q)
        c_lo = (q * costs_map[prev]).sum(1)
        theta = np.where((seg > 0) & (c_lo - c_hi > 1e-15),
                         np.clip((delta - c_hi) / np.maximum(c_lo - c_hi, 1e-300), 0.0, 1.0), 0.0)
        p = (theta[:, None] * P_lo + (1 - theta[:, None]) * P_hi).reshape(S, A, S)
        return p @ v, p


class FiniteModelSet(UncertaintySet):
    """A finite set of whole kernels ``models[k, S, A, S]`` (static: one kernel for the whole episode).

    Robust VI on it uses the (s,a)-rectangular hull (per-row minimum over models), which is more
    pessimistic than the static set unless the set is itself rectangular.
    """

    rectangular = False

    def __init__(self, models):
        models = [as_numpy(getattr(mm, "P", mm)) for mm in models] if not isinstance(models, np.ndarray) \
            else list(as_numpy(models))
        if len(models) == 0:
            raise ValueError("the model set is empty")
        shape = models[0].shape
        for k, mm in enumerate(models):
            if mm.shape != shape:
                raise ShapeError(f"models[{k}] has shape {mm.shape}, models[0] has {shape}")
        self.models = np.stack([_check_kernel(mm) for mm in models])
        self.P = self.models[0]

    def worst_case(self, V):
        vals = self.models @ np.asarray(V, dtype=np.float64)  # [K, S, A]
        k = vals.argmin(0)
        p = np.take_along_axis(self.models, k[None, :, :, None], 0)[0]
        return vals.min(0), p

    def __len__(self):
        return self.models.shape[0]


class ModelHull(FiniteModelSet):
    """The (s,a)-rectangular hull of a finite model set: every row ``(s, a)`` may follow any of the models
    independently. Its oracle is the per-row minimum over the ``G`` models (cost :math:`O(G S^2 A)` per call,
    so it grows with the number of models); it is the set robust VI solves when given a
    :class:`FiniteModelSet`, and, being rectangular, it admits IWOCS's certified exact search."""

    rectangular = True


class ParametricSet(FiniteModelSet):
    """Kernels ``fn(theta)`` for ``theta`` in ``grid`` (static and coupled across states, e.g. a wind
    strength shared by all cells). ``bounds`` (``[d, 2]``) enables continuous CMA-ES search in IWOCS."""

    def __init__(self, fn, grid, bounds=None):
        grid = [np.atleast_1d(np.asarray(t, dtype=float)) for t in grid]
        if not grid:
            raise ValueError("the parameter grid is empty")
        super().__init__([fn(t if t.size > 1 else float(t[0])) for t in grid])
        self.fn = fn
        self.grid = np.stack(grid)
        self.bounds = None if bounds is None else np.asarray(bounds, dtype=float).reshape(-1, 2)


# ----------------------------------------------------------------------------------------------
# Robust dynamic programming
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RobustResult:
    """``V[S]``, ``Q[S, A]``, greedy ``policy[S, A]``, ``value = mu @ V``, the minimising ``kernel``,
    ``iterations`` (robust backups), ``residual``, ``converged``."""

    V: np.ndarray
    Q: np.ndarray
    policy: np.ndarray
    value: float
    kernel: np.ndarray
    iterations: int
    residual: float
    converged: bool


def _check_model(m):
    if not isinstance(m, TabularMDP):
        raise TypeError(f"robust solvers need a TabularMDP, got {type(m).__name__}")
    if m.n_objectives != 1:
        raise ModelError("robust solvers need scalar rewards")


def certified_fixed_point(step, V0, gamma: float, tol: float, max_iter: int, who: str):
    r"""Iterate a :math:`\gamma`-contraction ``V <- step(V)`` until :math:`\gamma\|V_{k+1}-V_k\|_\infty/(1-\gamma)\le`
    ``tol``, which certifies :math:`\|V_{k+1}-V^\star\|_\infty\le` ``tol``; warns (naming ``who``) if ``max_iter``
    is reached. Returns ``(V, iterations, last_residual, converged)``. Shared by every robust DP loop."""
    V = np.array(V0, dtype=float)
    k, res = 0, math.inf
    for k in range(1, max_iter + 1):
        V_new = step(V)
        res = float(np.max(np.abs(V_new - V)))
        V = V_new
        if gamma * res / (1 - gamma) <= tol:
            break
    converged = gamma * res / (1 - gamma) <= tol
    if not converged:
        warnings.warn(f"{who} did not reach tol={tol} in {max_iter} iterations", stacklevel=3)
    return V, k, res, converged


def robust_value_iteration(m: TabularMDP, uset: UncertaintySet, tol: float = 1e-8, max_iter: int = 100_000,
                           V0=None) -> RobustResult:
    r"""Robust VI (rectangular hull for static sets): stops when :math:`\gamma\|V_{k+1}-V_k\|/(1-\gamma) \le` tol."""
    _check_model(m)
    V, k, res, converged = certified_fixed_point(lambda V: (m.R + m.gamma * uset.worst_case(V)[0]).max(1),
                                                 np.zeros(m.S) if V0 is None else V0, m.gamma, tol, max_iter,
                                                 "robust_value_iteration")
    w, p = uset.worst_case(V)
    Q = m.R + m.gamma * w
    return RobustResult(V, Q, np.eye(m.A)[Q.argmax(1)], float(m.mu @ V), p, k, res, converged)


def robust_policy_evaluation(m: TabularMDP, uset: UncertaintySet, pi, tol: float = 1e-8,
                             max_iter: int = 100_000) -> RobustResult:
    r"""Pessimistic value of a stationary policy under a dynamic adversary:
    :math:`V \leftarrow r_\pi + \gamma \sum_a \pi(a|s)\min_{p} p^\top V` (a contraction)."""
    _check_model(m)
    pi = validate_policy(pi, m.S, m.A)
    V, k, res, converged = certified_fixed_point(lambda V: uset.policy_backup(V, m.R, m.gamma, pi)[0],
                                                 np.zeros(m.S), m.gamma, tol, max_iter, "robust_policy_evaluation")
    w, p = uset.worst_case(V)
    Q = m.R + m.gamma * w
    return RobustResult(V, Q, pi, float(m.mu @ V), p, k, res, converged)


@dataclass(frozen=True)
class StaticWorstCase:
    """Result of :func:`static_worst_case`: ``value = mu @ V^pi_T`` of the returned static ``kernel`` (an upper
    bound on the adversary's minimum), ``lower`` (a certified lower bound on it), the ``oracle_calls`` used."""

    value: float
    lower: float
    kernel: np.ndarray
    oracle_calls: int


def _evaluate(m, T, pi):
    return policy_evaluation(TabularMDP(T, m.R, m.gamma, m.mu), pi)


def adversary_policy_iteration(m: TabularMDP, uset: UncertaintySet, pi, tol: float = 1e-10,
                               max_iter: int = 1000) -> StaticWorstCase:
    r"""The worst static kernel against a fixed policy ``pi`` for a rectangular set, by policy iteration of
    the adversary (Howard's method applied to nature's MDP).

    For fixed :math:`\pi` nature faces an MDP whose actions are the kernels :math:`p_{s,a}\in\mathcal P_{s,a}`
    and whose cost is :math:`r_\pi + \gamma\sum_a\pi(a|s)p_{s,a}^\top V`. Starting from the nominal kernel,
    :math:`T_{k+1} = \arg\min_{T} T V_k` (one oracle call) and :math:`V_{k+1} = V^\pi_{T_{k+1}}` (one linear
    solve) decrease monotonically to the robust value :math:`V^\pi_{\mathcal T}` (Iyengar 2005, Thm 4; the
    step is a Newton step on the robust Bellman equation, so few iterations suffice). Stop when the robust
    residual :math:`\|F V_k - V_k\|_\infty`, with :math:`F` the robust evaluation operator, is at most
    ``tol``; since :math:`F` is a :math:`\gamma`-contraction, :math:`\|V_k - V^\pi_{\mathcal T}\|_\infty \le
    \|F V_k - V_k\|_\infty/(1-\gamma)`, which gives the certified ``lower`` bound.
    """
    if not uset.rectangular:
        raise ValueError("adversary_policy_iteration needs a rectangular ((s,a)- or s-rectangular) set")
    pi = validate_policy(pi, m.S, m.A)
    T = uset.nominal()
    V = _evaluate(m, T, pi)
    calls, best, flat = 0, math.inf, 0
    for _ in range(max_iter):
        FV, T_new = uset.policy_backup(V, m.R, m.gamma, pi)
        calls += 1
        res = float(np.max(np.abs(FV - V)))
        if res <= tol:
            break
        flat = flat + 1 if res >= best else 0
        best = min(best, res)
        if flat >= 3:  # the residual stopped decreasing: the oracle's rounding floor; the bound below says so
            break
        V_new = _evaluate(m, T_new, pi)
        stuck = float(np.max(np.abs(V_new - V))) <= 1e-14 * max(1.0, float(np.max(np.abs(V))))
        T, V = T_new, V_new
        if stuck:  # no progress at machine precision: the residual above is the oracle's own accuracy
            FV, _ = uset.policy_backup(V, m.R, m.gamma, pi)
            calls += 1
            res = float(np.max(np.abs(FV - V)))
            break
    value = float(m.mu @ V)
    return StaticWorstCase(value, value - res / (1 - m.gamma), T, calls)


def static_worst_case(m: TabularMDP, uset: UncertaintySet, pi, tol: float = 1e-8,
                      method: str = "pi") -> tuple[float, np.ndarray]:
    """The best static model against ``pi``: ``(mu @ V^pi_T, T)``.

    Rectangular sets (static/dynamic equivalence, Iyengar 2005 Lemma 3.3): ``method="pi"`` runs
    :func:`adversary_policy_iteration`; ``method="vi"`` takes the minimising kernel at the fixed point of
    robust policy evaluation (value iteration) and re-evaluates it exactly. Finite/parametric sets:
    enumeration (one exact policy evaluation per model).
    """
    pi = validate_policy(pi, m.S, m.A)
    if uset.rectangular:
        if method == "pi":
            r = adversary_policy_iteration(m, uset, pi, tol=tol * (1 - m.gamma))
            return r.value, r.kernel
        if method != "vi":
            raise ValueError(f"method must be 'pi' or 'vi', got {method!r}")
        T = robust_policy_evaluation(m, uset, pi, tol=tol).kernel
        return float(m.mu @ _evaluate(m, T, pi)), T
    vals = [float(m.mu @ _evaluate(m, T, pi)) for T in uset.models]
    k = int(np.argmin(vals))
    return vals[k], uset.models[k]


# ----------------------------------------------------------------------------------------------
# Batched robust DP (torch): many instances, radii and ball types' settings in one tensor program
# ----------------------------------------------------------------------------------------------
ORACLES = {"l1": l1_worst_case, "linf": linf_worst_case, "kl": kl_worst_case}


@dataclass(frozen=True)
class BatchedRobustResult:
    """``V[B, S]``, ``Q[B, S, A]``, ``iterations`` (robust backups, shared), per-instance ``residual[B]``
    (last sup-norm change) and ``converged`` (every instance certified to ``tol``)."""

    V: torch.Tensor
    Q: torch.Tensor
    iterations: int
    residual: torch.Tensor
    converged: bool


def batched_robust_value_iteration(P, R, gamma, radius, kind: str = "l1", pi=None, tol: float = 1e-8,
                                   max_iter: int = 100_000, device=None,
                                   dtype=torch.float64) -> BatchedRobustResult:
    r"""Robust value iteration (or robust policy evaluation when ``pi[B, S, A]`` is given) for ``B``
    (s,a)-rectangular instances at once.

    ``P[B, S, A, S]``, ``R[B, S, A]``, ``gamma`` and ``radius`` scalars or ``[B]``; ``kind`` in
    ``{"l1", "linf", "kl"}`` selects the oracle (:func:`l1_worst_case`, :func:`linf_worst_case`,
    :func:`kl_worst_case` — the same functions the numpy classes call). Backup
    :math:`V \leftarrow \max_a [R + \gamma\min_{p\in\mathcal P_{s,a}} p^\top V]` (or the ``pi``-average),
    stopped when :math:`\max_b\gamma_b\|V^b_{k+1}-V^b_k\|_\infty/(1-\gamma_b)\le` ``tol`` (certified).
    Runs on ``device`` (``"cuda"`` works unchanged).
    """
    if kind not in ORACLES:
        raise ValueError(f"kind must be one of {sorted(ORACLES)}, got {kind!r}")
    dev = device or (P.device if isinstance(P, torch.Tensor) else "cpu")
    P = torch.as_tensor(P, dtype=dtype, device=dev)
    R = torch.as_tensor(R, dtype=dtype, device=dev)
    if P.ndim != 4 or P.shape[1] != P.shape[3] or R.shape != P.shape[:3]:
        raise ShapeError(f"P must be [B, S, A, S] and R [B, S, A]; got {tuple(P.shape)}, {tuple(R.shape)}")
    B, S, A, _ = P.shape
    bad = (P < 0).any(-1) | ((P.sum(-1) - 1).abs() > 1e-8)
    if bool(bad.any()):
        b, s, a = (int(i) for i in bad.nonzero()[0])
        raise ModelError(f"P[{b}, {s}, {a}, :] is not a distribution (sum {float(P[b, s, a].sum()):.6g}, "
                         f"min {float(P[b, s, a].min()):.3g})")
    g = torch.as_tensor(gamma, dtype=dtype, device=dev).expand(B)
    r = torch.as_tensor(radius, dtype=dtype, device=dev).expand(B)
    if bool((g < 0).any() | (g >= 1).any()):
        raise ValueError("every gamma must lie in [0, 1)")
    if bool((r < 0).any()) or not bool(torch.isfinite(r).all()):
        raise ValueError(f"every radius must be a finite number >= 0, got {r.tolist()}")
    if pi is not None:
        pi = torch.as_tensor(pi, dtype=dtype, device=dev).expand(B, S, A)
        if bool((pi < 0).any()) or bool(((pi.sum(-1) - 1).abs() > 1e-8).any()):
            raise ValueError("pi must hold a distribution over actions at every (instance, state)")
    oracle = ORACLES[kind]
    q = P.reshape(B, S * A, S)
    V = torch.zeros(B, S, dtype=dtype, device=dev)
    factor = g / (1 - g)
    res = torch.full((B,), math.inf, dtype=dtype, device=dev)
    k = 0
    for k in range(1, max_iter + 1):
        w, _ = oracle(q, V, r)
        Q = R + g[:, None, None] * w.reshape(B, S, A)
        V_new = Q.amax(-1) if pi is None else (Q * pi).sum(-1)
        res = (V_new - V).abs().amax(-1)
        V = V_new
        if float((factor * res).max()) <= tol:
            break
    converged = float((factor * res).max()) <= tol
    if not converged:
        warnings.warn(f"batched_robust_value_iteration did not reach tol={tol} in {max_iter} iterations",
                      stacklevel=2)
    w, _ = oracle(q, V, r)
    return BatchedRobustResult(V, R + g[:, None, None] * w.reshape(B, S, A), k, res, converged)


# ----------------------------------------------------------------------------------------------
# IWOCS
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class IwocsResult:
    r"""``value`` (robust value estimate :math:`L_i = V^{\pi_i}_{T_{i+1}}(\mu)` at mu), ``lower``/``upper`` (certified
    for rectangular sets with exact search; ``lower`` = ``value`` minus the search's residual bound), greedy ``policy[S, A]``, the ``models`` found, ``iterations``, ``history`` (per iteration:
    lower, upper, Bellman backups so far), ``converged`` (upper - lower <= eps), ``stalled`` (the search
    returned a model already in the set before the bracket closed)."""

    value: float
    lower: float
    upper: float
    policy: np.ndarray
    models: list
    iterations: int
    history: list = field(default_factory=list)
    converged: bool = False
    stalled: bool = False
    oracle_calls: int = 0
    """Calls of the rectangular set's worst-case oracle made by the searches."""


def _search(m, uset, pi, search, rng, tol, n_random=64, cmaes_generations=6, cmaes_population=16):
    """``(value, kernel, oracle_calls, certified_lower)`` of the chosen worst-case search against ``pi``."""
    if search in ("exact", "exact-vi") and uset.rectangular:
        if search == "exact-vi":
            r = robust_policy_evaluation(m, uset, pi, tol=tol)
            val = float(m.mu @ _evaluate(m, r.kernel, pi))
            return val, r.kernel, r.iterations + 1, float(m.mu @ r.V) - tol
        r = adversary_policy_iteration(m, uset, pi, tol=tol * (1 - m.gamma))
        return r.value, r.kernel, r.oracle_calls, r.lower
    val, T = _search_static(m, uset, pi, search, rng, tol, n_random, cmaes_generations, cmaes_population)
    return val, T, 0, val


def _search_static(m, uset, pi, search, rng, tol, n_random, cmaes_generations, cmaes_population):
    if search in ("exact", "exact-vi") or (search == "grid" and not uset.rectangular):
        return static_worst_case(m, uset, pi, tol=tol)
    if search == "random":
        if uset.rectangular:
            # random vertices of the set: worst-case kernels against random value vectors
            best = None
            for _ in range(n_random):
                _, T = uset.worst_case(rng.normal(size=m.S))
                val = float(m.mu @ _evaluate(m, T, pi))
                if best is None or val < best[0]:
                    best = (val, T)
            return best
        k = int(rng.integers(len(uset)))
        T = uset.models[k]
        return float(m.mu @ policy_evaluation(TabularMDP(T, m.R, m.gamma, m.mu), pi)), T
    if search == "cmaes":
        if not isinstance(uset, ParametricSet) or uset.bounds is None:
            raise ValueError("search='cmaes' needs a ParametricSet with bounds")
        import cmaes

        lo, hi = uset.bounds[:, 0], uset.bounds[:, 1]
        opt = cmaes.CMA(mean=(lo + hi) / 2, sigma=float(np.max(hi - lo)) / 4, bounds=uset.bounds,
                        population_size=cmaes_population, seed=int(rng.integers(2 ** 31)))
        best = None
        for _ in range(cmaes_generations):
            sols = []
            for _ in range(opt.population_size):
                theta = opt.ask()
                T = _check_kernel(as_numpy(uset.fn(theta if theta.size > 1 else float(theta[0]))))
                val = float(m.mu @ policy_evaluation(TabularMDP(T, m.R, m.gamma, m.mu), pi))
                sols.append((theta, val))
                if best is None or val < best[0]:
                    best = (val, T)
            opt.tell(sols)
        return best
    raise ValueError(f"search must be one of exact, exact-vi, grid, random, cmaes; got {search!r}")


def iwocs(m: TabularMDP, uset: UncertaintySet, eps: float = 1e-6, search: str = "exact", max_iterations: int = 50,
          mode: str = "min", seed: int = 0, T0=None, inner_backups: int | None = None,
          q_noise: float = 0.0) -> IwocsResult:
    """Incremental worst-case search (Algorithm 1 of Zouitine et al. 2024); see the module docstring.

    ``mode="min"``: :math:`Q_i = \\min_j Q^*_{T_j}`; ``mode="hull"``: robust VI over the rectangular hull of
    the models found. Inner problems are solved exactly by policy iteration, unless ``inner_backups=k``
    (``k`` value-iteration backups from zero: an *imperfect* :math:`Q^*_{T_j}`) or ``q_noise=sigma``
    (Gaussian noise of that scale added to each :math:`Q^*_{T_j}`) — used to test how the certificate
    degrades when the static problems are solved approximately (experiment IW-5).

    ``search``: ``"exact"`` (rectangular sets: :func:`adversary_policy_iteration`, certified; static sets:
    enumeration), ``"exact-vi"`` (rectangular: robust policy evaluation by value iteration), ``"grid"``
    (enumeration of a finite/parametric set), ``"random"``, ``"cmaes"`` (parametric sets with bounds).
    For rectangular sets with an exact search the reported ``lower`` subtracts the search's own residual
    bound, so ``lower <= V*(mu) <= upper`` holds up to the inner solvers' rounding.
    """
    _check_model(m)
    if not eps > 0:
        raise ValueError(f"eps must be > 0, got {eps}")
    if mode not in ("min", "hull"):
        raise ValueError(f"mode must be 'min' or 'hull', got {mode!r}")
    if max_iterations < 1:
        raise ValueError(f"max_iterations must be >= 1, got {max_iterations}")
    if inner_backups is not None and (int(inner_backups) != inner_backups or inner_backups < 1):
        raise ValueError(f"inner_backups must be a positive integer or None, got {inner_backups!r}")
    if not (math.isfinite(q_noise) and q_noise >= 0):
        raise ValueError(f"q_noise must be a finite number >= 0, got {q_noise!r}")
    rng = np.random.default_rng(seed)
    models = [uset.nominal() if T0 is None else _check_kernel(as_numpy(T0))]
    Qs = []
    history = []
    backups = 0
    calls = 0
    upper, pi, converged, stalled = math.inf, None, False, False
    for i in range(max_iterations):
        if inner_backups is None:
            sol = policy_iteration(TabularMDP(models[-1], m.R, m.gamma, m.mu))
            backups += sol.iterations
            Qj = sol.Q
        else:
            Pf = models[-1].reshape(m.S * m.A, m.S)
            Qj = np.array(m.R, dtype=float)
            for _ in range(int(inner_backups)):
                Qj = q_values(Pf, m.R, m.gamma, Qj.max(1))
            backups += int(inner_backups)
        if q_noise > 0:
            Qj = Qj + q_noise * rng.normal(size=Qj.shape)
        Qs.append(Qj)
        if mode == "min":
            Q = np.min(Qs, axis=0)
        else:
            hull = robust_value_iteration(m, FiniteModelSet(models), tol=eps * (1 - m.gamma) / 10)
            backups += hull.iterations
            Q = hull.Q
        pi = np.eye(m.A)[Q.argmax(1)]
        upper = min(upper, float(m.mu @ Q.max(1)))
        L, T_next, c, L_cert = _search(m, uset, pi, search, rng, tol=max(eps / 10, 1e-12))
        calls += c
        history.append(dict(iteration=i, lower=L_cert, value=L, upper=upper, backups=backups, oracle_calls=calls))
        if upper - L_cert <= eps:
            converged = True
            break
        if any(np.array_equal(T_next, T) for T in models):
            stalled = True
            break
        models.append(T_next)
    if upper < history[-1]["lower"] - 1e-9:
        warnings.warn(f"iwocs: upper value {upper:.8g} is below the lower value {history[-1]['lower']:.8g}; the static "
                      "problems were not solved exactly (inner_backups/q_noise), so the bracket is no certificate",
                      stacklevel=2)
    if not converged:
        warnings.warn(f"iwocs stopped after {len(history)} iterations with bracket [{history[-1]['lower']:.6g}, {upper:.6g}] "
                      f"(eps = {eps:g}){' (stalled)' if stalled else ''}", stacklevel=2)
    return IwocsResult(float(history[-1]["value"]), float(history[-1]["lower"]), float(upper), pi, models,
                       len(history), history, converged, stalled, calls)
