r"""Monotone (not cocoercive) saddle-point operators: matrix games, quadratic and ball-constrained
min–max problems (protocol: :mod:`theory.operators.base`)."""
from __future__ import annotations

import numpy as np

from theory.backend import project_simplex
from theory.operators.base import FiniteSumOperator, _check_data

__all__ = ["MatrixGame", "matrix_game", "QuadraticMinMax", "QP_SPLITS", "BallMinMax", "regularized_minmax"]


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
