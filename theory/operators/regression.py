r"""Finite-sum least squares, the cocoercive operator of the package (protocol: :mod:`theory.operators.base`)."""
from __future__ import annotations

import math

import numpy as np

from theory import backend
from theory.operators.base import FiniteSumOperator, _check_data
from theory.validation import check_scalar

__all__ = ["LeastSquares", "least_squares"]


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
        Ah = backend.to_numpy(A).reshape(-1, self.n, self.dim)
        self._set_constants(max(np.sqrt(np.mean(np.sum(a * a, -1) ** 2)) for a in Ah),
                            max(np.linalg.eigvalsh(a.T @ a / self.n)[-1] for a in Ah))

    def component_gram(self):
        Ah = backend.to_numpy(self.A).reshape(-1, self.n, self.dim)
        r = np.sum(Ah * Ah, -1)  # [B, n] squared row norms
        return np.einsum("bni,bn,bnj->bij", Ah, r, Ah) / self.n

    def jacobian(self):
        Ah = backend.to_numpy(self.A).reshape(-1, self.n, self.dim)
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
        xp = backend.namespace(z)
        t = eta * self.rho
        return xp.sign(z) * xp.clip(xp.abs(z) - t, 0.0, None) if xp is np else z.sign() * (z.abs() - t).clamp(min=0)

    def solution(self):
        if self.rho != 0.0 or backend.namespace(self.A) is not np:
            raise NotImplementedError("closed form only for rho = 0 and a single numpy instance")
        return np.linalg.lstsq(self.A, self.b, rcond=None)[0]


def least_squares(A, b, rho: float = 0.0) -> LeastSquares:
    """Cocoercive finite-sum least squares (optionally with an l1 term ``rho * ||x||_1``)."""
    return LeastSquares(A, b, rho)
