r"""Lagrangian (RCPO-style) primal–dual method for a CMDP with exact best responses.

With multipliers :math:`\lambda \in \mathbb R^k_{\ge 0}` the Lagrangian and the dual function are

.. math::
   L(\pi, \lambda) = J_0(\pi) + \textstyle\sum_i \lambda_i (J_i(\pi) - C_i), \qquad
   D(\lambda) = \max_\pi L(\pi, \lambda) \ge J^\star \quad (\text{weak duality, any } \lambda \ge 0).

Iteration :math:`t = 1, 2, \dots` (Altman 1999; Tessler et al. 2019, RCPO, with the inner RL problem
solved exactly):

1. best response :math:`\pi_t \in \arg\max_\pi L(\pi, \lambda_t)`: policy iteration on the reward
   :math:`r_0 + \sum_i \lambda_{t,i} r_i` (ties broken uniformly at random with ``seed``);
2. the dual step, :math:`\nabla D(\lambda_t) \ni J(\pi_t) - C`, one of

   * ``dual_step="sqrt"`` (RCPO's projected dual (sub)gradient descent):
     :math:`\lambda_{t+1,i} = \max(0, \lambda_{t,i} - \eta_{t,i} (J_i(\pi_t) - C_i))`,
     :math:`\eta_{t,i} = \eta\, \sigma_0 / (\sigma_i^2 \sqrt t)` with the signal spans
     :math:`\sigma_j = (\max r_j - \min r_j)/(1-\gamma)` (so that :math:`\eta` is unit-free);
   * ``dual_step="cutting_plane"`` (the default; Kelley 1960): every best response gives an exact affine
     minorant :math:`D(\lambda) \ge J_0(\pi_s) + \lambda^\top (J(\pi_s) - C)` (an equality at
     :math:`\lambda_s`), and :math:`\lambda_{t+1}` minimises the maximum of these minorants over the box
     :math:`0 \le \lambda_i \le \Lambda_i = 10^6 \sigma_0/\sigma_i` (a small LP in :math:`k+1` variables).
     :math:`D` is the maximum of finitely many such pieces (one per deterministic policy), so the step needs
     no step size and stops after finitely many best responses, whatever the scale of :math:`\lambda^\star`;
     the LP's dual is the occupancy LP restricted to mixtures of :math:`\pi_1, \dots, \pi_t` (Dantzig–Wolfe
     column generation), whose weights :math:`w_t` give the averaged policy;
3. the averaged policy :math:`\bar\pi_t` has the averaged occupancy :math:`\bar d_t = \sum_{s\le t} w_{t,s}
   d^{\pi_s}` (:math:`\bar\pi_t(a|s) = \bar d_t(s,a)/\sum_b \bar d_t(s,b)`), so its values are the averages
   :math:`J(\bar\pi_t) = \sum_s w_{t,s} J(\pi_s)` exactly; ``"sqrt"`` weights :math:`w_{t,s} \propto s`,
   ``"cutting_plane"`` the master LP's mixture weights.

The default budget converges (``residual <= 1e-3``) on the constrained instances of the tests (30 states or
fewer, three constraints, :math:`\gamma = 0.95`), where the ``"sqrt"`` step stops short, its multipliers far
from :math:`\lambda^\star`; the ``NotConvergedWarning`` stays for budgets that run out.

The averaged policy converges to the CMDP optimum; the last iterate :math:`\pi_t` is deterministic and in
general oscillates around the constraint boundary, violating some constraint. The duality gap reported is
:math:`\min_{s \le t} D(\lambda_s) - J_0(\bar\pi_t)`, an upper bound on the sub-optimality of
:math:`\bar\pi_t` when :math:`\bar\pi_t` is feasible.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from tqdm.auto import tqdm

from mdp.constrained.core import check_cmdp, constraint_ratios, require_achievable
from mdp.model import TabularMDP
from mdp.operators import q_values
from mdp.planning import policy_evaluation, policy_iteration
from theory.results import SolverResult, warn_not_converged
from theory.validation import ParameterError, check_scalar

__all__ = ["LagrangianResult", "LagrangianSolver", "lagrangian"]


@dataclass(frozen=True)
class LagrangianResult(SolverResult):
    """Result of :func:`lagrangian`.

    Attributes:
        policy: ``[S, A]`` the averaged policy :math:`\\bar\\pi` (averaged occupancy).
        value, constraint_values, constraint_ratios, slacks: :math:`J_0(\\bar\\pi)`, ``[k]`` :math:`J_i(\\bar\\pi)`,
            ``J_i / C_i`` and ``J_i - C_i``.
        last_policy, last_value, last_constraint_values, last_slacks: the same for the last best response.
        multipliers: ``[k]`` the last :math:`\\lambda`.
        dual_bound: :math:`\\min_s D(\\lambda_s)` (an upper bound on the CMDP optimum).
        duality_gap: ``dual_bound - value``.
        residual: ``max(|duality_gap| / scale, max_i max(0, C_i - J_i) / |C_i|)`` of the averaged policy,
            the relative gap or violation (``scale = max(1, |dual_bound|)``).
        error_bound: ``None`` (no certified distance to the optimal policy).
        converged: ``residual <= tol`` held.
        iterations: best responses computed (one policy solve each).
        history: when asked for, a structured array with fields ``iteration``, ``value`` (averaged),
            ``duality_gap``, ``slacks`` ``[k]`` (averaged), ``last_slacks`` ``[k]``, ``multipliers`` ``[k]``.
    """

    policy: np.ndarray
    value: float
    constraint_values: np.ndarray
    constraint_ratios: np.ndarray
    slacks: np.ndarray
    last_policy: np.ndarray
    last_value: float
    last_constraint_values: np.ndarray
    last_slacks: np.ndarray
    multipliers: np.ndarray
    dual_bound: float
    duality_gap: float


def _best_response(m: TabularMDP, r: np.ndarray, pi0, rng: np.random.Generator) -> np.ndarray:
    """A deterministic optimal policy of reward ``r``, ties broken uniformly at random."""
    res = policy_iteration(m.with_rewards(r), pi0=pi0)
    Q = q_values(m.P_flat, r, m.gamma, res.V)
    best = Q.max(-1, keepdims=True)
    ties = Q >= best - 1e-10 * max(1.0, float(np.abs(best).max()))
    noise = rng.random(Q.shape)
    return np.eye(m.A)[np.where(ties, noise, -1.0).argmax(-1)]


def _cutting_plane_step(cuts_J: np.ndarray, t: np.ndarray, box: np.ndarray):
    r"""``(lambda, w)``: the minimiser of :math:`\max_s [J_{0,s} + \lambda^\top (J_s - C)]` over
    :math:`0 \le \lambda \le` ``box`` and the mixture weights ``w`` (the LP's duals of the cuts).

    ``cuts_J`` ``[n, 1 + k]`` holds the values :math:`(J_0, J_1, \dots, J_k)` of the best responses so far.
    """
    from scipy.optimize import linprog

    n, k = cuts_J.shape[0], t.shape[0]
    G = cuts_J[:, 1:] - t                                          # [n, k]
    # variables (lambda [k], z): min z  s.t.  J0_s + G_s lambda - z <= 0
    A_ub = np.hstack([G, -np.ones((n, 1))])
    res = linprog(np.r_[np.zeros(k), 1.0], A_ub=A_ub, b_ub=-cuts_J[:, 0],
                  bounds=[(0.0, float(b)) for b in box] + [(None, None)], method="highs")
    if res.status != 0:                                            # numerically troubled master: no step
        return None, None
    w = np.maximum(-np.asarray(res.ineqlin.marginals, float), 0.0)
    w = w / w.sum() if w.sum() > 0 else np.full(n, 1.0 / n)
    return np.clip(res.x[:k], 0.0, box), w


class _SqrtDual:
    r"""RCPO's projected subgradient step; the averaged policy weights best response :math:`s` by :math:`s`."""

    def __init__(self, m, k, eta):
        self.eta = eta
        self.occ_sum = np.zeros((m.S, m.A))
        self.J_sum = np.zeros(k + 1)

    def mix(self, it, J, occ, lam):
        r"""Add best response ``it``; return the averaged values :math:`J(\bar\pi_t)`."""
        self.occ_sum += it * occ
        self.J_sum += it * J
        return self.J_sum / (it * (it + 1) / 2)

    def next_multipliers(self, lam, it, J, t):
        return np.maximum(0.0, lam - self.eta / np.sqrt(it) * (J[1:] - t))

    def averages(self, it, J_avg):
        return self.occ_sum, self.J_sum / (it * (it + 1) / 2)


class _CuttingPlaneDual:
    """Kelley's cutting plane over the best responses' minorants; the master LP's duals mix them."""

    def __init__(self, t, box):
        self.t, self.box = t, box
        self.cuts, self.occs, self.w_prev = [], [], np.zeros(0)
        self.occ_sum = None
        self.lam_next = None

    def mix(self, it, J, occ, lam):
        self.cuts.append(J)
        self.occs.append(occ)
        lam_next, w = _cutting_plane_step(np.array(self.cuts), self.t, self.box)
        if w is None:                                          # keep the previous mixture and multipliers
            lam_next, w = lam, np.r_[self.w_prev, 0.0]
        self.w_prev = w
        self.lam_next = lam_next
        self.occ_sum = np.tensordot(w, np.array(self.occs), 1)
        return w @ np.array(self.cuts)

    def next_multipliers(self, lam, it, J, t):
        return self.lam_next

    def averages(self, it, J_avg):
        return self.occ_sum, J_avg


class LagrangianSolver:
    """The primal–dual method as a stepping object: one :meth:`step` is one best response and one dual update.

    Arguments as :func:`lagrangian` (without ``iterations``: the caller decides how many steps). After a step
    whose ``residual <= tol`` the multipliers are kept and ``converged`` is ``True``. :meth:`result` reports the
    iterations so far (it needs at least one step).
    """

    def __init__(self, m: TabularMDP, aux_rewards, thresholds, seed=0, step_size: float = 1.0, tol: float = 1e-3,
                 lambda0=None, history: bool = False, dual_step: str = "cutting_plane"):
        C, t = check_cmdp(m, aux_rewards, thresholds, who="lagrangian")
        require_achievable(m, C, t, who="lagrangian")
        step_size = check_scalar("step_size", step_size, low=0.0, low_open=True)
        self.tol = check_scalar("tol", tol, low=0.0, low_open=True)
        if dual_step not in ("cutting_plane", "sqrt"):
            raise ParameterError(f"dual_step must be 'cutting_plane' or 'sqrt', got {dual_step!r}")
        k = C.shape[0]
        lam = np.zeros(k) if lambda0 is None else np.atleast_1d(np.asarray(lambda0, dtype=float)).copy()
        if lam.shape != (k,):
            raise ValueError(f"lambda0 has shape {lam.shape}; expected ({k},)")
        for i, v in enumerate(lam):
            check_scalar(f"lambda0[{i}]", v, low=0.0)
        self.m, self.C, self.t, self.k, self.history = m, C, t, k, history
        self.rng = np.random.default_rng(seed)
        span = lambda r: max(float(r.max() - r.min()), 1e-12) / (1.0 - m.gamma)  # noqa: E731
        eta = step_size * span(m.R) / np.array([span(c) ** 2 for c in C])
        box = 1e6 * span(m.R) / np.array([span(c) for c in C])
        box = np.maximum(box, lam)
        self.dual = _SqrtDual(m, k, eta) if dual_step == "sqrt" else _CuttingPlaneDual(t, box)
        R_all = np.concatenate([m.R[..., None], np.moveaxis(C, 0, -1)], axis=-1)
        self.m_all = m.with_rewards(R_all)
        self.multipliers = lam
        self.dual_bound = np.inf
        self.pi = self.J = self.J_avg = None
        self.rows = []
        self.iteration = 0
        self.residual = np.inf
        self.converged = False

    def step(self) -> None:
        """Best response to the current multipliers, exact values, averaged policy, then the dual step."""
        m, C, t, lam = self.m, self.C, self.t, self.multipliers
        it = self.iteration + 1
        self.iteration = it
        pi = self.pi = _best_response(m, m.R + np.tensordot(lam, C, 1), self.pi, self.rng)
        V = policy_evaluation(self.m_all, pi)                  # [S, 1 + k]
        J = self.J = m.mu @ V
        self.dual_bound = min(self.dual_bound, float(J[0] + lam @ (J[1:] - t)))
        # occupancy d(s, a) = (1 - gamma) mu^T (I - gamma P_pi)^{-1} [s] pi(a|s)
        occ = _state_occupancy(m, pi)[:, None] * pi
        J_avg = self.J_avg = self.dual.mix(it, J, occ, lam)
        gap = self.dual_bound - J_avg[0]
        viol = np.max(np.maximum(0.0, t - J_avg[1:]) / np.maximum(np.abs(t), 1e-12))
        self.residual = max(abs(gap) / max(1.0, abs(self.dual_bound)), float(viol))
        if self.history:
            self.rows.append((it, J_avg[0], gap, J_avg[1:] - t, J[1:] - t, lam.copy()))
        self.converged = bool(self.residual <= self.tol)
        if not self.converged:
            self.multipliers = self.dual.next_multipliers(lam, it, J, t)

    def result(self) -> LagrangianResult:
        m, t, k, it, J, pi, lam = self.m, self.t, self.k, self.iteration, self.J, self.pi, self.multipliers
        occ_sum, J_avg = self.dual.averages(it, self.J_avg)
        mass = occ_sum.sum(1, keepdims=True)
        avg = np.where(mass > 0, occ_sum / np.where(mass > 0, mass, 1.0), 1.0 / m.A)
        hist = None
        if self.history:
            dt = [("iteration", int), ("value", float), ("duality_gap", float), ("slacks", float, (k,)),
                  ("last_slacks", float, (k,)), ("multipliers", float, (k,))]
            hist = np.array(self.rows, dtype=dt)
        dual_bound = self.dual_bound
        return LagrangianResult(avg, float(J_avg[0]), J_avg[1:], constraint_ratios(J_avg[1:], t), J_avg[1:] - t,
                                pi, float(J[0]), J[1:], J[1:] - t, lam, dual_bound, dual_bound - float(J_avg[0]),
                                residual=float(self.residual), error_bound=None, converged=self.converged,
                                iterations=it, history=hist)


def lagrangian(m: TabularMDP, aux_rewards, thresholds, seed=0, iterations: int = 2000, step_size: float = 1.0,
               tol: float = 1e-3, lambda0=None, history: bool = False,
               dual_step: str = "cutting_plane", callback=None) -> LagrangianResult:
    r"""Primal–dual method with exact best responses and projected dual descent (module docstring).

    Args:
        m: :class:`TabularMDP`; its scalar reward ``m.R[S, A]`` is the main signal.
        aux_rewards: ``[k, S, A]`` constraint signals (or ``[S, A]``).
        thresholds: ``[k]``: the constraints are :math:`J_i(\pi) \ge C_i`.
        seed: breaks ties between optimal actions of a best response (the best response is set-valued
            exactly at the multipliers that matter).
        iterations: budget of best responses (>= 1).
        step_size: unit-free dual step :math:`\eta > 0` of ``dual_step="sqrt"`` (unused by the cutting plane).
        tol: relative tolerance of the stopping test ``residual <= tol`` (see :class:`LagrangianResult`).
        lambda0: ``[k]`` initial multipliers (zeros by default), each >= 0.
        history: record the per-iteration values, gap, slacks and multipliers.
        dual_step: ``"cutting_plane"`` (default, no step size, converges in finitely many best responses) or
            ``"sqrt"`` (RCPO's projected subgradient step :math:`\eta_{t,i} \propto 1/\sqrt t`).
        callback: called as ``callback(solver)`` after every iteration with the :class:`LagrangianSolver`
            (its ``iteration``, ``multipliers``, ``residual``; ``solver.result()`` is the run so far).

    Returns:
        :class:`LagrangianResult`.

    Raises:
        InfeasibleConstraintsError: a threshold exceeds the largest value its signal reaches under any policy.

    Example:
        >>> import numpy as np
        >>> from mdp import TabularMDP
        >>> from mdp.constrained import lagrangian
        >>> m = TabularMDP(np.ones((1, 2, 1)), np.array([[1.0, 0.0]]), 0.5)
        >>> r = lagrangian(m, np.array([[0.0, 1.0]]), [1.0])
        >>> round(r.value, 6), round(float(r.slacks[0]), 6), r.converged   # the mixture pi = (1/2, 1/2)
        (1.0, 0.0, True)
    """
    solver = LagrangianSolver(m, aux_rewards, thresholds, seed, step_size, tol, lambda0, history, dual_step)
    iterations = check_scalar("iterations", iterations, low=1, integer=True)
    for _ in tqdm(range(iterations), desc="lagrangian", disable=None, leave=False):
        solver.step()
        if callback is not None:
            callback(solver)
        if solver.converged:
            break
    if not solver.converged:
        warn_not_converged("lagrangian", residual=solver.residual, tol=solver.tol, iterations=solver.iteration)
    return solver.result()


def _state_occupancy(m: TabularMDP, pi: np.ndarray) -> np.ndarray:
    r"""``[S]``: :math:`(1-\gamma)\,\mu^\top (I - \gamma P_\pi)^{-1}` (the normalised discounted state occupancy)."""
    from mdp.operators import policy_kernel

    P_pi = policy_kernel(m.P, pi)
    P_pi = P_pi.toarray() if hasattr(P_pi, "toarray") else P_pi
    return (1.0 - m.gamma) * np.linalg.solve((np.eye(m.S) - m.gamma * P_pi).T, m.mu)
