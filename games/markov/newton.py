r"""Newton's method and logit path following for :func:`games.markov.solvers.soft_nash` at low temperature.

The soft Nash equilibria are the roots of

.. math:: H(\bar Q)_i = \bar Q_i - \bar r_i(\pi_{-i}) - \gamma \bar P_i(\pi_{-i})\,\bar V_i = 0,\quad
          \pi_j = \mathrm{softmax}(\bar Q_j/T),\ \bar V_j = T\log\textstyle\sum_a e^{\bar Q_j(\cdot,a)/T}

in the concatenated soft action values (see :func:`games.markov.solvers.soft_nash` for when they are used).
"""
from __future__ import annotations

import numpy as np
import torch

from games.markov.marginal import marginal_tensors
from games.markov.model import MarkovGameTensors
from theory.backend import is_torch

__all__ = ["S_sum_A"]


def S_sum_A(g) -> int:
    r"""Number of unknowns :math:`S\sum_i A_i` of the Newton system of :func:`soft_nash`."""
    return int(g.S * sum(g.actions))


def _game_slice(g: MarkovGameTensors, b):
    """Game ``b`` of a batch (``None``: the one game) as unbatched float64 torch :class:`MarkovGameTensors`."""
    def t(x):
        x = x if b is None else x[b]
        return x.to(dtype=torch.float64, device="cpu") if is_torch(x) else torch.tensor(x, dtype=torch.float64)
    gamma = float(g.gamma if b is None else g.gamma[b])
    return MarkovGameTensors(t(g.P), t(g.R), gamma, t(g.mu), g.actions, False)


def _soft_nash_equations(g: MarkovGameTensors, T: float):
    r"""``H(x)`` of :func:`soft_nash`'s Newton system, ``x`` the concatenated ``[S, A_i]`` soft action values."""
    sizes = [g.S * a for a in g.actions]

    def H(x):
        Qs = [q.reshape(g.S, a) for q, a in zip(torch.split(x, sizes), g.actions)]
        pis = [torch.softmax(q / T, dim=-1) for q in Qs]
        out = []
        for i, q in enumerate(Qs):
            P_bar, r_bar = marginal_tensors(g, i, pis)
            V = T * torch.logsumexp(q / T, dim=-1)
            out.append((q - r_bar - g.gamma * torch.einsum("sat,t->sa", P_bar, V)).reshape(-1))
        return torch.cat(out)

    return H


def _newton(g: MarkovGameTensors, T: float, x0, scale: float, max_iter: int = 60):
    """Newton with backtracking on ``||H||_inf`` from ``x0``; the root or ``None`` when it does not converge."""
    H = _soft_nash_equations(g, T)
    x = x0.clone()
    h = H(x)
    norm = float(h.abs().max())
    target = 4 * np.finfo(float).eps * scale
    for _ in range(max_iter):
        if norm <= target:
            return x
        J = torch.autograd.functional.jacobian(H, x, vectorize=True)
        try:
            d = torch.linalg.solve(J, -h)
        except RuntimeError:     # singular Jacobian (a bifurcation): let the caller shorten the step
            return None
        t = 1.0
        while t >= 1e-6:
            x_new = x + t * d
            h_new = H(x_new)
            n_new = float(h_new.abs().max())
            if np.isfinite(n_new) and n_new < (1 - 1e-4 * t) * norm:
                break
            t /= 2
        else:
            return x if norm <= 1e-9 * scale else None    # no further decrease at round-off level
        x, h, norm = x_new, h_new, n_new
    return x if norm <= 1e-9 * scale else None


def _newton_path(g: MarkovGameTensors, T: float, Q_start, tol: float):
    r"""Newton at ``T`` from ``Q_start``; failing that, the logit tracing path from a high temperature.

    Returns the list of ``[S, A_i]`` soft action values at ``T`` or ``None`` (the path could not be followed).
    """
    scale = max(float(g.R.abs().max()) / (1 - g.gamma), 1e-12)
    x = torch.cat([torch.as_tensor(q, dtype=torch.float64).reshape(-1) for q in Q_start])
    sol = _newton(g, T, x, scale)
    if sol is None:
        T_cur = max(10.0 * scale, T)
        uniform = [torch.full((g.S, a), 1.0 / a, dtype=torch.float64) for a in g.actions]
        x = torch.cat([marginal_tensors(g, i, uniform)[1].reshape(-1) for i in range(g.n_agents)])
        x = _newton(g, T_cur, x, scale)
        ratio = 0.5
        while x is not None and T_cur > T:
            T_next = max(T_cur * ratio, T)
            nxt = _newton(g, T_next, x, scale)
            if nxt is None:
                ratio = ratio ** 0.5
                if ratio > 0.999:
                    x = None
                continue
            x, T_cur, ratio = nxt, T_next, max(ratio ** 2, 0.1)
        sol = x
    if sol is None:
        return None
    sizes = [g.S * a for a in g.actions]
    return [q.reshape(g.S, a) for q, a in zip(torch.split(sol, sizes), g.actions)]
