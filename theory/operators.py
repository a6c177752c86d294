r"""Finite-sum monotone operators with counted oracle calls.

A problem is the inclusion :math:`0 \in F(u) + G(u)` with :math:`F = \frac1n\sum_{i=1}^n F_i` and
:math:`G` maximal monotone with an easy resolvent :math:`J_{\eta G}` (a projection or a prox).

Protocol (every solver in :mod:`theory.monotone` uses exactly this):

``op.n``, ``op.dim``
    number of components and the dimension of :math:`u`;
``op.full(u)``
    :math:`F(u)`; charged ``n`` oracle calls;
``op.batch(idx, u)``
    :math:`\frac{1}{|idx|}\sum_{i\in idx} F_i(u)`; charged ``len(idx)`` calls;
``op.resolvent(z, eta)``
    :math:`J_{\eta G}(z)` (free);
``op.residual(u)``
    the natural residual :math:`\|u - J_{G}(u - F(u))\|` — equal to :math:`\|F(u)\|` when
    :math:`G = 0` — a computable certificate that is **not** charged;
``op.calls``
    the oracle counter (reset with ``op.reset_calls()``).

Iterates may carry leading batch axes (numpy or torch): ``u[..., dim]``; a batch of instances uses a
torch operator whose data carry the same leading axis. Constants: ``L`` is the mean-square component
Lipschitz constant :math:`\mathbb E_i\|F_i(u)-F_i(v)\|^2 \le L^2\|u-v\|^2` (uniform sampling),
``L_F`` the Lipschitz constant of :math:`F`, and ``cocoercive`` says whether :math:`F` is
:math:`1/L_F`-cocoercive.

Exact constants. Every operator here is affine, :math:`F_i(u) = C_i u + c_i`, so both constants are
eigenvalue problems:

.. math:: L^2 = \lambda_{\max}\Big(\frac1n\sum_{i=1}^n C_i^\top C_i\Big), \qquad
          L_F = \sigma_{\max}\Big(\frac1n\sum_{i=1}^n C_i\Big).

Each class forms the Gram matrix :math:`\frac1n\sum_i C_i^\top C_i` from its data in closed form
(:meth:`FiniteSumOperator.component_gram`) and :func:`lipschitz_constants` takes its largest
eigenvalue densely (``numpy.linalg.eigvalsh``) when ``dim <= DENSE_MAX_DIM``. Above that size the
constructor falls back to the closed-form upper bound ``L_bound`` (documented per class) and records
``L_method = "bound"``; solvers then take a smaller, still safe, default step. The default step sizes of
:mod:`theory.monotone` are functions of ``L`` and ``L_F``, so they follow the exact constants.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from theory.validation import ShapeError, check_scalar, to_numpy

__all__ = ["FiniteSumOperator", "LeastSquares", "MatrixGame", "QuadraticMinMax", "BallMinMax",
           "least_squares", "matrix_game", "policeman_burglar", "hard_quadratic", "regularized_minmax",
           "random_least_squares", "project_simplex", "LipschitzConstants", "lipschitz_constants",
           "DENSE_MAX_DIM", "AuthorsSetup", "authors_setup"]

DENSE_MAX_DIM = 4000
"""Largest ``dim`` for which constructors compute ``L`` by a dense eigenvalue computation."""


def _xp(x):
    if type(x).__module__.startswith("torch"):
        import torch

        return torch
    return np


def _norm(x):
    """Euclidean norm over the last axis (numpy or torch), keeping batch axes."""
    xp = _xp(x)
    return xp.sqrt((x * x).sum(-1))


def project_simplex(v):
    r"""Euclidean projection of every row ``v[..., k]`` onto the probability simplex (sort-based,
    Held–Wolfe–Crowder / Duchi et al. 2008): :math:`\Pi(v) = (v - \tau)_+` with the threshold
    :math:`\tau` found from the sorted entries. Works on numpy arrays and torch tensors."""
    xp = _xp(v)
    k = v.shape[-1]
    if xp is np:
        u = -np.sort(-v, axis=-1)
        css = np.cumsum(u, axis=-1) - 1.0
        ind = np.arange(1, k + 1)
        cond = u - css / ind > 0
        rho = k - 1 - np.argmax(cond[..., ::-1], axis=-1)
        tau = np.take_along_axis(css, rho[..., None], -1) / (rho[..., None] + 1.0)
        return np.maximum(v - tau, 0.0)
    u = xp.sort(v, dim=-1, descending=True).values
    css = u.cumsum(-1) - 1.0
    ind = xp.arange(1, k + 1, device=v.device, dtype=v.dtype)
    cond = (u - css / ind) > 0
    rho = k - 1 - cond.flip(-1).to(xp.int64).argmax(-1)
    tau = css.gather(-1, rho[..., None]) / (rho[..., None] + 1.0)
    return (v - tau).clamp(min=0.0)


class FiniteSumOperator:
    """Base class: subclasses implement ``_components(idx, u)`` (mean over ``idx``) and ``_full(u)``."""

    n: int
    dim: int
    L: float
    L_F: float
    L_bound: float
    L_method: str = "bound"
    cocoercive: bool = False
    name: str = "operator"

    def __init__(self):
        self.calls = 0

    # -- constants -----------------------------------------------------------------------------------
    def component_gram(self):
        r"""The mean-square Gram matrix :math:`\frac1n\sum_i C_i^\top C_i` of the component Jacobians,
        ``[dim, dim]`` (``[B, dim, dim]`` for a batch of instances), from the data in closed form."""
        raise NotImplementedError(f"{type(self).__name__} has no component Gram matrix")

    def jacobian(self):
        r"""The Jacobian :math:`\frac1n\sum_i C_i` of the affine operator ``F``, ``[dim, dim]``."""
        raise NotImplementedError(f"{type(self).__name__} has no Jacobian")

    def _set_constants(self, L_bound: float, L_F: float) -> None:
        """Store ``L_F``, the closed-form ``L_bound``, and ``L``: exact (dense) when ``dim`` allows."""
        self.L_F, self.L_bound = float(L_F), float(L_bound)
        if self.dim <= DENSE_MAX_DIM:
            self.L, self.L_method = lipschitz_constants(self, with_full=False).L, "dense"
        else:
            self.L, self.L_method = self.L_bound, "bound"

    # -- charged oracles ---------------------------------------------------------------------------
    def full(self, u):
        self.calls += self.n
        return self._full(u)

    def batch(self, idx, u):
        idx = np.asarray(idx, dtype=np.int64)
        if idx.ndim != 1 or idx.size == 0:
            raise ValueError(f"idx must be a non-empty 1-D index array, got shape {idx.shape}")
        if idx.view(np.uint64).max() >= self.n:  # one reduction: negative indices wrap to huge unsigned values
            raise ValueError(f"component index out of range 0..{self.n - 1}: {int(idx.min())}..{int(idx.max())}")
        self.calls += int(idx.size)
        return self._components(idx, u)

    def reset_calls(self) -> None:
        self.calls = 0

    # -- free ----------------------------------------------------------------------------------------
    def resolvent(self, z, eta: float):
        """``J_{eta G}(z)``; identity when ``G = 0``."""
        return z

    def residual(self, u):
        """Natural residual ``||u - J_G(u - F(u))||`` (per batch element); not charged."""
        return _norm(u - self.resolvent(u - self._full(u), 1.0))

    def check_point(self, u, name: str = "x0"):
        if not hasattr(u, "shape") or getattr(u, "ndim", 0) < 1:
            raise ShapeError(f"{name} must be an array of dimension {self.dim} (numpy or torch), got {u!r}")
        xp = _xp(u)
        if u.shape[-1] != self.dim:
            raise ValueError(f"{name} has dimension {u.shape[-1]}, but the operator has dim {self.dim}")
        finite = np.isfinite(u).all() if xp is np else bool(xp.isfinite(u).all())
        if not finite:
            raise ValueError(f"{name} contains non-finite entries")

    def __repr__(self):
        return f"{type(self).__name__}(n={self.n}, dim={self.dim}, L={self.L:.4g}, L_F={self.L_F:.4g})"


@dataclass(frozen=True)
class LipschitzConstants:
    """Exact constants of an affine finite-sum operator (see the module docstring).

    ``L``: mean-square constant of the component split (uniform sampling); ``L_F``: Lipschitz constant
    of ``F`` (``None`` when not asked for); ``L_bound``: the class's closed-form upper bound on ``L``;
    ``method``: ``"dense"`` (eigenvalues of the dense Gram / Jacobian)."""

    L: float
    L_F: float | None
    L_bound: float
    method: str = "dense"


def _np(x):
    return np.asarray(x.detach().cpu()) if hasattr(x, "detach") else np.asarray(x)


def lipschitz_constants(op: FiniteSumOperator, with_full: bool = True) -> LipschitzConstants:
    r"""Exact :math:`L = \sqrt{\lambda_{\max}(\frac1n\sum_i C_i^\top C_i)}` and
    :math:`L_F = \|\frac1n\sum_i C_i\|_2` by dense symmetric eigenvalue / singular value computations
    (the maximum over a batch of instances).

    Args:
      op: an affine :class:`FiniteSumOperator` (all operators of this module).
      with_full: also compute ``L_F`` (an SVD of the ``[dim, dim]`` Jacobian).

    Returns:
      :class:`LipschitzConstants`.

    Example:
      >>> op = hard_quadratic(50)
      >>> c = lipschitz_constants(op)
      >>> c.L <= c.L_bound
      True
    """
    if not isinstance(op, FiniteSumOperator):
        raise TypeError(f"op must be a FiniteSumOperator, got {type(op).__name__}")
    G = _np(op.component_gram()).reshape(-1, op.dim, op.dim)
    lam = max(float(np.linalg.eigvalsh(0.5 * (g + g.T))[-1]) for g in G)
    L_F = None
    if with_full:
        J = _np(op.jacobian()).reshape(-1, op.dim, op.dim)
        L_F = max(float(np.linalg.norm(j, 2)) for j in J)
    return LipschitzConstants(math.sqrt(max(lam, 0.0)), L_F, float(op.L_bound))


def _check_data(name, X):
    X = np.asarray(to_numpy(X, name=name)) if not type(X).__module__.startswith("torch") else X
    finite = np.isfinite(X).all() if isinstance(X, np.ndarray) else bool(X.isfinite().all())
    if not finite:
        raise ValueError(f"{name} contains non-finite entries")
    return X


class LeastSquares(FiniteSumOperator):
    r"""Finite-sum least squares :math:`F_i(x) = a_i(a_i^\top x - b_i)`, the gradient of
    :math:`\frac1{2n}\|Ax-b\|^2`. :math:`F` is :math:`1/L_F`-cocoercive with
    :math:`L_F = \lambda_{\max}(A^\top A/n)`. Component Jacobians :math:`C_i = a_ia_i^\top`, so the exact
    mean-square constant is :math:`L = \sqrt{\lambda_{\max}(\frac1n\sum_i\|a_i\|^2a_ia_i^\top)}`
    (a ``[d, d]`` eigenvalue problem); the closed-form fallback ``L_bound`` is
    :math:`\sqrt{\mathbb E_i\|a_i\|^4}` (the trace instead of the largest eigenvalue). An optional
    :math:`\ell_1` term :math:`G = \partial(\rho\|\cdot\|_1)` has the soft-threshold resolvent.
    Solution (``rho = 0``): the normal equations :math:`A^\top A x = A^\top b`.

    ``A`` may be ``[n, d]`` (numpy) or ``[B, n, d]`` (torch; a batch of instances).
    """

    cocoercive = True
    name = "least_squares"

    def __init__(self, A, b, rho: float = 0.0):
        super().__init__()
        A = _check_data("A", A)
        b = _check_data("b", b)
        if A.shape[:-1] != b.shape:
            raise ValueError(f"A has shape {tuple(A.shape)} but b has shape {tuple(b.shape)}")
        rho = check_scalar("rho", rho, low=0.0, high=math.inf, high_open=True)
        self.A, self.b, self.rho = A, b, rho
        self._flat = isinstance(A, np.ndarray) and A.ndim == 2  # one numpy instance: the fast 1-D paths apply
        self.n, self.dim = A.shape[-2], A.shape[-1]
        Ah = _np(A).reshape(-1, self.n, self.dim)
        self._set_constants(max(np.sqrt(np.mean(np.sum(a * a, -1) ** 2)) for a in Ah),
                            max(np.linalg.eigvalsh(a.T @ a / self.n)[-1] for a in Ah))

    def component_gram(self):
        Ah = _np(self.A).reshape(-1, self.n, self.dim)
        r = np.sum(Ah * Ah, -1)  # [B, n] squared row norms
        return np.einsum("bni,bn,bnj->bij", Ah, r, Ah) / self.n

    def jacobian(self):
        Ah = _np(self.A).reshape(-1, self.n, self.dim)
        return np.einsum("bni,bnj->bij", Ah, Ah) / self.n

    @staticmethod
    def _mv(A, x):  # A x for A [n, d] or [B, n, d], x [..., d]
        return x @ A.T if A.ndim == 2 else (A @ x[..., None])[..., 0]

    @staticmethod
    def _rmv(A, r):  # A^T r
        return r @ A if A.ndim == 2 else (r[..., None, :] @ A)[..., 0, :]

    def _full(self, x):
        if self._flat and getattr(x, "ndim", 0) == 1 and isinstance(x, np.ndarray):
            return (self.A.dot(x) - self.b).dot(self.A) / self.n  # ndarray.dot: ~1/4 of matmul's call overhead
        return self._rmv(self.A, self._mv(self.A, x) - self.b) / self.n

    def _components(self, idx, x):
        if self._flat and getattr(x, "ndim", 0) == 1 and isinstance(x, np.ndarray):
            Ai = self.A.take(idx, axis=0)
            return (Ai.dot(x) - self.b.take(idx)).dot(Ai) / idx.size
        A, b = self.A[..., idx, :], self.b[..., idx]
        return self._rmv(A, self._mv(A, x) - b) / idx.size

    def resolvent(self, z, eta):
        if self.rho == 0.0:
            return z
        xp = _xp(z)
        t = eta * self.rho
        return xp.sign(z) * xp.clip(xp.abs(z) - t, 0.0, None) if xp is np else z.sign() * (z.abs() - t).clamp(min=0)

    def solution(self):
        if self.rho != 0.0 or _xp(self.A) is not np:
            raise NotImplementedError("closed form only for rho = 0 and a single numpy instance")
        return np.linalg.lstsq(self.A, self.b, rcond=None)[0]


def least_squares(A, b, rho: float = 0.0) -> LeastSquares:
    """Cocoercive finite-sum least squares (optionally with an l1 term ``rho * ||x||_1``)."""
    return LeastSquares(A, b, rho)


class MatrixGame(FiniteSumOperator):
    r"""Bilinear saddle point :math:`\min_{x\in\Delta_m}\max_{y\in\Delta_k} x^\top A y`.

    :math:`u = (x, y)`, :math:`F(u) = (Ay, -A^\top x)`, :math:`G` the normal cone of
    :math:`\Delta_m\times\Delta_k` (resolvent: projection). With :math:`n = \max(m, k)`, component
    :math:`i` carries column :math:`i` of :math:`A` (times :math:`y_i`) and row :math:`i` (times
    :math:`x_i`), scaled by :math:`n` so that :math:`F = \frac1n\sum_i F_i` — the split of the authors'
    code. :math:`L_F = \|A\|_2`. The component Gram matrix is diagonal,
    :math:`\frac1n\sum_i C_i^\top C_i = n\,\mathrm{diag}(\|A_{1,:}\|^2,\dots,\|A_{m,:}\|^2,
    \|A_{:,1}\|^2,\dots,\|A_{:,k}\|^2)`, so the exact mean-square constant is
    :math:`L = \sqrt{n\max(\max_i\|A_{i,:}\|^2, \max_j\|A_{:,j}\|^2)}`; the closed-form fallback
    ``L_bound`` is the earlier :math:`\sqrt{n\,\max_i(\|A_{:,i}\|^2 + \|A_{i,:}\|^2)}`. (The authors'
    scripts scale their steps by :math:`\|A\|_F \le L`, the constant of importance sampling.) Monotone,
    not cocoercive.
    """

    name = "matrix_game"

    def __init__(self, A):
        super().__init__()
        A = _check_data("A", A)
        if A.ndim != 2:
            raise ValueError(f"A must be a matrix, got shape {A.shape}")
        self.A = A
        self.m, self.k = A.shape
        self.n, self.dim = max(self.m, self.k), self.m + self.k
        col = np.zeros(self.n)
        row = np.zeros(self.n)
        col[: self.k] = np.sum(A * A, 0)
        row[: self.m] = np.sum(A * A, 1)
        self.L_F, self.L_bound = float(np.linalg.norm(A, 2)), float(np.sqrt(self.n * np.max(col + row)))
        self.L = float(np.sqrt(self.n * max(np.max(col), np.max(row))))  # exact: the Gram is diagonal
        self.L_method = "closed form (exact)"

    def component_gram(self):
        return self.n * np.diag(np.r_[np.sum(self.A * self.A, 1), np.sum(self.A * self.A, 0)])

    def jacobian(self):
        return np.block([[np.zeros((self.m, self.m)), self.A], [-self.A.T, np.zeros((self.k, self.k))]])

    def _split(self, u):
        return u[..., : self.m], u[..., self.m:]

    def _full(self, u):
        x, y = self._split(u)
        return np.concatenate([y @ self.A.T, -(x @ self.A)], axis=-1)

    def _components(self, idx, u):
        x, y = self._split(u)
        gx = np.zeros_like(x)
        gy = np.zeros_like(y)
        ci = idx[idx < self.k]
        ri = idx[idx < self.m]
        scale = self.n / idx.size
        if ci.size:
            gx = gx + (y[..., ci] @ self.A[:, ci].T) * scale
        if ri.size:
            gy = gy - (x[..., ri] @ self.A[ri, :]) * scale
        return np.concatenate([gx, gy], axis=-1)

    def resolvent(self, z, eta):
        x, y = self._split(z)
        return np.concatenate([project_simplex(x), project_simplex(y)], axis=-1)

    def value(self, u) -> float:
        x, y = self._split(u)
        return float(x @ self.A @ y)

    def duality_gap(self, u) -> float:
        """:math:`\\max_j (A^\\top x)_j - \\min_i (Ay)_i` (zero exactly at equilibria)."""
        x, y = self._split(u)
        return float(np.max(x @ self.A) - np.min(self.A @ y))


def matrix_game(A) -> MatrixGame:
    return MatrixGame(A)


ORIENTATIONS = ("rows", "columns")


def policeman_burglar(n: int = 500, theta: float = 0.8, seed=1, orientation: str = "rows",
                      legacy_seed: bool = False) -> MatrixGame:
    r"""Nemirovski's policeman–burglar game: :math:`A_{ij} = w_j(1 - e^{-\theta|i-j|})`,
    :math:`w \sim |N(0,1)|` (the instance of the paper's Figure 1(a)).

    Args:
      n: size (``A`` is ``[n, n]``).
      theta: decay rate :math:`\theta > 0`.
      seed: seed of the weights ``w``.
      orientation: ``"rows"`` — the minimiser picks a row, :math:`\min_x\max_y x^\top Ay` (this package's
        original orientation); ``"columns"`` — the minimiser picks a column,
        :math:`\min_x\max_y y^\top Ax`, i.e. the game on :math:`A^\top`. The authors' ``matrix_game.py``
        uses ``"columns"`` (its x-gradient is :math:`A^\top y`), and its component split then pairs row
        :math:`i` of :math:`A` with :math:`y_i`, as :class:`MatrixGame` does for :math:`A^\top`.
      legacy_seed: draw ``w`` as ``np.random.seed(seed); np.abs(np.random.randn(n))`` (the authors'
        script, through a local ``RandomState``, no global state) instead of ``default_rng(seed)``.

    Returns:
      :class:`MatrixGame` of size ``n`` (``dim = 2n``).
    """
    if int(n) != n or n < 2:
        raise ValueError(f"n must be an integer >= 2, got {n!r}")
    if not (theta > 0 and math.isfinite(theta)):
        raise ValueError(f"theta must be a finite number > 0, got {theta!r}")
    if orientation not in ORIENTATIONS:
        raise ValueError(f"orientation must be one of {ORIENTATIONS}, got {orientation!r}")
    n = int(n)
    if legacy_seed:
        w = np.abs(np.random.RandomState(seed).randn(n))
    else:
        w = np.abs(np.random.default_rng(seed).standard_normal(n))
    i = np.arange(n)
    A = w[None, :] * (1.0 - np.exp(-theta * np.abs(i[:, None] - i[None, :])))
    return MatrixGame(A if orientation == "rows" else A.T)


QP_SPLITS = ("coordinates", "rows")


class QuadraticMinMax(FiniteSumOperator):
    r"""Unconstrained quadratic min–max :math:`\min_x\max_y \tfrac12 x^\top H x - h^\top x - y^\top(Ax-b)`
    with :math:`H = 2A^\top A`: :math:`F(x,y) = (Hx - h - A^\top y,\ Ax - b) = Mu - c`, an affine monotone
    operator, :math:`M = \begin{pmatrix}H & -A^\top\\ A & 0\end{pmatrix}`. Two component splits:

    * ``split="coordinates"`` (the authors' ``quadratic_programming.py``, square ``A``): component
      :math:`i` carries the two columns of :math:`M` that multiply :math:`x_i` and :math:`y_i`,
      :math:`F_i(u) = n\,M_{:,J_i}u_{J_i} - c`, :math:`J_i = \{i, q+i\}`. Its Gram matrix is block
      diagonal with :math:`2\times2` blocks :math:`n\,M_{:,J_i}^\top M_{:,J_i}`.
    * ``split="rows"``: component :math:`i` uses row :math:`a_i`,
      :math:`F_i(x,y) = n\,(2a_ia_i^\top x - h/n - a_i y_i,\ e_i(a_i^\top x - b_i))`. Its Gram matrix is
      :math:`n\begin{pmatrix}A^\top\mathrm{diag}(4r+1)A & -2A^\top\mathrm{diag}(r)\\
      -2\,\mathrm{diag}(r)A & \mathrm{diag}(r)\end{pmatrix}`, :math:`r_i = \|a_i\|^2`.

    ``L`` is the exact mean-square constant of the chosen split (dense eigenvalues); the closed-form
    fallback ``L_bound`` of the rows split is
    :math:`\sqrt{n\max(\sum_i(8\|a_i\|^4 + \|a_i\|^2), 2\max_i\|a_i\|^2)}` and of the coordinates split
    :math:`\sqrt{n\max_i\|M_{:,J_i}\|_F^2}`. The solution solves the linear system :math:`F(u) = 0`.
    """

    name = "quadratic_minmax"

    def __init__(self, A, b, h, split: str = "coordinates"):
        super().__init__()
        A = _check_data("A", A)
        if split not in QP_SPLITS:
            raise ValueError(f"split must be one of {QP_SPLITS}, got {split!r}")
        self.A, self.b, self.h = A, _check_data("b", b), _check_data("h", h)
        self.p, self.q = A.shape  # p rows (y), q columns (x)
        if split == "coordinates" and self.p != self.q:
            raise ValueError(f"split='coordinates' needs a square A, got shape {A.shape}")
        self.split = split
        self.n, self.dim = self.p, self.q + self.p
        self.M = np.block([[2 * A.T @ A, -A.T], [A, np.zeros((self.p, self.p))]])
        self.c = np.concatenate([self.h, self.b])
        if split == "rows":
            rows = np.sum(A * A, 1)
            bound = np.sqrt(self.n * max(np.sum(8 * rows ** 2 + rows), 2 * np.max(rows)))
        else:
            cols = np.sum(self.M * self.M, 0)
            bound = np.sqrt(self.n * np.max(cols[: self.q] + cols[self.q:]))
        self._set_constants(bound, np.linalg.norm(self.M, 2))

    def component_gram(self):
        n, q = self.n, self.q
        if self.split == "rows":
            A = self.A
            r = np.sum(A * A, 1)
            return n * np.block([[A.T @ ((4 * r + 1)[:, None] * A), -2 * A.T * r[None, :]],
                                 [-2 * r[:, None] * A, np.diag(r)]])
        G = np.zeros((self.dim, self.dim))
        MtM = self.M.T @ self.M
        i = np.arange(q)
        for a, b in ((i, i), (i, q + i), (q + i, i), (q + i, q + i)):
            G[a, b] = n * MtM[a, b]
        return G

    def jacobian(self):
        return self.M

    def _full(self, u):
        return u @ self.M.T - self.c

    def _components(self, idx, u):
        s = self.n / idx.size
        if self.split == "coordinates":
            J = np.concatenate([idx, self.q + idx])
            return s * (u[..., J] @ self.M[:, J].T) - self.c
        x, y = u[..., : self.q], u[..., self.q:]
        Ai = self.A[idx]
        ax = x @ Ai.T  # [..., |idx|]
        gx = s * (2 * ax @ Ai - y[..., idx] @ Ai) - self.h
        gy = np.zeros_like(y)
        gy[..., idx] = s * (ax - self.b[idx])
        return np.concatenate([gx, gy], axis=-1)

    def solution(self):
        return np.linalg.solve(self.M, self.c)


QP_LAYOUTS = ("authors", "mirrored")


def hard_quadratic(n: int = 200, layout: str = "authors", split: str = "coordinates") -> QuadraticMinMax:
    r"""The hard instance of the paper's Figure 1(b) (Ouyang–Xu lower-bound construction):
    :math:`A` anti-bidiagonal divided by 4, :math:`b = \mathbf 1/4`, :math:`h = e_n/4`.

    Args:
      n: size (``A`` is ``[n, n]``, ``dim = 2n``).
      layout: ``"authors"`` — 1 on the anti-diagonal and −1 just left of it, ``A[i, n-2-i] = -1``, as in
        the authors' ``quadratic_programming.py``; ``"mirrored"`` — −1 just right of it,
        ``A[i, n-i] = -1`` (this package's first version: the same matrix with rows and columns reversed,
        but with :math:`h = e_n/4` it is a different problem).
      split: component split, see :class:`QuadraticMinMax` (the authors' is ``"coordinates"``).
    """
    if int(n) != n or n < 2:
        raise ValueError(f"n must be an integer >= 2, got {n!r}")
    if layout not in QP_LAYOUTS:
        raise ValueError(f"layout must be one of {QP_LAYOUTS}, got {layout!r}")
    n = int(n)
    A = np.zeros((n, n))
    for i in range(n):
        A[i, n - 1 - i] = 1.0
        if layout == "authors" and i < n - 1:
            A[i, n - 2 - i] = -1.0
        if layout == "mirrored" and i > 0:
            A[i, n - i] = -1.0
    A /= 4.0
    h = np.zeros(n)
    h[-1] = 0.25
    return QuadraticMinMax(A, np.full(n, 0.25), h, split=split)


class BallMinMax(FiniteSumOperator):
    r"""Regularised finite-sum min–max with a ball constraint,

    .. math:: \min_x\max_{\|y\|\le R}\ \tfrac1n y^\top(Ax - b) + \tfrac\mu2\|x\|^2 - \tfrac\nu2\|y\|^2,

    :math:`F(x,y) = (A^\top y/n + \mu x,\ -(Ax-b)/n + \nu y)` with components
    :math:`F_i = (a_i y_i + \mu x,\ -e_i(a_i^\top x - b_i) + \nu y)`; :math:`G` is the normal cone of
    :math:`\mathbb R^d\times\{\|y\|\le R\}`. Monotone and Lipschitz (strongly monotone when
    :math:`\mu,\nu>0`), not cocoercive in general. Component Gram matrix
    :math:`\begin{pmatrix}\mu^2I + A^\top A/n & (\mu-\nu)A^\top/n\\ (\mu-\nu)A/n &
    \mathrm{diag}(\|a_i\|^2)/n + \nu^2I\end{pmatrix}` (exact ``L`` from its largest eigenvalue); the
    closed-form fallback ``L_bound`` is
    :math:`2\sqrt{\max(\max_i\|a_i\|^2/n + \nu^2,\ \lambda_{\max}(A^\top A/n) + \mu^2)}`.
    """

    name = "ball_minmax"

    def __init__(self, A, b, radius: float = 1.0, mu: float = 0.0, nu: float = 0.0):
        super().__init__()
        A = _check_data("A", A)
        if radius <= 0:
            raise ValueError(f"radius must be > 0, got {radius}")
        if mu < 0 or nu < 0:
            raise ValueError(f"mu and nu must be >= 0, got {mu}, {nu}")
        self.A, self.b = A, _check_data("b", b)
        self.radius, self.mu, self.nu = float(radius), float(mu), float(nu)
        self.n, self.d = A.shape
        self.dim = self.d + self.n
        M = np.block([[mu * np.eye(self.d), A.T / self.n], [-A / self.n, nu * np.eye(self.n)]])
        rows = np.sum(A * A, 1)
        lam = float(np.linalg.eigvalsh(A.T @ A / self.n)[-1])
        # E_i||F_i(u)-F_i(v)||^2 <= 4 max(max_i|a_i|^2/n + nu^2, lambda_max(A'A/n) + mu^2) ||u-v||^2
        self._M = M
        self._set_constants(2 * np.sqrt(max(np.max(rows) / self.n + nu ** 2, lam + mu ** 2)), np.linalg.norm(M, 2))

    def component_gram(self):
        A, n, mu, nu = self.A, self.n, self.mu, self.nu
        r = np.sum(A * A, 1)
        return np.block([[mu ** 2 * np.eye(self.d) + A.T @ A / n, (mu - nu) * A.T / n],
                         [(mu - nu) * A / n, np.diag(r) / n + nu ** 2 * np.eye(n)]])

    def jacobian(self):
        return self._M

    def _full(self, u):
        x, y = u[..., : self.d], u[..., self.d:]
        return np.concatenate([y @ self.A / self.n + self.mu * x, -(x @ self.A.T - self.b) / self.n + self.nu * y],
                              axis=-1)

    def _components(self, idx, u):
        x, y = u[..., : self.d], u[..., self.d:]
        Ai = self.A[idx]
        gx = y[..., idx] @ Ai / idx.size + self.mu * x
        gy = self.nu * y  # a fresh array
        gy[..., idx] -= (x @ Ai.T - self.b[idx]) / idx.size  # component i adds -e_i (a_i.x - b_i)
        return np.concatenate([gx, gy], axis=-1)

    def resolvent(self, z, eta):
        x, y = z[..., : self.d], z[..., self.d:]
        nrm = np.sqrt(np.sum(y * y, -1, keepdims=True))
        y = y * np.minimum(1.0, self.radius / np.maximum(nrm, 1e-300))
        return np.concatenate([x, y], axis=-1)


def regularized_minmax(A, b, radius: float = 1.0, mu: float = 0.0, nu: float = 0.0) -> BallMinMax:
    return BallMinMax(A, b, radius, mu, nu)


def random_least_squares(n: int, d: int = 20, sigma: float = 0.5, spread: float = 0.0, seed=0) -> LeastSquares:
    r"""The cocoercive benchmark instance of the √n experiments (docs/experiments.md#vr_halpern_sqrt_n).

    Rows :math:`a_i = s_i(u + \sigma g_i/\sqrt d)` with a shared direction :math:`u \sim N(0, I/d)`,
    :math:`g_i \sim N(0, I)`, and row scales :math:`s_i = e^{\text{spread}\cdot z_i}` normalised to
    :math:`\mathbb E s_i^2 = 1` (``spread = 0``: homogeneous, :math:`L \approx L_F`; larger spread raises
    :math:`L/L_F` towards :math:`\sqrt n`). The system is consistent, :math:`b = Ax^\star` with
    :math:`\|x^\star\| = 1`, so :math:`D = \|0 - x^\star\| = 1` for every ``n``.
    """
    rng = np.random.default_rng(seed)
    u = rng.normal(size=d) / np.sqrt(d)
    A = u + sigma * rng.normal(size=(n, d)) / np.sqrt(d)
    if spread > 0:
        s = np.exp(spread * rng.normal(size=n))
        A = A * (s / np.sqrt(np.mean(s ** 2)))[:, None]
    x_star = rng.normal(size=d)
    x_star /= np.linalg.norm(x_star)
    return LeastSquares(A, A @ x_star)


@dataclass(frozen=True)
class AuthorsSetup:
    r"""One panel of the paper's Figure 1 as the authors' public scripts run it
    (``zephyr-cai/Finite-Sum-Halpern-Iteration``, MIT: ``matrix_game.py`` for panel (a),
    ``quadratic_programming.py`` for panel (b)).

    Attributes:
      panel: ``"policeman-burglar"`` or ``"hard quadratic"``.
      op: the instance (authors' orientation / layout / component split).
      x0: ``[dim]`` starting point (uniform on the simplices; ``1/n`` in every coordinate for the QP).
      epochs: the scripts' oracle budget in epochs (oracle calls / n) at the scripts' size.
      steps: solver name (a function of :mod:`theory.monotone`) -> keyword arguments with the scripts'
        constants.
    """

    panel: str
    op: FiniteSumOperator
    x0: np.ndarray
    epochs: int
    steps: dict = field(default_factory=dict)


def authors_setup(panel: str, n: int | None = None) -> AuthorsSetup:
    r"""The authors' instance and constants for one panel of Figure 1 (see :class:`AuthorsSetup`).

    Panel (a), policeman–burglar, ``n = 500`` by default, :math:`\theta = 0.8`, weights from
    ``np.random.seed(1)``, minimiser on the columns (``orientation="columns"``), 5000 epochs. Steps:
    extragradient and EAG :math:`\eta = 5/\|A\|_2`; VR-EG :math:`\eta = 3\sqrt{p}/\|A\|_F`, :math:`p = 1/n`;
    Algorithm 1 :math:`\eta = 5/\|A\|_F`; Algorithm 2 :math:`\eta = \sqrt n/\|A\|_F`,
    :math:`\gamma = 5\sqrt{p(1-p)}/(\sqrt n+1)`, :math:`M_k = \lfloor 0.05\,n\log(k+2)\rfloor`.

    Panel (b), hard quadratic, ``n = 200`` by default (``layout="authors"``, ``split="coordinates"``),
    :math:`10^6` epochs. Steps: extragradient 0.5, EAG 0.3, VR-EG 0.01, Algorithm 1 0.3, Algorithm 2
    :math:`\eta = \sqrt n`, :math:`\gamma = 10^{-3}`, the same :math:`M_k`.

    Args:
      panel: ``"policeman-burglar"`` or ``"hard quadratic"``.
      n: size; ``None`` for the scripts' size (the constants are the scripts' formulas at this ``n``).

    Example:
      >>> s = authors_setup("hard quadratic", n=20)
      >>> s.steps["vr_halpern"]
      {'eta': 0.3}
    """
    if panel == "policeman-burglar":
        n = 500 if n is None else n
        op = policeman_burglar(n, theta=0.8, seed=1, orientation="columns", legacy_seed=True)
        spec, fro = float(np.linalg.norm(op.A, 2)), float(np.linalg.norm(op.A))
        p = 1.0 / op.n
        steps = {"extragradient": {"eta": 5 / spec}, "eag": {"eta": 5 / spec},
                 "vr_extragradient": {"eta": 3 * math.sqrt(p) / fro}, "vr_halpern": {"eta": 5 / fro},
                 "vr_halpern_inexact": {"eta": math.sqrt(op.n) / fro,
                                        "gamma": 5 * math.sqrt(p * (1 - p)) / (math.sqrt(op.n) + 1),
                                        "inner_scale": 0.05}}
        x0 = np.r_[np.full(op.m, 1 / op.m), np.full(op.k, 1 / op.k)]
        return AuthorsSetup(panel, op, x0, 5000, steps)
    if panel == "hard quadratic":
        n = 200 if n is None else n
        op = hard_quadratic(n, layout="authors", split="coordinates")
        steps = {"extragradient": {"eta": 0.5}, "eag": {"eta": 0.3}, "vr_extragradient": {"eta": 0.01},
                 "vr_halpern": {"eta": 0.3},
                 "vr_halpern_inexact": {"eta": math.sqrt(op.n), "gamma": 1e-3, "inner_scale": 0.05}}
        return AuthorsSetup(panel, op, np.full(op.dim, 1.0 / op.n), 1_000_000, steps)
    raise ValueError(f"panel must be 'policeman-burglar' or 'hard quadratic', got {panel!r}")
