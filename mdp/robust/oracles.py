r"""Worst-case oracles :math:`\min_{p\in\mathcal P_{s,a}} p^\top V` of the (s,a)-rectangular balls.

Torch oracles (:func:`l1_worst_case`, :func:`linf_worst_case`, :func:`kl_worst_case`) take leading batch
axes: ``q[..., N, S]`` (rows = flattened ``(s, a)`` pairs), ``v[..., S]``, ``radius`` broadcastable to ``[...]``
(or ``[..., N]``), and return ``(p @ v [..., N], p [..., N, S])``; the numpy set classes of
:mod:`mdp.robust.sets` and the batched solver of :mod:`mdp.robust.batched` share them. The Wasserstein-1
oracle (:func:`wasserstein_worst_case`) is numpy. Each oracle is tested against cvxpy.

Example:
    >>> import torch
    >>> from mdp.robust.oracles import l1_worst_case
    >>> val, p = l1_worst_case(torch.tensor([[0.5, 0.5]], dtype=torch.float64),
    ...                        torch.tensor([0.0, 1.0], dtype=torch.float64), 0.4)
    >>> round(float(val[0]), 6), [round(x, 6) for x in p[0].tolist()]
    (0.3, [0.7, 0.3])
"""
from __future__ import annotations

import math

import numpy as np
import torch

__all__ = ["l1_worst_case", "linf_worst_case", "kl_worst_case", "wasserstein_worst_case", "wasserstein_envelopes",
           "kl_tilted_rows", "numpy_oracle", "radius_like", "ORACLES"]


def radius_like(radius, v):
    r = torch.as_tensor(radius, dtype=v.dtype, device=v.device)
    return r.expand(v.shape[:-1]) if r.ndim == 0 else r


def l1_worst_case(q, v, radius):
    r"""Worst case over :math:`\{p\in\Delta: \|p-q\|_1\le\kappa\}`: move :math:`\min(\kappa/2, 1-q_{j^*})` of mass
    onto the lowest-value state :math:`j^* = \arg\min v`, taken from the highest-value states first (one
    sort of ``v`` serves every row). Returns ``(p @ v [..., N], p [..., N, S])``."""
    r = radius_like(radius, v)
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
    r = radius_like(radius, v)[..., None, None]
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
    rho = radius_like(radius, v)[..., None]  # [..., 1]
    p = kl_tilted_rows(q, v[..., None, :].expand_as(q), rho, v.amax(-1) - v.amin(-1), iterations)
    return (p @ v[..., :, None])[..., 0], p


def kl_tilted_rows(q, vb, rho, spread, iterations: int = 64):
    r"""The KL worst-case kernel rows of :func:`kl_worst_case` with a value vector per row.

    Args:
        q: ``[..., N, C]`` nominal rows (entries ``<= 0`` are outside the support and stay 0).
        vb: ``[..., N, C]`` the value of each entry's state (``v[..., None, :]`` broadcast for dense rows, or
            ``V[cols]`` for the compact rows of a sparse kernel).
        rho: radius broadcastable to ``[..., N]`` (e.g. ``[..., 1]``).
        spread: ``[...]`` :math:`\max V - \min V` of the whole value vector (sets the bisection bracket).
        iterations: bisection steps on :math:`\log\beta`.

    Returns:
        ``[..., N, C]`` the minimising rows.
    """
    support = q > 0
    inf = torch.tensor(math.inf, dtype=q.dtype, device=q.device)
    vmin = torch.where(support, vb, inf).amin(-1)  # [..., N]
    at_min = support & (vb <= vmin[..., None] + 1e-12)
    q_min = torch.where(at_min, q, torch.zeros_like(q)).sum(-1)
    corner = -torch.log(q_min) <= rho
    spread = spread.clamp_min(1e-12)[..., None].expand_as(q_min)
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
    return torch.where(rho[..., None] <= 0, q, p)  # radius 0: the nominal row (bisection would only jitter)


def numpy_oracle(fn, P, V, radius, **kw):
    """Run a torch oracle ``fn`` on a numpy kernel ``P[S, A, S]`` and values ``V[S]``.

    Returns:
        ``(values[S, A], kernel[S, A, S])`` as numpy arrays.
    """
    S, A, _ = P.shape
    q = torch.from_numpy(np.array(P.reshape(S * A, S), dtype=np.float64))
    vals, p = fn(q, torch.as_tensor(np.asarray(V, dtype=np.float64)), float(radius), **kw)
    return vals.numpy().reshape(S, A), p.numpy().reshape(S, A, S)


