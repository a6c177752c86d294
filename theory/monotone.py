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

Random draws. The coin flips and sampled indices of the variance-reduced methods do not depend on the
iterates, so they are drawn in blocks, which removes the per-iteration cost of the random number calls
(``Generator.choice(n, b, replace=False)`` alone cost more than the rest of an iteration at
``n = 4096``). :func:`vr_halpern` draws, every ``DRAW_CHUNK`` iterations, ``DRAW_CHUNK`` coins
``rng.random(DRAW_CHUNK)`` and then ``DRAW_CHUNK`` subsets ``random_subsets(rng, n, b, DRAW_CHUNK)``;
iteration ``k`` uses coin and subset ``k % DRAW_CHUNK`` of its block (the subset is unused when the coin
calls for a full evaluation). :func:`vr_halpern_inexact` draws, per outer iteration, the ``M_k`` indices
``rng.integers(n, size=(M_k, 1))`` and then ``M_k`` coins ``rng.random(M_k)``. Each run is a pure function
of ``seed``; the distributions are those of the algorithms (uniform ``b``-subsets, Bernoulli(``p_k``)).

Backends. :func:`vr_halpern` and :func:`vr_halpern_inexact` take ``backend="python"`` (the reference: the
loops below, every oracle use a charged ``op.full`` / ``op.batch`` call), ``"numba"`` (the compiled loops
of :mod:`theory.compiled` for :class:`~theory.operators.LeastSquares` and
:class:`~theory.operators.MatrixGame` on one numpy instance: the same draws, the same residual checks,
iterates equal to the reference's to rounding, oracle calls charged in bulk per block) or ``"auto"``
(the default: ``"numba"`` where it applies and numba is installed, else ``"python"``).
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np

from theory import compiled
from theory.operators import FiniteSumOperator
from theory.results import NotConvergedWarning, SolverResult
from theory.validation import ParameterError, check_scalar

__all__ = ["HalpernResult", "random_subsets", "DRAW_CHUNK", "BACKENDS", "halpern", "halpern_fixed_point", "vr_halpern",
           "vr_halpern_inexact", "eag",
           "extragradient", "vr_extragradient"]


@dataclass(frozen=True)
class HalpernResult(SolverResult):
    r"""``x`` (last iterate), ``residuals[j]`` measured after ``calls[j]`` oracle calls, ``solver`` (the
    method's name), ``eta`` (its step size); and the base fields: the final ``residual`` :math:`\|F x\|` of
    the returned iterate (max over a batch), ``oracle_calls``, ``iterations``, ``converged``
    (residual <= eps). ``error_bound`` is ``None``: a monotone inclusion gives no certified distance to the
    solution set from the residual alone. The recorded ``(calls, residuals)`` pairs are the history."""

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
        return HalpernResult(x, np.asarray(self.res), np.asarray(self.calls, dtype=np.int64), self.method, float(eta),
                             residual=self.res[-1], oracle_calls=self.used(), iterations=iterations,
                             converged=self.converged)


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


DRAW_CHUNK = 256


def random_subsets(rng: np.random.Generator, n: int, b: int, k: int) -> np.ndarray:
    r"""``k`` independent uniformly random ``b``-subsets of ``{0, ..., n-1}``, one per row (sorted).

    When :math:`b^2 \le 4n` the rows are drawn with replacement, ``rng.integers(0, n, size=(k, b))``, and
    every row with a repeated index is redrawn until none is left (rejection sampling: a row without
    repeats is a uniform ordered tuple of distinct indices, so its sorted set is a uniform subset;
    acceptance probability about :math:`e^{-b^2/(2n)} \ge e^{-2}`). Otherwise each row is the ``b``
    smallest keys of ``rng.random((k, n))`` (a uniform random permutation's prefix).

    Args:
      rng: the generator (advanced).
      n: population size; b: subset size (``1 <= b <= n``); k: number of subsets.

    Returns:
      ``[k, b]`` int64 array, each row sorted with distinct entries.
    """
    if not 1 <= b <= n:
        raise ValueError(f"subset size b must lie in 1..{n}, got {b}")
    if b * b > 4 * n:
        return np.sort(np.argpartition(rng.random((k, n)), b - 1, axis=1)[:, :b], axis=1)
    out = np.sort(rng.integers(0, n, size=(k, b)), axis=1)
    bad = np.flatnonzero((out[:, 1:] == out[:, :-1]).any(axis=1))
    while bad.size:
        redo = np.sort(rng.integers(0, n, size=(bad.size, b)), axis=1)
        out[bad] = redo
        bad = bad[(redo[:, 1:] == redo[:, :-1]).any(axis=1)]
    return out


def _copy(x):
    return x.clone() if hasattr(x, "clone") else np.array(x, dtype=np.float64)


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


BACKENDS = ("auto", "python", "numba")


def _compiled_family(op, x0, backend, method):
    """The :mod:`theory.compiled` family to use, or ``None`` for the reference path (see ``backend``)."""
    if backend not in BACKENDS:
        raise ParameterError(f"{method}: backend must be one of {BACKENDS}, got {backend!r}")
    if backend == "python":
        return None
    fam = compiled.family(op) if isinstance(x0, np.ndarray) and x0.ndim == 1 else None
    if backend == "numba":
        if not compiled.HAVE_NUMBA:
            raise ImportError(f"{method}: backend='numba' needs numba (pip install theorysim[fast])")
        if fam is None:
            raise ParameterError(f"{method}: backend='numba' supports LeastSquares and MatrixGame on one numpy "
                                 f"instance with a 1-D x0; got {type(op).__name__} and x0 of shape "
                                 f"{getattr(x0, 'shape', None)}")
    return fam if compiled.HAVE_NUMBA else None


def _vr_halpern_compiled(fam, op, x0, mon, rng, b, eta) -> HalpernResult:
    """Algorithm 1 with the iterations and the residual checks of a block of draws compiled
    (:func:`theory.compiled.page_steps`): the same draws as the reference loop of :func:`vr_halpern` (a block
    of ``DRAW_CHUNK`` coins, then of ``DRAW_CHUNK`` subsets, every ``DRAW_CHUNK`` iterations), the same checks
    (recorded into ``mon``), the oracle calls of each block charged to ``op.calls`` at once."""
    n = op.n
    u0 = np.array(x0, dtype=np.float64)
    u, u_prev, Ft = u0.copy(), u0.copy(), np.zeros_like(u0)
    k = 0
    while True:
        coins = rng.random(DRAW_CHUNK)
        subsets = random_subsets(rng, n, b, DRAW_CHUNK)
        used = mon.used()
        st = compiled.page_steps(fam, u0, u, u_prev, Ft, k, 0, coins, subsets, eta, used, mon.last,
                                 mon.check_every, mon.max_calls, mon.eps)
        op.calls += st.used - used
        k, mon.last = st.k, st.last
        mon.calls.extend(int(c) for c in st.calls)
        mon.res.extend(float(r) for r in st.residuals)
        if st.status == 1:
            mon.converged = True
        if st.status:
            return mon.result(u, k, eta)


def vr_halpern(op, x0, *, eps: float, max_calls: int, seed=None, eta: float | None = None,
               batch_size: int | None = None, check_every: int | None = None, backend: str = "auto") -> HalpernResult:
    r"""Algorithm 1: Halpern iteration with the PAGE variance-reduced estimator (single loop).

    Default :math:`\eta = 1/L` with :math:`L` the exact mean-square component constant ``op.L`` (a dense
    eigenvalue computation, :func:`theory.operators.lipschitz_constants`; the paper's theory takes
    :math:`\eta = \Theta(1/L)`; Reconstruction: the constant 1); a step above :math:`1/L` warns.
    ``batch_size`` defaults to :math:`\lfloor\sqrt n\rfloor`.

    Args:
        op: a :class:`theory.operators.FiniteSumOperator` (oracle calls are counted through ``op.full`` /
            ``op.batch``).
        x0: starting point ``[dim]`` (or ``[B, dim]`` for a batch of instances).
        eps: target residual :math:`\|F x\|` (> 0); max_calls: oracle-call budget (>= 1).
        seed: seed of the coins and sampled components; eta: step (default ``1 / op.L``);
        batch_size: components per PAGE correction; check_every: oracle calls between residual checks.
        backend: ``"python"`` (the reference: one charged ``op.full`` / ``op.batch`` call per oracle use),
            ``"numba"`` (the compiled iterations of :mod:`theory.compiled`, same draws, same iterates to
            rounding, oracle calls charged in bulk; least squares and matrix games on one numpy instance) or
            ``"auto"`` (``"numba"`` where it applies and numba is installed, else ``"python"``).

    Returns:
        :class:`HalpernResult` with the last iterate ``x``, ``residual`` :math:`\|F x\|`, ``oracle_calls``,
        ``iterations``, ``converged`` (``residual <= eps``) and the recorded ``(calls, residuals)``.

    Example:
        >>> import numpy as np
        >>> from theory.operators import random_least_squares
        >>> op = random_least_squares(256, d=5, seed=0)
        >>> res = vr_halpern(op, np.zeros(op.dim), eps=1e-3, max_calls=200_000, seed=0)
        >>> bool(res.converged), res.residual <= 1e-3
        (True, True)
    """
    _require_operator(op, "vr_halpern")
    rng = np.random.default_rng(seed)
    n = op.n
    b = max(1, math.isqrt(n)) if batch_size is None else check_scalar("batch_size", batch_size, low=1, high=n,
                                                                      integer=True)
    if not op.cocoercive:
        warnings.warn(f"vr_halpern: Algorithm 1's guarantee needs cocoercive components; {op.name} is only "
                      "monotone (use vr_halpern_inexact)", stacklevel=2)
    eta = _step(eta, 1.0 / op.L, 1.0 / op.L, "1/L", "vr_halpern")
    mon = _Monitor(op, x0, eps, max_calls, check_every, "vr_halpern")
    fam = _compiled_family(op, x0, backend, "vr_halpern")
    if fam is not None:
        return _vr_halpern_compiled(fam, op, x0, mon, rng, b, eta)
    u0 = _copy(x0)
    u = _copy(x0)
    u_prev = u
    Ft = None
    sq = math.sqrt(n)
    k = 0
    coins = subsets = None
    while not mon.check(u):
        j = k % DRAW_CHUNK
        if j == 0:  # the randomness does not depend on the iterates: draw a chunk at once (module docstring)
            coins = rng.random(DRAW_CHUNK)
            subsets = random_subsets(rng, n, b, DRAW_CHUNK)
        if k <= 1:
            p = 1.0
        elif k - 1 <= sq:
            p = 4.0 / (k + 4)
        else:
            p = 4.0 / (sq + 5)
        if Ft is None or coins[j] < p:
            Ft = op.full(u)
        else:
            idx = subsets[j]
            Ft = Ft + op.batch(idx, u) - op.batch(idx, u_prev)
        lam = 2.0 / (k + 4)
        u_prev = u
        u = op.resolvent(lam * u0 + (1 - lam) * u - eta * Ft, eta)
        k += 1
    return mon.result(u, k, eta)


def vr_halpern_inexact(op, x0, *, eps: float, max_calls: int, seed=None, eta: float | None = None,
                       inner_scale: float = 0.05, gamma: float | None = None,
                       check_every: int | None = None, uncharged_inner_start: bool = False,
                       backend: str = "auto") -> HalpernResult:
    r"""Algorithm 2: inexact Halpern iteration on the resolvent :math:`J_{\eta(F+G)}`, each resolvent
    approximated by ``M_k = max(1, floor(inner_scale * n * log(k+2)))`` VR-FoRB steps.

    Defaults follow the authors' code: :math:`\eta = \sqrt n/L`,
    :math:`\gamma = 5\sqrt{p(1-p)}/(\sqrt n+1)` with :math:`p = 1/n`. VR-FoRB step (Alacaoglu &
    Malitsky 2022) on :math:`\Phi(v) = \eta F(v) + v - u_k`:
    :math:`\bar v_j = \alpha v_j + (1-\alpha)w_j`,
    :math:`v_{j+1} = J_{\gamma\eta G}(\bar v_j - \gamma[\Phi(w_j) + \Phi_\xi(v_j) - \Phi_\xi(w_{j-1})])`,
    :math:`w_{j+1} = v_{j+1}` w.p. :math:`p` (then :math:`F(w)` is recomputed), :math:`\alpha = 1-p`.
    The default :math:`\eta` uses the exact mean-square constant ``op.L`` (:mod:`theory.operators`).

    ``uncharged_inner_start=True`` reproduces the counting of the authors' ``matrix_game.py``, whose inner
    solver evaluates the full operator at the start of every inner solve without adding the ``n`` calls to
    its counter (their ``quadratic_programming.py`` charges them). It is wrong accounting, kept only to
    reproduce their Figure 1(a) curve: the evaluation is still made through ``op.full`` (``op.calls``
    counts it) but left out of ``oracle_calls``, the budget and the residual history.

    ``backend``: ``"python"`` (reference, every oracle use a charged call), ``"numba"`` (the inner VR-FoRB
    loop compiled, :func:`theory.compiled.forb_steps`: same draws, same iterates to rounding, its calls
    charged in bulk) or ``"auto"`` (``"numba"`` where it applies, see :func:`vr_halpern`).
    """
    _require_operator(op, "vr_halpern_inexact")
    rng = np.random.default_rng(seed)
    n = op.n
    p = 1.0 / n if n > 1 else 0.5
    alpha = 1.0 - p
    eta = _step(eta, math.sqrt(n) / op.L, math.inf, "inf", "vr_halpern_inexact")
    gamma = float(gamma if gamma is not None else 5.0 * math.sqrt(p * (1 - p)) / (math.sqrt(n) + 1))
    if not gamma > 0:
        raise ValueError(f"gamma must be > 0, got {gamma}")
    if inner_scale <= 0:
        raise ValueError(f"inner_scale must be > 0, got {inner_scale}")
    mon = _Monitor(op, x0, eps, max_calls, check_every, "vr_halpern_inexact")
    fam = _compiled_family(op, x0, backend, "vr_halpern_inexact")
    u0 = _copy(x0)
    u = _copy(x0)
    k = 0
    stop = mon.check(u)
    while not stop:
        M = max(1, int(inner_scale * n * math.log(k + 2)))
        # the M component indices and M coins of this resolvent, drawn at once (module docstring)
        draws = rng.integers(n, size=(M, 1))
        coins = rng.random(M)
        v = _copy(u)
        w = _copy(u)
        w_prev = w
        Fw = op.full(w)
        if uncharged_inner_start:
            mon.uncharged += n
        stop_at = mon.start + mon.uncharged + mon.max_calls
        gamma_eta = gamma * eta
        if fam is not None:  # the same steps, compiled; its calls charged in bulk
            v, w, Fw = np.array(v, dtype=np.float64), np.array(w, dtype=np.float64), np.array(Fw, dtype=np.float64)
            op.calls += compiled.forb_steps(fam, u, v, w, Fw, draws, coins, eta, gamma, p, stop_at - op.calls)
            M = 0
        for j in range(M):
            i = draws[j]
            # Phi_xi(v) - Phi_xi(w_prev) = eta (F_xi(v) - F_xi(w_prev)) + v - w_prev
            corr = eta * (op.batch(i, v) - op.batch(i, w_prev)) + (v - w_prev)
            v_new = op.resolvent(alpha * v + (1 - alpha) * w - gamma * (eta * Fw + w - u + corr), gamma_eta)
            w_prev = w
            if coins[j] < p:
                w = v_new
                Fw = op.full(w)
            v = v_new
            if op.calls >= stop_at:
                break
        lam = 1.0 / (k + 2)
        u = lam * u0 + (1 - lam) * v
        k += 1
        stop = mon.check(u)
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


def vr_extragradient(op, x0, *, eps: float, max_calls: int, seed=None, eta: float | None = None,
                     check_every: int | None = None) -> HalpernResult:
    r"""Loopless variance-reduced extragradient (Alacaoglu & Malitsky 2022), :math:`p = 1/n`,
    :math:`\alpha = 1-p`: :math:`\bar u = \alpha u + (1-\alpha)w`,
    :math:`u_{1/2} = J(\bar u - \eta F(w))`,
    :math:`u^+ = J(\bar u - \eta[F(w) + F_\xi(u_{1/2}) - F_\xi(w)])`, :math:`w \leftarrow u^+` w.p. :math:`p`.
    Default :math:`\eta = 0.99\sqrt p/L` (theory: :math:`\eta < \sqrt{1-\alpha}/L`)."""
    _require_operator(op, "vr_extragradient")
    rng = np.random.default_rng(seed)
    n = op.n
    p = 1.0 / n if n > 1 else 0.5
    alpha = 1.0 - p
    eta = _step(eta, 0.99 * math.sqrt(p) / op.L, math.sqrt(p) / op.L, "sqrt(p)/L", "vr_extragradient")
    mon = _Monitor(op, x0, eps, max_calls, check_every, "vr_extragradient")
    u = _copy(x0)
    w = _copy(x0)
    Fw = op.full(w)
    k = 0
    while not mon.check(u):
        ubar = alpha * u + (1 - alpha) * w
        half = op.resolvent(ubar - eta * Fw, eta)
        i = rng.integers(n, size=1)
        u = op.resolvent(ubar - eta * (Fw + op.batch(i, half) - op.batch(i, w)), eta)
        if rng.random() < p:
            w = u
            Fw = op.full(w)
        k += 1
    return mon.result(u, k, eta)
