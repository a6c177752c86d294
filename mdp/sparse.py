r"""Certified planning on large sparse kernels (CSR, int32 indices): policy iteration at a million states.

The kernel is the SciPy CSR matrix ``P[(s, a), t]`` of shape ``(S*A, S)`` held by a sparse
:class:`mdp.TabularMDP` (see :func:`mdp.generators.sparse_garnet`). Nothing here forms a dense
``[S, A, S]`` array or a second copy of the kernel: a policy's kernel :math:`P_\pi` is the row selection
``P[s*A + pi(s)]`` (``S`` of the ``S*A`` rows), and every Bellman backup is one CSR mat-vec through
:func:`mdp.operators.q_values`.

Policy iteration (Howard 1960; Puterman 1994, Sec. 6.4) with Krylov evaluation:

.. math::
   V_k \approx (I - \gamma P_{\pi_k})^{-1} r_{\pi_k}, \qquad
   Q_k = R + \gamma P V_k, \qquad \pi_{k+1}(s) = \arg\max_a Q_k(s, a),

where the evaluation is BiCGSTAB on :math:`I - \gamma P_\pi` warm-started at :math:`V_{k-1}` (the
eigenvalues of :math:`\gamma P_\pi` other than :math:`\gamma` are small on expander-like kernels such as
Garnets, so a few dozen mat-vecs with the ``S``-row kernel suffice). An action changes only where it
improves by more than the evaluation error, so the loop cannot cycle on round-off. The certificate is
computed from the returned :math:`V` alone, whatever the accuracy of the solves:

.. math::
   \|V - V^*\|_\infty \le \frac{\|\mathcal T V - V\|_\infty}{1 - \gamma}, \qquad
   \|V^{\pi} - V^*\|_\infty \le \frac{\|\mathcal T V - V\|_\infty + \|(I-\gamma P_\pi)V - r_\pi\|_\infty}{1-\gamma},

for :math:`\pi` the policy whose evaluation is :math:`V` (Puterman 1994, Thm 6.3.1 and the contraction of
:math:`I - \gamma P_\pi`). If the stopping test ``policy_gap_bound <= tol`` fails when no action
improves, the evaluation tolerance is tightened and the loop goes on.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.sparse.linalg as spla

from mdp.model import ModelError, ParameterError, TabularMDP
from mdp.operators import q_values
from theory.results import SolverResult, warn_not_converged

__all__ = ["SparsePlanningResult", "policy_rows", "evaluate_policy_csr", "sparse_policy_iteration"]


@dataclass(frozen=True)
class SparsePlanningResult(SolverResult):
    """Optimal policy of a sparse discounted MDP with its certificate (the base fields of
    :class:`theory.results.SolverResult` are keyword-only).

    Attributes:
      V: ``[S]`` value of the returned policy (Krylov solve).
      Q: ``[S, A]`` one backup of ``V``.
      actions: ``[S]`` int deterministic policy (greedy on ``Q`` up to the evaluation error).
      residual: ``||T V - V||_inf`` of the returned ``V`` (Bellman optimality residual).
      error_bound: certified ``||V - V*||_inf <= residual / (1 - gamma)``.
      policy_gap_bound: certified ``||V^pi - V*||_inf <= (residual + linear_residual) / (1 - gamma)``.
      linear_residual: ``||(I - gamma P_pi) V - r_pi||_inf`` of the last evaluation.
      converged: ``policy_gap_bound <= tol``.
      iterations: policy-improvement steps; matvecs: CSR products with the ``S``-row kernel ``P_pi``
        (the ``S*A``-row backups are ``iterations`` more, of ``A`` times the size).
      history: ``||T V_k - V_k||_inf`` per iteration (``None`` unless ``history=True``).
      value: ``mu @ V``.
      solver: ``"sparse_policy_iteration"``.
    """

    V: np.ndarray
    Q: np.ndarray
    actions: np.ndarray
    policy_gap_bound: float
    linear_residual: float
    matvecs: int
    value: float
    solver: str = "sparse_policy_iteration"

    @property
    def policy(self) -> np.ndarray:
        """One-hot ``[S, A]`` policy (allocates ``S*A`` floats)."""
        return np.eye(self.Q.shape[1])[self.actions]


def policy_rows(P, actions, A: int):
    r"""The policy kernel :math:`P_\pi[s, t] = P[(s, \pi(s)), t]` as a CSR ``(S, S)`` matrix.

    Args:
      P: CSR ``(S*A, S)`` kernel (row ``s*A + a``).
      actions: ``[S]`` integer actions.
      A: number of actions.

    Returns:
      CSR ``(S, S)``: the selected rows (a copy of ``S`` rows, i.e. ``1/A`` of the kernel), indices in
      the kernel's dtype.
    """
    actions = np.asarray(actions)
    S = P.shape[1]
    rows = np.arange(S, dtype=np.int64) * A + actions
    return P[rows]


def evaluate_policy_csr(P_pi, r_pi, gamma: float, V0=None, rtol: float = 1e-12, maxiter: int = 10_000):
    r"""Solve :math:`(I - \gamma P_\pi)V = r_\pi` by BiCGSTAB without forming :math:`I - \gamma P_\pi`.

    Args:
      P_pi: sparse ``(S, S)`` policy kernel.
      r_pi: ``[S]`` policy reward.
      gamma: discount in ``[0, 1)``.
      V0: ``[S]`` warm start (default ``r_pi / (1 - gamma)``, exact for constant rewards).
      rtol: relative tolerance of the Krylov solve.

    Returns:
      ``(V, linear_residual, matvecs)`` with ``linear_residual = ||(I - gamma P_pi) V - r_pi||_inf``
      computed afresh.
    """
    S = P_pi.shape[0]
    count = [0]

    def mv(v):
        count[0] += 1
        v = np.asarray(v).reshape(-1)
        return v - gamma * (P_pi @ v)

    op = spla.LinearOperator((S, S), matvec=mv, dtype=np.float64)
    x0 = np.asarray(r_pi, dtype=np.float64) / (1.0 - gamma) if V0 is None else np.asarray(V0, dtype=np.float64)
    V, _ = spla.bicgstab(op, r_pi, x0=x0, rtol=rtol, atol=0.0, maxiter=maxiter)
    lin = float(np.max(np.abs(V - gamma * (P_pi @ V) - r_pi)))
    return V, lin, count[0] + 1


def sparse_policy_iteration(m: TabularMDP, tol: float = 1e-6, max_iter: int = 1000, pi0=None,
                            rtol: float = 1e-12, history: bool = False) -> SparsePlanningResult:
    r"""Certified optimal policy of a sparse discounted MDP by policy iteration with Krylov evaluation.

    Iterates :math:`\pi_{k+1} = \mathrm{greedy}(R + \gamma P V^{\pi_k})` (module docstring) and stops when
    no action improves by more than the evaluation error *and* the certified policy gap
    :math:`(\|\mathcal TV - V\|_\infty + \|(I-\gamma P_\pi)V - r_\pi\|_\infty)/(1-\gamma)` is at most ``tol``
    (otherwise the Krylov tolerance ``rtol`` is divided by 100 and the loop continues).

    Args:
      m: a :class:`TabularMDP` with a sparse kernel and scalar rewards ``R[S, A]``.
      tol: target certified policy gap (> 0).
      max_iter: cap on improvement steps.
      pi0: optional ``[S]`` initial actions (default: greedy on ``R``).
      rtol: initial relative tolerance of the evaluations.
      history: keep the per-iteration Bellman residuals.

    Returns:
      :class:`SparsePlanningResult`.

    Example:
      >>> from mdp.generators import sparse_garnet
      >>> res = sparse_policy_iteration(sparse_garnet(10_000, 10, 5, 0.99, seed=0), tol=1e-6)
      >>> res.converged, res.policy_gap_bound <= 1e-6
      (True, True)
    """
    if not isinstance(m, TabularMDP):
        raise TypeError(f"sparse_policy_iteration needs a TabularMDP, got {type(m).__name__}")
    if not m.is_sparse:
        raise ModelError("sparse_policy_iteration needs a sparse kernel (use m.sparse() or mdp.policy_iteration)")
    if m.n_objectives != 1:
        raise ModelError(f"sparse_policy_iteration needs scalar rewards; R has shape {m.R.shape}")
    if isinstance(tol, bool) or not (isinstance(tol, (int, float, np.floating, np.integer)) and 0 < tol < math.inf):
        raise ParameterError(f"tol must be a finite number > 0, got {tol!r}")
    if isinstance(max_iter, bool) or not isinstance(max_iter, (int, np.integer)) or max_iter < 1:
        raise ParameterError(f"max_iter must be an integer >= 1, got {max_iter!r}")
    P, R, g, S, A = m.P, m.R, m.gamma, m.S, m.A
    rows = np.arange(S)
    if pi0 is None:
        actions = R.argmax(axis=1)
    else:
        actions = np.asarray(pi0)
        if actions.shape != (S,) or not np.issubdtype(actions.dtype, np.integer):
            raise ModelError(f"pi0 must be integer actions of shape ({S},), got {actions.dtype} {actions.shape}")
        if (actions < 0).any() or (actions >= A).any():
            s = int(np.flatnonzero((actions < 0) | (actions >= A))[0])
            raise ModelError(f"pi0[{s}] = {actions[s]} is not an action in 0..{A - 1}")
    V = None
    hist, matvecs, converged = [], 0, False
    it = 0
    while it < max_iter:
        it += 1
        r_pi = R[rows, actions]
        V, lin, k = evaluate_policy_csr(policy_rows(P, actions, A), r_pi, g, V0=V, rtol=rtol)
        matvecs += k
        Q = q_values(P, R, g, V)
        best = Q.max(axis=1)
        res = float(np.max(np.abs(best - V)))
        hist.append(res)
        # V is V^pi up to lin / (1 - gamma) in sup norm, so Q up to gamma * lin / (1 - gamma): switch only beyond that.
        margin = 2.0 * g * lin / (1.0 - g) + 1e-12 * max(1.0, float(np.max(np.abs(V))))
        improve = best > Q[rows, actions] + margin
        if improve.any():
            actions = np.where(improve, Q.argmax(axis=1), actions)
            continue
        gap = (res + lin) / (1.0 - g)
        if gap <= tol:
            converged = True
            break
        if rtol <= 1e-15:
            break
        rtol = max(rtol / 100.0, 1e-16)
    else:
        res = hist[-1]
    gap = (res + lin) / (1.0 - g)
    if not converged:
        warn_not_converged("sparse_policy_iteration", residual=gap, tol=tol, iterations=it)
    return SparsePlanningResult(V, Q, actions, gap, lin, matvecs, float(m.mu @ V), residual=res,
                                error_bound=res / (1.0 - g), converged=converged, iterations=it,
                                history=np.asarray(hist) if history else None)