def wasserstein_envelopes(metric, v, block: int = 256):
    """Breakpoints ``B[j, :]`` (inf-padded) and argmins ``K[j, :]`` of every :math:`\\phi_j` on ``[0, inf)``.

    The envelopes of different ``j`` are independent: they are walked ``block`` rows of the metric at a time, so
    the temporaries are ``[block, S]`` rather than ``[S, S]``.
    """
    S = v.size
    parts = [_envelope_rows(metric[i:i + block], v) for i in range(0, S, block)]
    L = max(Bp.shape[1] for Bp, _ in parts)
    B = np.full((S, L), np.inf)
    K = np.empty((S, L + 1), dtype=parts[0][1].dtype)
    for i, (Bp, Kp) in zip(range(0, S, block), parts):
        n, w = Kp.shape
        B[i:i + n, :w - 1] = Bp
        K[i:i + n, :w] = Kp
        K[i:i + n, w:] = Kp[:, -1:]  # a finished envelope keeps its last argmin
    return B, K


def _envelope_rows(d, v):
    """:func:`wasserstein_envelopes` for the rows ``d[n, S]`` of the metric (``n`` states ``j``)."""
    n = d.shape[0]
    # lambda -> 0+: the minimisers of v, the closest one to j (then the lowest index)
    key = np.where(v[None, :] <= v.min(), d, np.inf)
    k = np.argmin(key, axis=1)
    lam = np.zeros(n)
    Bs, Ks = [], [k.copy()]
    active = np.ones(n, dtype=bool)
    for _ in range(v.size):  # each step works on the envelopes still moving only (a finished one never moves again)
        idx = np.flatnonzero(active)
        di, ki = d[idx], k[idx]
        dk = di[np.arange(idx.size), ki]
        steeper = di < dk[:, None]  # only lines with a smaller slope can take over
        with np.errstate(divide="ignore", invalid="ignore"):
            cross = np.where(steeper, (v[None, :] - v[ki][:, None]) / (dk[:, None] - di), np.inf)
        cross = np.maximum(cross, lam[idx][:, None])
        nxt = cross.min(1)
        fin = np.isfinite(nxt)
        active[idx[~fin]] = False
        if not active.any():
            break
        # ties: jump to the flattest of the lines crossing at the same lambda
        tie = np.where(cross[fin] <= nxt[fin, None], di[fin], np.inf)
        moved = idx[fin]
        k[moved] = np.argmin(tie, axis=1)
        lam[moved] = nxt[fin]
        b = np.full(n, np.inf)
        b[moved] = nxt[fin]
        Bs.append(b)
        Ks.append(k.copy())
    B = np.stack(Bs, 1) if Bs else np.full((n, 0), np.inf)
    return B, np.stack(Ks, 1)


def wasserstein_worst_case(P, V, radius, metric):
    r"""Exact worst case over :math:`\{p: W_1(p, P[s, a]) \le \delta\}` for every ``(s, a)`` under the
    ground metric ``metric[S, S]`` -> ``(values[S, A], kernel[S, A, S])``.

    Through the LP dual :math:`g(\lambda) = -\lambda\delta + \sum_j q_j\phi_j(\lambda)`,
    :math:`\phi_j(\lambda) = \min_k (v_k + \lambda d_{jk})`. Each :math:`\phi_j` is the lower envelope of
    :math:`S` lines and does not depend on the row :math:`q`: all envelopes are walked at once
    (:func:`wasserstein_envelopes`), their breakpoints :math:`\Lambda` merged, and on every segment the
    transport map :math:`j \mapsto k_j(\lambda)` and its cost :math:`c(\lambda)=\sum_j q_j d_{j k_j}`
    (non-increasing) recorded. Per row, a bisection over the segments finds the first with
    :math:`c \le \delta`; the optimal kernel mixes the maps on both sides of that breakpoint so the budget
    is met exactly (complementary slackness): the exact LP optimum up to rounding.
    """
    S, A, _ = P.shape
    q = P.reshape(S * A, S)
    v = np.asarray(V, dtype=np.float64)
    d, delta = metric, float(radius)
    B, K = wasserstein_envelopes(metric, v)
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


ORACLES = {"l1": l1_worst_case, "linf": linf_worst_case, "kl": kl_worst_case}
"""The torch oracles by name (the ``kind`` of :func:`mdp.robust.batched_robust_value_iteration`)."""
