r"""Exact planning: value iteration, policy iteration, policy evaluation, backward induction.

All solvers share the operators of :mod:`mdp.operators` and return frozen results that carry their
certificate. For a discounted MDP with Bellman optimality operator :math:`\mathcal T` (a
:math:`\gamma`-contraction in the sup norm) and any :math:`V`,

.. math::
   \|V - V^*\|_\infty \le \frac{\|\mathcal T V - V\|_\infty}{1-\gamma}, \qquad
   \|\mathcal T V - V^*\|_\infty \le \frac{\gamma\,\|\mathcal T V - V\|_\infty}{1-\gamma},

and the greedy policy :math:`\pi` of :math:`\mathcal T V` satisfies
:math:`\|V^\pi - V^*\|_\infty \le 2\gamma\|\mathcal TV - V\|_\infty/(1-\gamma)` (Puterman 1994, Thm 6.3.1;
Williams & Baird 1993). These are the certified stopping rules used below.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from mdp.model import (FiniteHorizonMDP, ModelError, TabularMDP, as_numpy, check_finite, check_scalar,
                       validate_policy)
from mdp.operators import bellman_optimality, greedy_policy, policy_average, policy_kernel, q_values
from theory.fixed_point import certified_fixed_point
from theory.results import SolverResult, warn_not_converged
from theory.validation import check_array, check_shape

__all__ = ["PlanningResult", "FiniteHorizonResult", "value_iteration", "policy_iteration",
           "policy_evaluation", "policy_value", "bellman_residual", "backward_induction"]


@dataclass(frozen=True)
class PlanningResult(SolverResult):
    """Solution of a discounted MDP with its certificate (the base fields of
    :class:`theory.results.SolverResult` are keyword-only).

    Attributes:
      V, Q: value ``[S]`` and action values ``[S, A]`` (of the returned policy for PI; of the last
        iterate for VI).
      policy: deterministic greedy policy as one-hot ``[S, A]``.
      policy_gap_bound: certified bound on ``||V^pi - V*||_inf``.
      solver: ``"value_iteration"`` or ``"policy_iteration"``.
      value: ``mu @ V``.
      residual: ``||T V - V||_inf`` of the returned ``V`` (Bellman optimality residual).
      error_bound: certified bound on ``||V - V*||_inf``.
      iterations: iterations run (Bellman backups for VI, policy improvements for PI).
      converged: whether the certified stopping test held.
      history: per-iteration step sizes ``||V_k - V_{k-1}||`` for VI, Bellman residuals
        ``max(T V^pi_k - V^pi_k)`` for PI; ``None`` unless ``history=True``.
    """

    V: np.ndarray
    Q: np.ndarray
    policy: np.ndarray
    policy_gap_bound: float
    solver: str
    value: float

    @property
    def actions(self) -> np.ndarray:
        return self.policy.argmax(-1)


@dataclass(frozen=True)
class FiniteHorizonResult(SolverResult):
    """Backward induction: ``V[h, s]`` for ``h = 0..H`` (``V[H] = 0``), ``Q[h, s, a]``, ``policy[h, s, a]``.

    ``value`` is ``mu @ V[0]``. When a policy was evaluated, ``policy`` is that policy. Backward induction
    is exact in ``H`` backups: ``residual`` (the Bellman residual of the returned ``V``) and
    ``error_bound`` are 0 by construction, ``converged`` is ``True`` and ``iterations`` is ``H``.
    """

    V: np.ndarray
    Q: np.ndarray
    policy: np.ndarray
    value: float


def _require_discounted(m, who: str) -> None:
    if not isinstance(m, TabularMDP):
        raise TypeError(f"{who} needs a TabularMDP, got {type(m).__name__}"
                        + (" (use backward_induction for finite-horizon models)"
                           if isinstance(m, FiniteHorizonMDP) else ""))
    if m.n_objectives != 1:
        raise ModelError(f"{who} needs scalar rewards; R has shape {m.R.shape} "
                         "(use m.scalarized(weights) or solve_occupancy_lp)")


def bellman_residual(m: TabularMDP, V) -> float:
    """``||T V - V||_inf``."""
    V = check_array("V", V, ndim=1)
    check_shape("V", V, (m.S,))
    check_finite("V", V)
    TV, _ = bellman_optimality(m.P_flat, m.R, m.gamma, V)
    return float(np.max(np.abs(TV - V)))


def value_iteration(m: TabularMDP, tol: float = 1e-8, max_iter: int = 1_000_000, V0=None,
                    history: bool = False, callback=None) -> PlanningResult:
    r"""Value iteration :math:`V_{k+1} = \mathcal T V_k` with a certified stop.

    Stops at the first ``k`` with :math:`\gamma\|V_{k+1}-V_k\|_\infty/(1-\gamma) \le` ``tol``, which
    certifies :math:`\|V_{k+1} - V^*\|_\infty \le` ``tol`` (the package's one certified loop,
    :func:`theory.fixed_point.certified_fixed_point`). The error contracts like
    :math:`\gamma^k\|V_0 - V^*\|_\infty`.

    Args:
        m: a discounted :class:`TabularMDP` with scalar rewards (dense or sparse kernel).
        tol: certified accuracy of the returned ``V`` (> 0).
        max_iter: budget of Bellman backups (>= 1).
        V0: starting values ``[S]`` (zeros by default).
        history: record the step sizes :math:`\|V_k - V_{k-1}\|_\infty`.
        callback: called as ``callback(k, V_k, step_size_k)`` after every backup.

    Returns:
        :class:`PlanningResult` with ``V[S]``, ``Q[S, A]``, greedy ``policy[S, A]``, ``value = mu @ V``,
        ``residual = ||T V - V||``, ``error_bound``, ``policy_gap_bound``, ``iterations``, ``converged``.

    Example:
        >>> from mdp.generators import garnet
        >>> m = garnet(S=50, A=4, branching=5, gamma=0.9, seed=0)
        >>> res = value_iteration(m, tol=1e-8)
        >>> res.converged and res.error_bound <= 1e-8
        True
    """
    _require_discounted(m, "value_iteration")
    tol = check_scalar("tol", tol, low=0.0, low_open=True)
    max_iter = check_scalar("max_iter", max_iter, low=1, integer=True)
    P, R, g = m.P_flat, m.R, m.gamma
    V = np.zeros(m.S) if V0 is None else as_numpy(V0)
    if V.shape != (m.S,):
        raise ModelError(f"V0 has shape {V.shape}, expected ({m.S},)")
    check_finite("V0", V)
    fp = certified_fixed_point(lambda V: bellman_optimality(P, R, g, V)[0], V, g, tol, max_iter,
                               "value_iteration", history=history, callback=callback)
    V = fp.V
    Q = q_values(P, R, g, V)
    res_now = float(fp.residual)
    pol_gap = 2 * g * res_now / (1 - g) if g > 0 else 0.0
    return PlanningResult(V, Q, greedy_policy(Q), pol_gap, "value_iteration", float(m.mu @ V), residual=res_now,
                          error_bound=float(fp.error_bound), iterations=fp.iterations, converged=bool(fp.converged),
                          history=fp.history)


def policy_evaluation(m: TabularMDP, pi, V0=None) -> np.ndarray:
    r"""Exact :math:`V^\pi = (I - \gamma P_\pi)^{-1} r_\pi` by a linear solve.

    ``pi`` is ``[S, A]`` (or integer actions ``[S]``). Vector rewards ``R[S, A, m]`` give ``V[S, m]``.
    Dense kernels use LAPACK's LU solve. Sparse kernels use BiCGSTAB (warm-started at ``V0``) and
    accept its answer only when the linear-system residual ``||(I - gamma P_pi) V - r_pi||_inf`` is below
    ``1e-12 * (1 + ||r_pi||_inf)``; otherwise they fall back to a sparse LU solve. Either way the result
    is exact to round-off, which is what the certificates of :func:`policy_iteration` assume.
    """
    if not isinstance(m, TabularMDP):
        raise TypeError(f"policy_evaluation needs a TabularMDP, got {type(m).__name__}")
    pi = validate_policy(pi, m.S, m.A)
    r_pi = np.einsum("sa...,sa->s...", m.R, pi)
    P_pi = policy_kernel(m.P, pi)
    if not sp.issparse(P_pi):
        return sla.solve(np.eye(m.S) - m.gamma * P_pi, r_pi, check_finite=False)
    M = (sp.identity(m.S, format="csr") - m.gamma * P_pi).tocsr()
    tol = 1e-12 * (1.0 + float(np.max(np.abs(r_pi))))
    if r_pi.ndim == 1:
        x0 = None if V0 is None else np.asarray(V0, dtype=np.float64)
        V, info = spla.bicgstab(M, r_pi, x0=x0, rtol=1e-14, atol=tol / 10, maxiter=10 * m.S)
        if info == 0 and float(np.max(np.abs(M @ V - r_pi))) <= tol:
            return V
    return np.asarray(spla.splu(M.tocsc()).solve(np.asarray(r_pi, dtype=np.float64)))


def policy_value(m, pi) -> float:
    """Expected return from ``mu``: ``mu @ V^pi`` (discounted) or ``mu @ V_0^pi`` (finite horizon)."""
    if isinstance(m, FiniteHorizonMDP):
        return backward_induction(m, pi).value
    return float(m.mu @ policy_evaluation(m, pi))


def policy_iteration(m: TabularMDP, max_iter: int = 10_000, pi0=None, history: bool = False) -> PlanningResult:
    r"""Howard's policy iteration with exact evaluation.

    :math:`\pi_{k+1} = \mathrm{greedy}(Q^{\pi_k})`, keeping the current action on ties (so the loop
    cannot cycle). Terminates in finitely many steps at an optimal policy; the certificate is the
    Bellman residual of :math:`V^{\pi}` (zero up to round-off at termination), and
    ``error_bound = residual / (1 - gamma)``. Sparse kernels go to :func:`mdp.sparse.sparse_policy_iteration`
    (Krylov evaluation instead of a sparse LU, whose fill-in grows super-linearly; certified policy gap
    <= ``1e-9 (1 + max|R|)``).

    Args:
        m: a discounted :class:`TabularMDP` with scalar rewards (dense or sparse kernel).
        max_iter: budget of improvement steps (>= 1).
        pi0: initial policy ``[S, A]`` or actions ``[S]`` (action 0 everywhere by default).
        history: record the Bellman residual of every evaluated policy.

    Returns:
        :class:`PlanningResult` (``V`` and ``Q`` of the returned policy).

    Example:
        >>> from mdp.generators import garnet
        >>> m = garnet(S=1000, A=10, branching=10, gamma=0.99, seed=0)   # sparse kernel
        >>> res = policy_iteration(m)
        >>> res.converged, res.residual < 1e-8
        (True, True)
    """
    _require_discounted(m, "policy_iteration")
    max_iter = check_scalar("max_iter", max_iter, low=1, integer=True)
    S, A = m.S, m.A
    if m.is_sparse:  # CSR kernel: Krylov evaluation, no S x S factorisation (mdp.sparse)
        from mdp.sparse import sparse_policy_iteration

        a0 = None if pi0 is None else validate_policy(pi0, S, A).argmax(-1)
        r = sparse_policy_iteration(m, tol=1e-9 * (1.0 + float(np.max(np.abs(m.R)))), max_iter=max_iter, pi0=a0,
                                    history=history)
        return PlanningResult(r.V, r.Q, np.eye(A)[r.actions], r.policy_gap_bound, "policy_iteration",
                              float(m.mu @ r.V), residual=r.residual, error_bound=r.error_bound,
                              iterations=r.iterations, converged=r.converged, history=r.history)
    actions = np.zeros(S, dtype=int) if pi0 is None else validate_policy(pi0, S, A).argmax(-1)
    rows = np.arange(S)
    hist = []
    converged = False
    it = 0
    V = None
    for it in range(1, max_iter + 1):
        V = policy_evaluation(m, actions, V0=V)
        Q = q_values(m.P_flat, m.R, m.gamma, V)
        best = Q.max(-1)
        hist.append(float(np.max(best - V)))
        # Improve only where strictly better (beyond round-off): no cycling between tied actions.
        scale = 1e-10 * max(1.0, float(np.max(np.abs(V))))
        improve = best > Q[rows, actions] + scale
        if not improve.any():
            converged = True
            break
        actions = np.where(improve, Q.argmax(-1), actions)
    res = float(np.max(np.abs(Q.max(-1) - V)))
    if not converged:
        warn_not_converged("policy_iteration", residual=res, iterations=it)
    err = res / (1 - m.gamma)
    return PlanningResult(V, Q, np.eye(A)[actions], err, "policy_iteration", float(m.mu @ V), residual=res,
                          error_bound=err, iterations=it, converged=converged,
                          history=np.asarray(hist) if history else None)


def backward_induction(m: FiniteHorizonMDP, pi=None) -> FiniteHorizonResult:
    r"""Dynamic programming over ``h = H-1, ..., 0``.

    Without ``pi``: :math:`Q^*_h = r_h + P_h V^*_{h+1}`, :math:`V^*_h = \max_a Q^*_h`, :math:`V^*_H = 0`.
    With ``pi[H, S, A]`` (or ``[S, A]``, or integer actions): :math:`Q^\pi_h = r_h + P_h V^\pi_{h+1}`,
    :math:`V^\pi_h = \langle \pi_h, Q^\pi_h\rangle`.
    """
    if not isinstance(m, FiniteHorizonMDP):
        raise TypeError(f"backward_induction needs a FiniteHorizonMDP, got {type(m).__name__}")
    H, S, A = m.H, m.S, m.A
    pol = None if pi is None else validate_policy(pi, S, A, H=H)
    V = np.zeros((H + 1, S))
    Q = np.zeros((H, S, A))
    out_pi = np.zeros((H, S, A))
    for h in range(H - 1, -1, -1):
        Q[h] = q_values(m.P[h].reshape(S * A, S), m.R[h], 1.0, V[h + 1])
        if pol is None:
            out_pi[h] = greedy_policy(Q[h])
        else:
            out_pi[h] = pol[h]
        V[h] = policy_average(Q[h], out_pi[h])
    return FiniteHorizonResult(V, Q, out_pi, float(m.mu @ V[0]), residual=0.0, error_bound=0.0, converged=True,
                               iterations=H)
