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

The kernels consume the random draws that :mod:`theory.monotone` makes in Python with the same
generator calls as the reference path (``backend="python"``), in the same order, so a run takes the same
coins and the same sampled components; they perform the same floating-point operations up to the
summation order inside the dot products, so the iterates agree with the reference path to rounding
(tested to 1e-12). Oracle calls are charged in bulk: each kernel returns the number of component
evaluations it made (``n`` per full evaluation, ``|S|`` per batch), which the caller adds to
``op.calls``; a test checks the count against the reference path's per-call count.

Without numba, :data:`HAVE_NUMBA` is ``False``, :func:`family` still answers, and the solvers'
``backend="auto"`` falls back to the reference path. The kernels themselves live in
:mod:`theory.numba_kernels`, imported on first use.
"""
from __future__ import annotations

import importlib.util
from dataclasses import dataclass

import numpy as np

from theory.operators import LeastSquares, MatrixGame

HAVE_NUMBA = importlib.util.find_spec("numba") is not None
"""Whether numba is installed (``pip install theorysim[fast]``); it is imported only when a kernel first runs."""

__all__ = ["HAVE_NUMBA", "CompiledFamily", "family", "page_steps", "PageState", "forb_steps", "LEAST_SQUARES",
           "MATRIX_GAME"]

LEAST_SQUARES = 0
MATRIX_GAME = 1


@dataclass(frozen=True)
class CompiledFamily:
    """The data a kernel needs: ``kind`` (:data:`LEAST_SQUARES` or :data:`MATRIX_GAME`), ``A`` (C- or
    F-contiguous float64), ``AT`` (the view ``A.T`` for the matrix game's column access, else ``[0, 0]``), ``b``
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


def _contiguous(A):
    """``A`` as float64 in its own memory order when it is C- or F-contiguous (so that the kernels' BLAS calls
    see the layout the reference's numpy calls see and round identically), else a C-contiguous copy."""
    A = np.asarray(A, dtype=np.float64)
    return A if (A.flags.c_contiguous or A.flags.f_contiguous) else np.ascontiguousarray(A)


def family(op) -> CompiledFamily | None:
    """The compiled family of ``op``, or ``None`` when the kernels do not apply: another class (a subclass
    may change the oracles), a batch of instances or torch data, or an instance whose oracle methods were
    replaced (e.g. wrapped to record calls)."""
    if any(name in vars(op) for name in _OVERRIDABLE):
        return None
    if type(op) is LeastSquares and isinstance(op.A, np.ndarray) and op.A.ndim == 2:
        A = _contiguous(op.A)
        return CompiledFamily(LEAST_SQUARES, A, np.zeros((0, 0)), np.ascontiguousarray(op.b, dtype=np.float64),
                              float(op.rho), 0, int(op.n))
    if type(op) is MatrixGame and isinstance(op.A, np.ndarray):
        A = _contiguous(op.A)
        return CompiledFamily(MATRIX_GAME, A, A.T, np.zeros(1), 0.0, int(op.m), int(op.n))
    return None


# ---- Algorithm 1 ---------------------------------------------------------------------------------
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

    Before each iteration, the monitor of :mod:`theory.monotone`: if ``used - last >= check_every`` the free
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
    from theory import numba_kernels

    rc = np.empty(coins.size + 2, dtype=np.int64)
    rr = np.empty(coins.size + 2)
    k, j, used, last, nrec, status = numba_kernels.page_steps(
        fam.kind, fam.A, fam.AT, fam.b, fam.rho, fam.m, fam.n, u0, u, u_prev, Ft, k, j, coins, subsets, float(eta),
        float(np.sqrt(fam.n)), used, float(last), check_every, max_calls, float(eps), rc, rr)
    return PageState(int(k), int(j), int(used), float(last), rc[:nrec].copy(), rr[:nrec].copy(), int(status))


# ---- Algorithm 2 ---------------------------------------------------------------------------------
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
    from theory import numba_kernels

    return int(numba_kernels.forb_steps(fam.kind, fam.A, fam.AT, fam.b, fam.rho, fam.m, fam.n, u, v, w, Fw, draws,
                                        coins, float(eta), float(gamma), float(p), budget))
