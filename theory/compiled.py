r"""Compiled inner loops of VR-Halpern (Algorithms 1 and 2) for the closed-form operator families.

A VR-Halpern iteration on ``d = 20`` touches :math:`2\sqrt n` rows of ``d`` numbers: a microsecond of
arithmetic, behind some twenty numpy calls (two charged ``op.batch`` calls, the anchored update, the
resolvent, the stopping check) that cost 15-50 microseconds of interpreter time. This module runs the
same arithmetic in loops compiled by numba (``pip install theorysim[fast]``), for the operator
families whose components have a closed form:

* :class:`theory.operators.LeastSquares` (one numpy instance ``A [n, d]``, optional :math:`\ell_1`
  term): :math:`F_i(u) = a_i(a_i^\top u - b_i)`, resolvent the soft threshold;
* :class:`theory.operators.MatrixGame` (``A [m, k]``): component :math:`i` adds :math:`n\,A_{:,i}y_i`
  to the :math:`x`-block and :math:`-n\,x_iA_{i,:}` to the :math:`y`-block, resolvent the projection on
  the two simplices (the sort-based rule of :func:`theory.operators.project_simplex`, same arithmetic).

The kernels consume the random draws that :mod:`theory.halpern` makes in Python with the same
generator calls as the reference path (``backend="python"``), in the same order, so a run takes the same
coins and the same sampled components; they perform the same floating-point operations up to the
summation order inside the dot products, so the iterates agree with the reference path to rounding
(tested to 1e-12). Oracle calls are charged in bulk: each kernel returns the number of component
evaluations it made (``n`` per full evaluation, ``|S|`` per batch), which the caller adds to
``op.calls``; a test checks the count against the reference path's per-call count.

Without numba, :data:`HAVE_NUMBA` is ``False``, :func:`family` still answers, and the solvers'
``backend="auto"`` falls back to the reference path (the kernels below then are plain Python: correct,
but slower than the reference numpy path).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from theory.operators import LeastSquares, MatrixGame

try:  # optional: theorysim[fast]
    import numba

    HAVE_NUMBA = True
except ImportError:  # pragma: no cover - exercised by monkeypatching in the tests
    numba = None
    HAVE_NUMBA = False

__all__ = ["HAVE_NUMBA", "CompiledFamily", "family", "page_steps", "PageState", "forb_steps", "LEAST_SQUARES",
           "MATRIX_GAME"]

LEAST_SQUARES = 0
MATRIX_GAME = 1


def _jit(f):
    return numba.njit(cache=True)(f) if HAVE_NUMBA else f


@dataclass(frozen=True)
class CompiledFamily:
    """The data a kernel needs: ``kind`` (:data:`LEAST_SQUARES` or :data:`MATRIX_GAME`), ``A`` (C-contiguous
    float64), ``AT`` (``A.T`` C-contiguous for the matrix game's column access, else ``[0, 0]``), ``b``
    (least squares' targets, else ``[0]``), ``rho`` (the :math:`\\ell_1` weight), ``m`` (rows of the game's
    ``A``, ``x``-block size; 0 for least squares), ``n`` (components)."""

    kind: int
    A: np.ndarray
    AT: np.ndarray
    b: np.ndarray
    rho: float
    m: int
    n: int


_OVERRIDABLE = ("full", "batch", "_full", "_components", "resolvent", "residual")


def family(op) -> CompiledFamily | None:
    """The compiled family of ``op``, or ``None`` when the kernels do not apply: another class (a subclass
    may change the oracles), a batch of instances or torch data, or an instance whose oracle methods were
    replaced (e.g. wrapped to record calls)."""
    if any(name in vars(op) for name in _OVERRIDABLE):
        return None
    if type(op) is LeastSquares and isinstance(op.A, np.ndarray) and op.A.ndim == 2:
        A = np.ascontiguousarray(op.A, dtype=np.float64)
        return CompiledFamily(LEAST_SQUARES, A, np.zeros((0, 0)), np.ascontiguousarray(op.b, dtype=np.float64),
                              float(op.rho), 0, int(op.n))
    if type(op) is MatrixGame and isinstance(op.A, np.ndarray):
        A = np.ascontiguousarray(op.A, dtype=np.float64)
        return CompiledFamily(MATRIX_GAME, A, np.ascontiguousarray(A.T), np.zeros(1), 0.0, int(op.m), int(op.n))
    return None


# ---- oracles -------------------------------------------------------------------------------------
@_jit
def _full_into(kind, A, AT, b, m, n, u, out):
    """out = F(u) (mean over all n components)."""
    if kind == 0:  # the reference's two BLAS calls: (A u - b)^T A / n
        out[:] = np.dot(np.dot(A, u) - b, A) / n
    else:
        k = A.shape[1]
        for i in range(m):  # x-block: A y
            s = 0.0
            for j in range(k):
                s += A[i, j] * u[m + j]
            out[i] = s
        for j in range(k):
            out[m + j] = 0.0
        for i in range(m):  # y-block: -(x A)
            xi = u[i]
            for j in range(k):
                out[m + j] += xi * A[i, j]
        for j in range(k):
            out[m + j] = -out[m + j]


@_jit
def _batch_into(kind, A, AT, b, m, n, idx, u, out):
    """out = (1/|idx|) sum_{i in idx} F_i(u)."""
    d = u.size
    size = idx.size
    if kind == 0:  # gather the rows, then the reference's two BLAS calls
        Ai = np.empty((size, d))
        bi = np.empty(size)
        for t in range(size):
            Ai[t] = A[idx[t]]
            bi[t] = b[idx[t]]
        out[:] = np.dot(np.dot(Ai, u) - bi, Ai) / size
    else:
        for j in range(d):
            out[j] = 0.0
        k = A.shape[1]
        scale = n / size
        for t in range(size):
            i = idx[t]
            if i < k:  # column i of A times y_i, into the x-block
                yi = u[m + i]
                for j in range(m):
                    out[j] += yi * AT[i, j]
            if i < m:  # row i of A times x_i, into the y-block
                xi = u[i]
                for j in range(k):
                    out[m + j] += xi * A[i, j]
        for j in range(m):
            out[j] = out[j] * scale
        for j in range(k):
            out[m + j] = 0.0 - out[m + j] * scale


@_jit
def _project_simplex_into(v, out):
    """Sort-based simplex projection, the arithmetic of theory.operators.project_simplex."""
    k = v.size
    s = -np.sort(-v)
    css = np.empty(k)
    acc = 0.0
    for i in range(k):
        acc += s[i]
        css[i] = acc - 1.0
    rho = k - 1
    for i in range(k - 1, -1, -1):
        if s[i] - css[i] / (i + 1) > 0:
            rho = i
            break
    tau = css[rho] / (rho + 1.0)
    for i in range(k):
        x = v[i] - tau
        out[i] = x if x > 0.0 else 0.0


@_jit
def _resolvent_into(kind, rho, m, z, eta, out):
    """out = J_{eta G}(z): soft threshold at eta * rho (least squares) or the simplex projections (game)."""
    d = z.size
    if kind == 0:
        if rho == 0.0:
            for j in range(d):
                out[j] = z[j]
        else:
            t = eta * rho
            for j in range(d):
                a = abs(z[j]) - t
                a = a if a > 0.0 else 0.0
                out[j] = a if z[j] > 0.0 else (-a if z[j] < 0.0 else 0.0)
    else:
        _project_simplex_into(z[:m], out[:m])
        _project_simplex_into(z[m:], out[m:])


# ---- Algorithm 1 ---------------------------------------------------------------------------------
@_jit
def _residual(kind, A, AT, b, rho, m, n, u, g, z):
    """Natural residual ||u - J_G(u - F(u))|| (free), the certificate of theory.operators.FiniteSumOperator."""
    _full_into(kind, A, AT, b, m, n, u, g)
    for t in range(u.size):
        g[t] = u[t] - g[t]
    _resolvent_into(kind, rho, m, g, 1.0, z)
    s = 0.0
    for t in range(u.size):
        s += (u[t] - z[t]) ** 2
    return np.sqrt(s)


@_jit
def _page_steps(kind, A, AT, b, rho, m, n, u0, u, u_prev, Ft, k, j, coins, subsets, eta, sq, used, last,
                check_every, max_calls, eps, rec_calls, rec_res):
    d = u.size
    chunk = coins.size
    g1 = np.empty(d)
    g2 = np.empty(d)
    z = np.empty(d)
    Ai = np.empty((subsets.shape[1], d) if kind == 0 else (0, d))
    bi = np.empty(subsets.shape[1])
    nrec = 0
    while True:
        if used - last >= check_every:  # the monitor's check, before every iteration
            r = _residual(kind, A, AT, b, rho, m, n, u, g1, z)
            rec_calls[nrec] = used
            rec_res[nrec] = r
            nrec += 1
            last = used
            if r <= eps:
                return k, j, used, last, nrec, 1
        if used >= max_calls:
            return k, j, used, last, nrec, 2
        if j >= chunk:
            return k, j, used, last, nrec, 0
        if k <= 1:
            p = 1.0
        elif k - 1 <= sq:
            p = 4.0 / (k + 4)
        else:
            p = 4.0 / (sq + 5)
        if k == 0 or coins[j] < p:
            _full_into(kind, A, AT, b, m, n, u, Ft)
            used += n
        else:
            idx = subsets[j]
            if kind == 0:  # least squares: gather the rows once for both points (same BLAS calls as op.batch)
                size = idx.size
                for t in range(size):
                    Ai[t] = A[idx[t]]
                    bi[t] = b[idx[t]]
                g1[:] = np.dot(np.dot(Ai, u) - bi, Ai) / size
                g2[:] = np.dot(np.dot(Ai, u_prev) - bi, Ai) / size
            else:
                _batch_into(kind, A, AT, b, m, n, idx, u, g1)
                _batch_into(kind, A, AT, b, m, n, idx, u_prev, g2)
            for t in range(d):
                Ft[t] = Ft[t] + g1[t] - g2[t]
            used += 2 * idx.size
        lam = 2.0 / (k + 4)
        for t in range(d):
            z[t] = lam * u0[t] + (1 - lam) * u[t] - eta * Ft[t]
            u_prev[t] = u[t]
        _resolvent_into(kind, rho, m, z, eta, u)
        k += 1
        j += 1


@dataclass(frozen=True)
class PageState:
    """What :func:`page_steps` hands back: iteration ``k``, block position ``j``, oracle calls ``used``,
    the call count ``last`` of the last residual check, the checks made (``calls [c]``, ``residuals [c]``)
    and ``status``: 0 = the block of draws is used up, 1 = converged (last residual <= eps), 2 = budget."""

    k: int
    j: int
    used: int
    last: float
    calls: np.ndarray
    residuals: np.ndarray
    status: int


def page_steps(fam: CompiledFamily, u0, u, u_prev, Ft, k: int, j: int, coins, subsets, eta: float, used: int,
               last: float, check_every: int, max_calls: int, eps: float) -> PageState:
    r"""Iterations of Algorithm 1 (PAGE estimator, anchored step) with its stopping test, from iteration ``k``
    = position ``j`` of the current block of draws, in place on ``u``, ``u_prev``, ``Ft`` (``[dim]`` float64).

    Before each iteration, the monitor of :mod:`theory.halpern`: if ``used - last >= check_every`` the free
    natural residual :math:`\|u - J_G(u - F(u))\|` is recorded (stop when ``<= eps``); stop when
    ``used >= max_calls``; hand back when the block is used up (``j == len(coins)``). Iteration ``k``:
    :math:`p_k = 1\ (k\le1),\ 4/(k+4)\ (k-1\le\sqrt n),\ 4/(\sqrt n+5)`;
    :math:`	ilde F_k = F(u_k)` if ``k == 0`` or ``coins[j] < p_k`` (``n`` calls), else
    :math:`	ilde F_{k-1} + F_S(u_k) - F_S(u_{k-1})`, ``S = subsets[j]`` (``2|S|`` calls);
    :math:`u_{k+1} = J_{\eta G}(\lambda_ku_0 + (1-\lambda_k)u_k - \eta	ilde F_k)`, :math:`\lambda_k = 2/(k+4)`.

    Args:
      fam: :func:`family` of the operator; u0, u, u_prev, Ft: ``[dim]`` anchor, iterate, previous iterate,
        estimator; k, j: iteration and block position; coins: ``[C]`` uniforms; subsets: ``[C, b]`` int64;
        eta: step; used: oracle calls so far; last: calls at the last check (``-inf`` before the first);
        check_every, max_calls, eps: the monitor's settings.

    Returns:
      :class:`PageState`.
    """
    rc = np.empty(coins.size + 2, dtype=np.int64)
    rr = np.empty(coins.size + 2)
    k, j, used, last, nrec, status = _page_steps(
        fam.kind, fam.A, fam.AT, fam.b, fam.rho, fam.m, fam.n, u0, u, u_prev, Ft, k, j, coins, subsets, float(eta),
        float(np.sqrt(fam.n)), used, float(last), check_every, max_calls, float(eps), rc, rr)
    return PageState(int(k), int(j), int(used), float(last), rc[:nrec].copy(), rr[:nrec].copy(), int(status))


# ---- Algorithm 2 ---------------------------------------------------------------------------------
@_jit
def _forb_steps(kind, A, AT, b, rho, m, n, u, v, w, Fw, draws, coins, eta, gamma, p, budget):
    d = u.size
    alpha = 1.0 - p
    gamma_eta = gamma * eta
    g1 = np.empty(d)
    g2 = np.empty(d)
    z = np.empty(d)
    w_prev = w.copy()
    used = 0
    for j in range(coins.size):
        idx = draws[j]
        _batch_into(kind, A, AT, b, m, n, idx, v, g1)
        _batch_into(kind, A, AT, b, m, n, idx, w_prev, g2)
        used += 2 * idx.size
        for t in range(d):
            corr = eta * (g1[t] - g2[t]) + (v[t] - w_prev[t])
            z[t] = alpha * v[t] + (1 - alpha) * w[t] - gamma * (eta * Fw[t] + w[t] - u[t] + corr)
        for t in range(d):
            w_prev[t] = w[t]
        _resolvent_into(kind, rho, m, z, gamma_eta, v)
        if coins[j] < p:
            for t in range(d):
                w[t] = v[t]
            _full_into(kind, A, AT, b, m, n, w, Fw)
            used += n
        if used >= budget:
            break
    return used


def forb_steps(fam: CompiledFamily, u, v, w, Fw, draws, coins, eta: float, gamma: float, p: float,
               budget: int) -> int:
    r"""One inexact resolvent of Algorithm 2: VR-FoRB steps on :math:`\Phi(v) = \eta F(v) + v - u`, in place
    on ``v``, ``w``, ``Fw`` (which enter as ``u``, ``u``, :math:`F(u)`).

    Step ``j``: :math:`\bar v = \alpha v + (1-\alpha)w`, :math:`\alpha = 1-p`,
    :math:`v \leftarrow J_{\gamma\eta G}(\bar v - \gamma[\Phi(w) + \Phi_\xi(v) - \Phi_\xi(w_{j-1})])` with
    :math:`\xi` = ``draws[j]`` (2 calls); if ``coins[j] < p`` the snapshot moves, :math:`w \leftarrow v`,
    and :math:`F(w)` is recomputed (``n`` calls). Stops after ``len(coins)`` steps or after the step that
    brings the calls made to ``budget``.

    Args:
      fam: :func:`family`; u: ``[dim]`` the point whose resolvent is sought; v, w, Fw: ``[dim]`` state;
      draws: ``[M, 1]`` int64 component indices; coins: ``[M]`` uniforms; eta, gamma, p: constants;
      budget: oracle calls allowed before stopping.

    Returns:
      The oracle calls made.
    """
    return int(_forb_steps(fam.kind, fam.A, fam.AT, fam.b, fam.rho, fam.m, fam.n, u, v, w, Fw, draws, coins,
                           float(eta), float(gamma), float(p), budget))
