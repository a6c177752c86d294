r"""The occupancy-measure linear program of a discounted MDP (the package's one occupancy LP).

With the normalised discounted occupancy :math:`d(s,a) = (1-\gamma)\sum_t \gamma^t \Pr(s_t=s, a_t=a)`,

.. math::
   \max_{d \ge 0}\ & \tfrac{1}{1-\gamma}\langle d, r\rangle \\
   \text{s.t. }\ & \textstyle\sum_a d(s',a) - \gamma \sum_{s,a} P(s'\mid s,a)\, d(s,a) = (1-\gamma)\,\mu(s')
     \quad \forall s' \qquad\text{(flow)}\\
   & \tfrac{1}{1-\gamma}\langle d, c_i\rangle \ge \tau_i \quad \forall i \qquad\text{(constraints)}

whose optimum is :math:`V^*(\mu) = \mu^\top V^*` without constraints (Puterman 1994, §6.9) and the
constrained-MDP optimum with them (Altman 1999). The policy is :math:`\pi(a|s) = d(s,a)/\sum_b d(s,b)`.
The dual of the flow constraints is :math:`y = V^*/(1-\gamma)` in the unconstrained case; the dual of a
constraint is its Lagrange multiplier :math:`\lambda_i \ge 0`. The result carries the duality gap
:math:`\tfrac{1}{1-\gamma}\langle d, r\rangle - [(1-\gamma)\mu^\top y - \tau^\top\lambda]` computed from the
solver's duals, and the value of the extracted policy re-evaluated exactly by a linear solve.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from mdp.model import (FiniteHorizonMDP, ModelError, ShapeError, TabularMDP, as_numpy, check_finite,
                       validate_policy)
from mdp.planning import policy_evaluation
from theory.results import SolverResult

__all__ = ["OccupancyResult", "InfeasibleConstraintsError", "solve_occupancy_lp", "flow_matrix",
           "finite_horizon_occupancy"]


class InfeasibleConstraintsError(ModelError):
    """No policy meets the thresholds.

    Attributes:
        thresholds: ``[k]`` the thresholds asked for.
        max_values: ``[k]`` the largest value of each constraint signal any policy achieves (alone).
    """

    def __init__(self, message: str, thresholds, max_values):
        super().__init__(message)
        self.thresholds = np.asarray(thresholds, dtype=float)
        self.max_values = np.asarray(max_values, dtype=float)


def _infeasible(m: TabularMDP, C: np.ndarray, t: np.ndarray, status: str) -> InfeasibleConstraintsError:
    from mdp.planning import policy_iteration

    best = np.array([float(m.mu @ policy_iteration(m.with_rewards(c)).V) for c in C])
    short = [f"aux_rewards[{i}]: threshold {t[i]:.6g} > largest achievable {best[i]:.6g}"
             for i in range(len(t)) if t[i] > best[i] + 1e-9 * max(1.0, abs(best[i]))]
    why = ("; ".join(short) if short else "each threshold is achievable alone (largest achievable values "
           f"{np.round(best, 6).tolist()}) but not all together")
    return InfeasibleConstraintsError(f"the occupancy LP is {status}: no policy meets thresholds "
                                      f"{t.tolist()} ({why})", t, best)


@dataclass(frozen=True)
class OccupancyResult(SolverResult):
    """``value`` is ``mu @ V`` of the LP optimum; ``occupancy[S, A]`` sums to one; ``policy[S, A]``.

    ``duals`` holds ``flow`` (``[S]``) and ``constraints`` (``[k]``, the multipliers, >= 0);
    ``duality_gap`` is primal minus dual objective; ``policy_value`` and ``constraint_values`` are the
    extracted policy's exact values; ``solver`` and ``cvxpy_version`` record what solved it.

    The base fields (:class:`theory.results.SolverResult`, keyword-only): ``residual`` the largest
    violation of the flow constraints by the returned (normalised) occupancy; ``error_bound``
    ``|duality_gap|`` (the returned value is within it of the LP optimum, up to the residual);
    ``converged`` whether the solver reported ``"optimal"``; ``iterations`` the solver's iterations
    when it reports them (0 otherwise).
    """

    value: float
    occupancy: np.ndarray
    policy: np.ndarray
    duals: dict
    duality_gap: float
    policy_value: float
    constraint_values: np.ndarray
    status: str
    solver: str
    cvxpy_version: str


def flow_matrix(m: TabularMDP):
    r"""Sparse ``[S, S*A]`` flow matrix :math:`M`.

    :math:`(M d)(s') = \sum_a d(s',a) - \gamma\sum_{s,a}P(s'|s,a)d(s,a)`.
    """
    S, A = m.S, m.A
    E = sp.csr_array((np.ones(S * A), (np.repeat(np.arange(S), A), np.arange(S * A))), shape=(S, S * A))
    Pf = m.P_flat if m.is_sparse else sp.csr_array(m.P_flat)
    return (E - m.gamma * Pf.T).tocsr()


def _as_constraints(m: TabularMDP, aux_rewards, thresholds):
    if aux_rewards is None:
        if thresholds is not None:
            raise ModelError("thresholds given without aux_rewards")
        return np.zeros((0, m.S, m.A)), np.zeros(0)
    C = as_numpy(aux_rewards)
    if C.shape == (m.S, m.A):
        C = C[None]
    if C.ndim != 3 or C.shape[1:] != (m.S, m.A):
        raise ShapeError(f"aux_rewards has shape {C.shape}; expected [k, {m.S}, {m.A}] or [{m.S}, {m.A}]")
    check_finite("aux_rewards", C)
    if thresholds is None:
        raise ModelError("aux_rewards given without thresholds")
    t = np.atleast_1d(as_numpy(thresholds))
    if t.shape != (C.shape[0],):
        raise ShapeError(f"thresholds has shape {t.shape}; expected ({C.shape[0]},) for {C.shape[0]} "
                         "auxiliary rewards")
    bad = np.flatnonzero(~np.isfinite(t))
    if bad.size:
        raise ModelError(f"thresholds[{bad[0]}] is {t[bad[0]]} (must be finite)")
    return C, t


def solve_occupancy_lp(m: TabularMDP, aux_rewards=None, thresholds=None, weights=None,
                       solver: str = "CLARABEL", **solver_kwargs) -> OccupancyResult:
    """Solve the (constrained) occupancy LP with cvxpy; the solver is named explicitly and recorded.

    Args:
      m: discounted model. Vector rewards ``R[S, A, m]`` need ``weights[m]`` (linear scalarisation).
      aux_rewards: ``[k, S, A]`` constraint rewards ``c_i`` (or ``[S, A]`` for one).
      thresholds: ``[k]``: the constraints mean ``V_{c_i}^pi(mu) >= thresholds[i]``.
      weights: scalarisation of vector rewards.
      solver: a cvxpy solver name (``CLARABEL`` default, ``HIGHS``, ``SCS``, ...).

    Raises:
        InfeasibleConstraintsError: (a ``ModelError``) no policy meets the thresholds; the message and the
            error's ``max_values`` give the largest achievable value of each constraint signal.

    Example:
        >>> import numpy as np
        >>> from mdp import TabularMDP, solve_occupancy_lp
        >>> m = TabularMDP(np.ones((1, 2, 1)), np.array([[1.0, 0.0]]), 0.5)
        >>> round(solve_occupancy_lp(m, np.array([[0.0, 1.0]]), [1.0]).value, 6)
        1.0
    """
    import cvxpy as cp

    if not isinstance(m, TabularMDP):
        raise TypeError(f"solve_occupancy_lp needs a TabularMDP, got {type(m).__name__}")
    S, A, g = m.S, m.A, m.gamma
    if m.R.ndim == 3:
        if weights is None:
            raise ModelError(f"R has {m.R.shape[2]} objectives: pass weights to scalarise them")
        r = m.scalarized(weights).R
    else:
        if weights is not None:
            raise ModelError("weights given but R is scalar")
        r = m.R
    C, t = _as_constraints(m, aux_rewards, thresholds)
    M = flow_matrix(m)
    d = cp.Variable(S * A, nonneg=True)
    scale = 1.0 / (1.0 - g)
    flow = M @ d == (1.0 - g) * m.mu
    cons = [flow]
    aux = None
    if C.shape[0]:
        aux = scale * (C.reshape(C.shape[0], S * A) @ d) >= t
        cons.append(aux)
    prob = cp.Problem(cp.Maximize(scale * (r.ravel() @ d)), cons)
    if solver not in cp.installed_solvers():
        raise ModelError(f"solver {solver!r} is not installed; installed: {cp.installed_solvers()}")
    prob.solve(solver=solver, **solver_kwargs)
    if prob.status in ("infeasible", "infeasible_inaccurate"):
        raise _infeasible(m, C, t, prob.status)
    if prob.status not in ("optimal", "optimal_inaccurate"):
        raise ModelError(f"the occupancy LP ended with status {prob.status!r} (solver {solver})")
    occ = np.clip(np.asarray(d.value, dtype=float), 0.0, None).reshape(S, A)
    occ /= occ.sum()
    mass = occ.sum(1, keepdims=True)
    policy = np.where(mass > 1e-12, occ / np.where(mass > 0, mass, 1.0), 1.0 / A)
    policy /= policy.sum(1, keepdims=True)
    # cvxpy's duals are those of the textbook dual
    # min (1-gamma) mu.y - tau.lambda  s.t.  M^T y - C^T lambda / (1-gamma) >= r / (1-gamma), lambda >= 0,
    # so that y = V*/(1-gamma) without constraints (checked against value iteration in the tests).
    y = np.asarray(flow.dual_value, dtype=float)
    lam = np.asarray(aux.dual_value, dtype=float).ravel() if aux is not None else np.zeros(0)
    dual_obj = float((1.0 - g) * m.mu @ y - t @ lam)
    primal = float(prob.value)
    pv = float(m.mu @ policy_evaluation(m.with_rewards(r), policy))
    cvals = np.array([float(m.mu @ policy_evaluation(m.with_rewards(c), policy)) for c in C])
    converged = prob.status == "optimal"
    if not converged:
        warnings.warn(f"occupancy LP solved inaccurately ({prob.status})", stacklevel=2)
    flow_res = float(np.max(np.abs(flow_matrix(m) @ occ.ravel() - (1.0 - g) * m.mu)))
    its = prob.solver_stats.num_iters
    return OccupancyResult(primal, occ, policy, {"flow": y, "constraints": lam}, primal - dual_obj, pv,
                           cvals, prob.status, prob.solver_stats.solver_name, cp.__version__, converged=converged,
                           residual=flow_res, error_bound=abs(primal - dual_obj),
                           iterations=int(its) if its is not None else 0)


def finite_horizon_occupancy(m: FiniteHorizonMDP, pi) -> np.ndarray:
    r"""State-action occupancies ``d[h, s, a] = Pr(s_h = s, a_h = a)`` of ``pi[H, S, A]`` (forward recursion
    :math:`d_0 = \mu\,\pi_0`, :math:`d_{h+1}(t, b) = \pi_{h+1}(b|t)\sum_{s,a} d_h(s,a) P_h(t|s,a)`)."""
    if not isinstance(m, FiniteHorizonMDP):
        raise TypeError(f"finite_horizon_occupancy needs a FiniteHorizonMDP, got {type(m).__name__}")
    pi = validate_policy(pi, m.S, m.A, H=m.H)
    d = np.zeros((m.H, m.S, m.A))
    state = m.mu
    for h in range(m.H):
        d[h] = state[:, None] * pi[h]
        state = np.einsum("sa,sat->t", d[h], m.P[h])
    return d
