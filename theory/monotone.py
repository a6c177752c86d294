r"""Halpern-type and extragradient-type solvers for finite-sum monotone inclusions.

Problem: find :math:`u^*` with :math:`0 \in F(u^*) + G(u^*)`, :math:`F = \frac1n\sum_i F_i` (see
:mod:`theory.operators` for the oracle protocol; every solver calls ``op.full`` / ``op.batch`` on the
object it is given, so ``op.calls`` counts every component evaluation, and certificates use
``op.residual``, which is free).

Methods (Cai, Alacaoglu & Diakonikolas, ICLR 2024, "Variance Reduced Halpern Iteration for
Finite-Sum Monotone Inclusions", and the baselines of its experiments):

* :func:`halpern` — :math:`u_{k+1} = \lambda_k u_0 + (1-\lambda_k)\,T u_k`, :math:`T = J_{\eta G}(I-\eta F)`,
  :math:`\lambda_k = 1/(k+2)`. For nonexpansive :math:`T` (cocoercive :math:`F`, :math:`\eta\le 2/L_F`)
  Lieder's bound holds: :math:`\|u_k - Tu_k\| \le 2\|u_0-u^*\|/(k+1)`. Cost :math:`O(nL_FD/\varepsilon)`.
* :func:`vr_halpern` — Algorithm 1 (cocoercive case): the anchored forward–backward step
  :math:`u_{k+1} = J_{\eta G}(\lambda_k u_0 + (1-\lambda_k)u_k - \eta\tilde F_k)`, :math:`\lambda_k = 2/(k+4)`,
  with the PAGE estimator :math:`\tilde F_k = F(u_k)` w.p. :math:`p_k`, else
  :math:`\tilde F_{k-1} + \frac1b\sum_{i\in S_k}[F_i(u_k)-F_i(u_{k-1})]`, :math:`b=\lfloor\sqrt n\rfloor`,
  :math:`p_k = 1\ (k\le1),\ 4/(k+4)\ (k-1\le\sqrt n),\ 4/(\sqrt n+5)` otherwise (as in the authors' code).
  Oracle complexity :math:`\tilde O(n + \sqrt n L/\varepsilon)`.
* :func:`vr_halpern_inexact` — Algorithm 2 (monotone Lipschitz case): :math:`u_{k+1} = \lambda_k u_0 +
  (1-\lambda_k)\tilde u_k`, :math:`\lambda_k = 1/(k+2)`, where :math:`\tilde u_k \approx J_{\eta(F+G)}(u_k)`
  is computed by ``M_k = c n log(k+2)`` steps of VR-FoRB (Alacaoglu & Malitsky 2022) on the
  1-strongly monotone :math:`\Phi(v) = \eta F(v) + v - u_k`, :math:`\eta = \sqrt n/L`.
* :func:`eag` — extra-anchored gradient (Yoon & Ryu 2021), projected.
* :func:`extragradient` — Korpelevich's extragradient, projected.
* :func:`vr_extragradient` — loopless variance-reduced extragradient (Alacaoglu & Malitsky 2022).

All return :class:`HalpernResult` with the residual history against oracle calls (checked every
``check_every`` calls, one epoch = ``n`` calls by default). Step sizes outside each method's theory
range trigger a ``UserWarning`` that names the bound; they are still run (the paper's own experiments
use such steps); running out of ``max_calls`` before ``eps`` warns with
:class:`~theory.results.NotConvergedWarning` (``converged=False``). Iterates may be numpy vectors or torch
tensors with a leading batch axis (one instance per row, shared random indices and coin flips across the batch).

The variance-reduced methods live in :mod:`theory.variance_reduced` (random draws, compiled backends).
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np

from theory.backend import is_torch
from theory.operators.base import FiniteSumOperator
from theory.results import NotConvergedWarning, SolverResult
from theory.validation import check_scalar

__all__ = ["HalpernResult", "halpern", "halpern_fixed_point", "eag", "extragradient"]


@dataclass(frozen=True)
class HalpernResult(SolverResult):
    r"""``x`` (last iterate), ``residuals[j]`` measured after ``calls[j]`` oracle calls (the maximum over a
    batch: the stopping test), ``solver`` (the method's name), ``eta`` (its step size); and the base fields:
    the final natural ``residual`` (:math:`\|F x\|` when :math:`G = 0`) of the returned iterate,
    ``oracle_calls``, ``iterations`` and ``converged`` (residual <= eps) — ``residual`` and ``converged``
    per instance (``[B]``, the iterate's kind) for a batch of instances ``x[B, dim]``. ``error_bound`` is
    ``None``: a monotone inclusion gives no certified distance to the solution set from the residual alone.
    The recorded ``(calls, residuals)`` pairs are the history."""

    x: object
    residuals: np.ndarray
    calls: np.ndarray
    solver: str
    eta: float

    def calls_to(self, eps: float) -> float:
        """First recorded oracle count with residual <= eps (``inf`` if never)."""
        hit = np.flatnonzero(self.residuals <= eps)
        return float(self.calls[hit[0]]) if hit.size else math.inf


def _max(r) -> float:
    return float(r.max()) if hasattr(r, "max") else float(r)


class _Monitor:
    """Records the (free) residual every ``check_every`` oracle calls; decides when to stop."""

    def __init__(self, op, x0, eps, max_calls, check_every, method):
        eps = check_scalar("eps", eps, low=0.0, low_open=True, high=math.inf, high_open=True)
        max_calls = check_scalar("max_calls", max_calls, low=1, integer=True)
        _require_operator(op, method)
        op.check_point(x0)
        self.op, self.eps, self.max_calls, self.method = op, float(eps), int(max_calls), method
        self.check_every = int(check_every or op.n)
        self.start = op.calls
        self.uncharged = 0  # calls made but deliberately not counted (vr_halpern_inexact's authors' mode)
        self.last = -math.inf
        self.calls, self.res = [], []
        self.converged = False

    def used(self) -> int:
        return self.op.calls - self.start - self.uncharged

    def check(self, x, force: bool = False) -> bool:
        """Record if due; return True when the loop should stop."""
        used = self.used()
        if force or used - self.last >= self.check_every:
            r = _max(self.op.residual(x))
            self.calls.append(used)
            self.res.append(r)
            self.last = used
            if r <= self.eps:
                self.converged = True
                return True
        return used >= self.max_calls

    def result(self, x, iterations, eta) -> HalpernResult:
        if not self.res or self.calls[-1] != self.used():
            self.check(x, force=True)
        if not self.converged:
            warnings.warn(f"{self.method} stopped at {self.used()} oracle calls (budget {self.max_calls}) with "
                          f"residual {self.res[-1]:.3g} > eps = {self.eps:g}", NotConvergedWarning, stacklevel=3)
        residual, converged = self.res[-1], self.converged
        if getattr(x, "ndim", 1) > 1:  # a batch of instances: the certificate of each (free, not charged)
            residual = self.op.residual(x)
            converged = residual <= self.eps
        return HalpernResult(x, np.asarray(self.res), np.asarray(self.calls, dtype=np.int64), self.method, float(eta),
                             residual=residual, oracle_calls=self.used(), iterations=iterations, converged=converged)


def _require_operator(op, method: str) -> None:
    """``op`` must be a :class:`~theory.operators.FiniteSumOperator` (a matrix is not an operator)."""
    if not isinstance(op, FiniteSumOperator):
        shape = f" of shape {tuple(op.shape)}" if hasattr(op, "shape") else ""
        raise TypeError(f"{method}: op must be a theory.operators.FiniteSumOperator (e.g. "
                        f"theory.operators.least_squares(A, b)), got {type(op).__name__}{shape}")


def _step(eta, default, bound, what, method):
    if eta is None:
        return default
    if not (eta > 0 and math.isfinite(eta)):
        raise ValueError(f"{method}: eta must be a finite number > 0, got {eta!r}")
    if eta > bound * (1 + 1e-12):
        warnings.warn(f"{method}: step size eta = {eta:.4g} exceeds the theory bound {what} = {bound:.4g}; "
                      "convergence is not guaranteed", stacklevel=3)
    return float(eta)


def _copy(x):
    return x.clone() if is_torch(x) else np.array(x, dtype=np.float64)


# ----------------------------------------------------------------------------------------------
def halpern_fixed_point(T, x0, iterations: int):
    r"""Plain Halpern iteration :math:`x_{k+1} = \frac1{k+2}x_0 + \frac{k+1}{k+2}Tx_k` for a map ``T``;
    returns the iterates ``[iterations + 1, dim]``."""
    xs = [np.asarray(x0, dtype=np.float64)]
    for k in range(iterations):
        lam = 1.0 / (k + 2)
        xs.append(lam * xs[0] + (1 - lam) * T(xs[-1]))
    return np.stack(xs)


def halpern(op, x0, *, eps: float, max_calls: int, seed=None, eta: float | None = None,
            check_every: int | None = None) -> HalpernResult:
    r"""Halpern iteration on :math:`T = J_{\eta G}(I - \eta F)` with full operator evaluations.

    Default :math:`\eta = 1/L_F`; theory (nonexpansive :math:`T`) needs a cocoercive :math:`F` and
    :math:`\eta \le 2/L_F`. ``seed`` is unused (deterministic); accepted for a uniform signature.
    """
    _require_operator(op, "halpern")
    if not op.cocoercive:
        warnings.warn(f"halpern: {op.name} is not cocoercive, so J(I - eta F) need not be nonexpansive; "
                      "use eag or vr_halpern_inexact", stacklevel=2)
    eta = _step(eta, 1.0 / op.L_F, 2.0 / op.L_F, "2/L_F", "halpern")
    mon = _Monitor(op, x0, eps, max_calls, check_every, "halpern")
    u0 = _copy(x0)
    u = _copy(x0)
    k = 0
    while not mon.check(u):
        lam = 1.0 / (k + 2)
        u = lam * u0 + (1 - lam) * op.resolvent(u - eta * op.full(u), eta)
        k += 1
    return mon.result(u, k, eta)


def eag(op, x0, *, eps: float, max_calls: int, seed=None, eta: float | None = None,
        check_every: int | None = None) -> HalpernResult:
    r"""Extra-anchored gradient (Yoon & Ryu 2021), with projections for constraints:
    :math:`u_{k+1/2} = J(u_k + \beta_k(u_0-u_k) - \eta F(u_k))`,
    :math:`u_{k+1} = J(u_k + \beta_k(u_0-u_k) - \eta F(u_{k+1/2}))`, :math:`\beta_k = 1/(k+2)`.
    Default :math:`\eta = 1/(8L_F)` (EAG-C's theory bound; larger steps warn)."""
    _require_operator(op, "eag")
    eta = _step(eta, 1.0 / (8 * op.L_F), 1.0 / (8 * op.L_F), "1/(8 L_F)", "eag")
    mon = _Monitor(op, x0, eps, max_calls, check_every, "eag")
    u0 = _copy(x0)
    u = _copy(x0)
    k = 0
    while not mon.check(u):
        beta = 1.0 / (k + 2)
        anchor = u + beta * (u0 - u)
        half = op.resolvent(anchor - eta * op.full(u), eta)
        u = op.resolvent(anchor - eta * op.full(half), eta)
        k += 1
    return mon.result(u, k, eta)


def extragradient(op, x0, *, eps: float, max_calls: int, seed=None, eta: float | None = None,
                  check_every: int | None = None) -> HalpernResult:
    r"""Korpelevich's extragradient: :math:`u_{k+1/2} = J(u_k - \eta F(u_k))`,
    :math:`u_{k+1} = J(u_k - \eta F(u_{k+1/2}))`; default :math:`\eta = 0.5/L_F` (theory: :math:`\eta < 1/L_F`).
    Its last-iterate residual decays like :math:`O(1/\sqrt k)` on monotone problems."""
    _require_operator(op, "extragradient")
    eta = _step(eta, 0.5 / op.L_F, 1.0 / op.L_F, "1/L_F", "extragradient")
    mon = _Monitor(op, x0, eps, max_calls, check_every, "extragradient")
    u = _copy(x0)
    k = 0
    while not mon.check(u):
        half = op.resolvent(u - eta * op.full(u), eta)
        u = op.resolvent(u - eta * op.full(half), eta)
        k += 1
    return mon.result(u, k, eta)
