r"""Variance-reduced solvers for finite-sum monotone inclusions: :func:`vr_halpern` (Algorithm 1),
:func:`vr_halpern_inexact` (Algorithm 2) and :func:`vr_extragradient` (see :mod:`theory.monotone` for the
methods, the oracle protocol and the result).

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

import numpy as np

from theory import compiled
from theory.monotone import HalpernResult, _copy, _Monitor, _require_operator, _step
from theory.validation import ParameterError, check_scalar

__all__ = ["random_subsets", "DRAW_CHUNK", "BACKENDS", "vr_halpern", "vr_halpern_inexact", "vr_extragradient"]


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
