r"""Soft (logit) Nash equilibria of Markov games: soft-optimal values, the logit response and :func:`soft_nash`.

**Soft (logit) Nash equilibrium** at temperature :math:`\lambda^{-1} = T`: a joint policy with

.. math::
   \bar Q_i(s,a_i) = \bar r_i(s,a_i) + \gamma \textstyle\sum_t \bar P_i(t|s,a_i) \bar V_i(t), \quad
   \bar V_i(s) = T \log\sum_{a_i} e^{\bar Q_i(s,a_i)/T}, \quad
   \pi_i(a_i|s) = e^{(\bar Q_i(s,a_i) - \bar V_i(s))/T}

for every agent (each agent's policy is soft-optimal in its marginal MDP, :mod:`games.markov.marginal`).
:func:`soft_nash` finds it by damped iteration of the logit-response map
:math:`F(\pi)_i = \mathrm{softmax}(\bar Q_i^{\pi_{-i}}/T)`, with optional temperature homotopy and, at low
temperature, Newton's method and path following (:mod:`games.markov.newton`); its ``residual`` is
:math:`\max_i\|F(\pi)_i - \pi_i\|_\infty` of the returned policies.

All solvers run on numpy arrays (one game) or torch tensors with a leading batch axis (many games in one
program, CPU or CUDA); the same code path serves both.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from games.markov.marginal import marginal_tensors
from games.markov.model import _tensors, validate_policies
from games.markov.newton import S_sum_A, _game_slice, _newton_path
from mdp.operators import q_values
from theory.backend import is_torch, log_softmax, logsumexp
from theory.fixed_point import certified_fixed_point
from theory.results import SolverResult, warn_not_converged
from theory.validation import ParameterError, check_scalar

__all__ = ["SoftNashResult", "soft_nash", "soft_q", "logit_response"]


def _softmax(x):
    """The logit response's softmax: ``torch.softmax`` for a tensor, ``exp(log_softmax(x))`` for numpy (the
    numpy rounding these solvers have always used; :func:`theory.backend.softmax` divides by the sum instead)."""
    return torch.softmax(x, dim=-1) if is_torch(x) else np.exp(log_softmax(x))


def _amax(x):
    return x.amax(-1) if is_torch(x) else np.max(x, axis=-1)


# ----------------------------------------------------------------------------------------------
# Soft-optimal values in a marginal MDP and the logit response
# ----------------------------------------------------------------------------------------------
def soft_q(P_bar, r_bar, gamma, temperature, V0=None, tol: float = 1e-12, max_iter: int = 100_000):
    r"""Soft-optimal :math:`(\bar Q, \bar V)` of a (marginal) MDP by the certified soft Bellman iteration.

    .. math:: V_{k+1}(s) = T\log\sum_a \exp\big(Q_k(s,a)/T\big),\quad Q_k = \bar r + \gamma \bar P V_k,

    a :math:`\gamma`-contraction, iterated with :func:`theory.fixed_point.certified_fixed_point` to a
    certified ``tol`` in the sup norm.

    Args:
        P_bar: ``[(B,) S, A, S]``; r_bar: ``[(B,) S, A]``; gamma: scalar or ``[B]``; temperature: ``T > 0``
            (scalar or ``[B]``); V0: warm start ``[(B,) S]``.

    Returns:
        ``(Q [(B,) S, A], V [(B,) S], FixedPointResult)``.
    """
    S, A = r_bar.shape[-2], r_bar.shape[-1]
    P_flat = P_bar.reshape(*P_bar.shape[:-3], S * A, S)
    T = temperature
    if not np.isscalar(T) and getattr(T, "ndim", 0) > 0:
        T_q, T_v = T[..., None, None], T[..., None]
    else:
        T_q = T_v = T

    def step(V):
        return T_v * logsumexp(q_values(P_flat, r_bar, gamma, V) / T_q)

    if V0 is None:
        V0 = torch.zeros(r_bar.shape[:-1], dtype=r_bar.dtype, device=r_bar.device) if is_torch(r_bar) \
            else np.zeros(r_bar.shape[:-1])
    fp = certified_fixed_point(step, V0, gamma, tol=tol, max_iter=max_iter, who="soft_q")
    V = fp.V
    return q_values(P_flat, r_bar, gamma, V), V, fp


def logit_response(mg, policies, temperature, V0=None, tol: float = 1e-12):
    r"""The logit-response map :math:`F(\pi)_i = \mathrm{softmax}(\bar Q_i^{\pi_{-i}}/T)` for every agent.

    Args:
        mg: :class:`MarkovGame` or batched :class:`MarkovGameTensors`.
        policies: ``n`` arrays ``[(B,) S, A_i]``.
        temperature: ``T > 0`` (scalar or ``[B]``).
        V0: optional list of warm starts ``[(B,) S]``.

    Returns:
        ``(responses, Q, V)``: lists over agents of ``[(B,) S, A_i]``, ``[(B,) S, A_i]``, ``[(B,) S]``.
    """
    g = _tensors(mg)
    T = temperature
    T_q = T[..., None, None] if (not np.isscalar(T) and getattr(T, "ndim", 0) > 0) else T
    out, Qs, Vs = [], [], []
    for i in range(g.n_agents):
        P_bar, r_bar = marginal_tensors(g, i, policies)
        Q, V, _ = soft_q(P_bar, r_bar, g.gamma, T, None if V0 is None else V0[i], tol=tol)
        out.append(_softmax(Q / T_q))
        Qs.append(Q)
        Vs.append(V)
    return out, Qs, Vs


@dataclass(frozen=True)
class SoftNashResult(SolverResult):
    r"""A soft (logit) Nash equilibrium and its certificate.

    Attributes:
        policies: one ``[(B,) S, A_i]`` array per agent.
        Q, V: soft action values ``[(B,) S, A_i]`` and values ``[(B,) S]`` of each agent in its marginal MDP.
        residual: :math:`\max_i\|F(\pi)_i - \pi_i\|_\infty` of the returned policies (``[B]`` when batched).
        error_bound: ``None`` (the logit-response map is not a certified contraction in general).
        converged: ``residual <= tol``.
        iterations: outer (damped) iterations; history: residual per iteration when asked for.
        temperature: the temperature solved for.
    """

    policies: list
    Q: list
    V: list
    temperature: Any = None


def soft_nash(mg, temperature, tol: float = 1e-10, max_iter: int = 20_000, damping: float = 1.0,
              homotopy: int = 0, inner_steps: int = 5, policies0=None, history: bool = False,
              method: str = "auto", min_damping: float = 1 / 64, patience: int = 500,
              newton_max_unknowns: int = 2048) -> SoftNashResult:
    r"""Soft (logit / entropy-regularised) Nash equilibrium by damped logit-response iteration.

    Iteration :math:`k` takes, for every agent, ``inner_steps`` soft Bellman backups of its value in the
    marginal MDP of the current :math:`\pi^k_{-i}` (warm-started, as in modified policy iteration),
    forms :math:`\tilde Q_i`, and moves

    .. math:: \pi^{k+1}_i = (1-\beta_k)\,\pi^k_i + \beta_k\,\mathrm{softmax}\big(\tilde Q_i/T\big).

    The step :math:`\beta_k` starts at ``damping``, is halved per game whenever the (approximate)
    residual grows (down to ``min(damping, min_damping)``: a caller's smaller ``damping`` is never raised) and
    grows by a quarter after a decrease, never above ``damping``. When the approximate residual
    and the value step are small, the exact residual :math:`\max_i\|F(\pi)_i - \pi_i\|_\infty` is
    computed with the *certified* soft-optimal :math:`\bar Q_i^{\pi_{-i}}` (:func:`soft_q` to 1e-12), and
    the loop stops when it is at most ``tol``. A fixed point :math:`F(\pi) = \pi` is a soft Nash equilibrium:
    every agent's policy is the Boltzmann policy of its marginal soft-Q. With ``homotopy = h > 0`` the
    equilibrium is first followed at temperatures :math:`2^h T, 2^{h-1}T, \ldots` down to :math:`T`
    (useful at low temperature, where the undamped map can cycle).

    **Low temperature: Newton and path following** (``method="auto"``, the default). At low :math:`T` the
    damped map can cycle for every step size (its Jacobian has eigenvalues of size :math:`O(1/T)`). In
    ``"auto"`` mode a game whose best approximate residual at the target temperature has not halved for
    ``patience`` iterations (or that is still unsolved after ``4 * patience``) stalls; when every unsolved game
    has stalled the iteration stops and each stalled game is handed to Newton's method on the logit fixed point
    written in the soft action values :math:`\bar Q = (\bar Q_1, \ldots, \bar Q_n)`,

    .. math:: H(\bar Q)_i = \bar Q_i - \bar r_i(\pi_{-i}) - \gamma \bar P_i(\pi_{-i})\,\bar V_i = 0,\quad
              \pi_j = \mathrm{softmax}(\bar Q_j/T),\ \bar V_j = T\log\textstyle\sum_a e^{\bar Q_j(\cdot,a)/T},

    whose roots are exactly the soft Nash equilibria (for fixed :math:`\pi_{-i}` the soft Bellman equation
    has the unique root :math:`\bar Q_i^{\pi_{-i}}`, and :math:`\pi_i` is its logit response). Newton
    (Jacobian by ``torch.autograd``, backtracking on :math:`\|H\|_\infty`) is first started at the
    iterate; if it does not converge, the equilibrium is followed in temperature (McKelvey and Palfrey's
    logit tracing path) from :math:`T_0 = 10\max|r|/(1-\gamma)`, where every policy is nearly uniform,
    down to :math:`T`, each Newton solve warm-started at the previous temperature's root, the temperature
    ratio halved in log scale after a failed solve. ``method="iterate"`` runs the damped iteration only,
    ``"newton"`` the Newton path only. Newton is used for games with at most ``newton_max_unknowns``
    unknowns :math:`S\sum_i A_i`; a larger game that the iteration does not solve is returned with
    ``converged=False``. ``converged`` is always the exact test ``residual <= tol`` of the returned
    policies.

    Args:
        mg: a :class:`MarkovGame`, a list of equal-shape games or :class:`MarkovGameTensors` (batched, torch).
        temperature: :math:`T > 0` (the inverse of the paper's :math:`\lambda`).
        tol: stopping test ``residual <= tol``.
        max_iter: iteration budget (per homotopy stage).
        damping: initial step :math:`\beta_0 \in (0, 1]`.
        homotopy: number of temperature-halving stages before the target.
        inner_steps: soft Bellman backups per iteration (>= 1).
        policies0: starting policies (uniform when omitted).
        history: record the approximate residual per iteration at the target temperature.
        method: ``"auto"`` (iteration, then Newton / path following for games it leaves above ``tol``),
            ``"iterate"`` (damped iteration only) or ``"newton"`` (Newton / path following only).
        min_damping: the smallest step the adaptive halving reaches (``min(damping, min_damping)``).
        patience: ``"auto"`` only: iterations without halving the best residual after which a game counts
            as stalled and the iteration stops (when every unsolved game has stalled).
        newton_max_unknowns: the largest :math:`S\sum_i A_i` handed to Newton.

    Returns:
        :class:`SoftNashResult` (numpy for one game, torch ``[B, ...]`` for a batch); ``residual`` is the
        exact residual of the returned policies. Warns with :class:`theory.results.NotConvergedWarning`
        when ``residual > tol`` at the budget.

    Example:
        >>> from games.markov.instances import random_markov_game
        >>> r = soft_nash(random_markov_game(5, (2, 2), seed=1), temperature=1.0)
        >>> bool(r.converged), r.policies[0].shape
        (True, (5, 2))
    """
    temperature = check_scalar("temperature", temperature, low=0.0, low_open=True)
    tol = check_scalar("tol", tol, low=0.0, low_open=True)
    max_iter = check_scalar("max_iter", max_iter, low=1, integer=True)
    damping = check_scalar("damping", damping, low=0.0, high=1.0, low_open=True)
    homotopy = check_scalar("homotopy", homotopy, low=0, integer=True)
    inner_steps = check_scalar("inner_steps", inner_steps, low=1, integer=True)
    if method not in ("auto", "iterate", "newton"):
        raise ParameterError(f"method must be 'auto', 'iterate' or 'newton', got {method!r}")
    min_damping = check_scalar("min_damping", min_damping, low=0.0, high=1.0, low_open=True)
    patience = check_scalar("patience", patience, low=1, integer=True)
    newton_max_unknowns = check_scalar("newton_max_unknowns", newton_max_unknowns, low=0, integer=True)
    floor = min(damping, min_damping)
    g = _tensors(mg)
    newton_ok = method != "iterate" and S_sum_A(g) <= newton_max_unknowns
    torch_mode = g.batched
    n = g.n_agents
    B = g.mu.shape[0] if torch_mode else None
    if policies0 is None:
        pols = [torch.full((B, g.S, a), 1.0 / a, dtype=g.P.dtype, device=g.P.device) if torch_mode
                else np.full((g.S, a), 1.0 / a) for a in g.actions]
    else:
        pols = list(policies0) if torch_mode else validate_policies(mg, list(policies0), "policies0")
    zeros = (lambda: torch.zeros((B, g.S), dtype=g.P.dtype, device=g.P.device)) if torch_mode \
        else (lambda: np.zeros(g.S))
    V = [zeros() for _ in range(n)]
    factor = g.gamma / (1 - g.gamma)
    hist = []
    total = 0
    res = None
    stalled = np.zeros(B or 1, dtype=bool)     # per game: the iteration at the target temperature stalled
    stages = [] if method == "newton" else [temperature * 2.0 ** k for k in range(homotopy, -1, -1)]
    for T in stages:
        beta = (torch.full((B,), damping, dtype=g.P.dtype, device=g.P.device) if torch_mode
                else np.asarray(damping))
        prev = None
        best = since = None
        for stage_iter in range(max_iter):
            total += 1
            resp, moved = [], 0.0
            for i in range(n):
                P_bar, r_bar = marginal_tensors(g, i, pols)
                P_flat = P_bar.reshape(*P_bar.shape[:-3], g.S * g.actions[i], g.S)
                for _ in range(inner_steps):
                    Q = q_values(P_flat, r_bar, g.gamma, V[i])
                    V_new = T * logsumexp(Q / T)
                    step = _amax((V_new - V[i]).abs() if torch_mode else np.abs(V_new - V[i]))
                    V[i] = V_new
                moved = step if i == 0 else (torch.maximum(moved, step) if torch_mode else max(moved, step))
                resp.append(_softmax(q_values(P_flat, r_bar, g.gamma, V[i]) / T))
            approx = _residual(resp, pols)
            if history and T == temperature:
                hist.append(approx.detach().cpu().numpy() if torch_mode else float(approx))
            if float(approx.max()) <= tol / 2 and float((factor * moved).max()) <= tol * T / 4:
                exact, Q_ex, V_ex = logit_response(g, pols, T, V0=V)
                res = _residual(exact, pols)
                if float(res.max()) <= tol:
                    break
            if method == "auto":    # stall detection: the best residual has not halved for `patience` steps
                a_np = np.atleast_1d(approx.detach().cpu().numpy() if torch_mode else approx).astype(float)
                if best is None:
                    best, since = a_np.copy(), np.zeros_like(a_np)
                better = a_np < 0.5 * best
                best = np.where(better, a_np, best)
                since = np.where(better, 0, since + 1)
                if newton_ok:                       # slow linear progress: Newton finishes faster
                    since = np.where(stage_iter >= 4 * patience, np.maximum(since, patience), since)
                if np.all((since >= patience) | (a_np <= tol / 2)) and np.any(since >= patience):
                    break
            if prev is not None:
                worse = approx > prev
                if torch_mode:
                    beta = torch.where(worse, (beta / 2).clamp(min=floor), (beta * 1.25).clamp(max=damping))
                else:
                    beta = np.asarray(max(beta / 2, floor) if worse else min(beta * 1.25, damping))
            prev = approx
            b = beta[:, None, None] if torch_mode else beta
            pols = [(1 - b) * p + b * r for p, r in zip(pols, resp)]
        stalled = np.zeros(B or 1, dtype=bool) if since is None else since >= patience
    exact, Q_ex, V_ex = logit_response(g, pols, temperature, V0=V)
    res = _residual(exact, pols)
    if newton_ok:
        todo = [b for b in range(B)] if torch_mode else [None]
        todo = [b for b in todo if float(res[b] if torch_mode else res) > tol
                and (method == "newton" or bool(stalled[0 if b is None else b]))]
        for b in todo:
            Q_start = [q[b] for q in Q_ex] if torch_mode else Q_ex
            sol = _newton_path(_game_slice(g, b), temperature, Q_start, tol)
            if sol is None:
                continue
            if torch_mode:
                for p, q in zip(pols, sol):
                    p[b] = _softmax(q.to(p) / temperature)
            else:
                pols = [_softmax(q.numpy() / temperature) for q in sol]
        if todo:
            exact, Q_ex, V_ex = logit_response(g, pols, temperature, V0=V)
            res = _residual(exact, pols)
    converged = res <= tol
    if not bool(converged.all() if torch_mode else converged):
        warn_not_converged("soft_nash", residual=float(res.max()), tol=tol, iterations=total)
    if not torch_mode:
        res, converged = float(res), bool(converged)
    return SoftNashResult(pols, Q_ex, V_ex, temperature, residual=res, error_bound=None, converged=converged,
                          iterations=total, history=(np.asarray(hist) if history else None))


def _residual(resp, pols):
    if is_torch(pols[0]):
        return torch.stack([(r - p).abs().amax(dim=(-2, -1)) for r, p in zip(resp, pols)]).amax(0)
    return np.asarray(max(float(np.max(np.abs(r - p))) for r, p in zip(resp, pols)))
