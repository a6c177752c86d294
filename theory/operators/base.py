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
from dataclasses import dataclass

import numpy as np

from theory import backend
from theory.validation import ShapeError, as_float_array

__all__ = ["FiniteSumOperator", "LipschitzConstants", "lipschitz_constants", "DENSE_MAX_DIM"]

DENSE_MAX_DIM = 4000
"""Largest ``dim`` for which constructors compute ``L`` by a dense eigenvalue computation."""


def _norm(x):
    """Euclidean norm over the last axis (numpy or torch), keeping batch axes."""
    xp = backend.namespace(x)
    return xp.sqrt((x * x).sum(-1))


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
        xp = backend.namespace(u)
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


def lipschitz_constants(op: FiniteSumOperator, with_full: bool = True) -> LipschitzConstants:
    r"""Exact :math:`L = \sqrt{\lambda_{\max}(\frac1n\sum_i C_i^\top C_i)}` and
    :math:`L_F = \|\frac1n\sum_i C_i\|_2` by dense symmetric eigenvalue / singular value computations
    (the maximum over a batch of instances).

    Args:
      op: an affine :class:`FiniteSumOperator` (all operators of :mod:`theory.operators`).
      with_full: also compute ``L_F`` (an SVD of the ``[dim, dim]`` Jacobian).

    Returns:
      :class:`LipschitzConstants`.

    Example:
      >>> from theory.operators import hard_quadratic
      >>> op = hard_quadratic(50)
      >>> c = lipschitz_constants(op)
      >>> c.L <= c.L_bound
      True
    """
    if not isinstance(op, FiniteSumOperator):
        raise TypeError(f"op must be a FiniteSumOperator, got {type(op).__name__}")
    G = backend.to_numpy(op.component_gram()).reshape(-1, op.dim, op.dim)
    lam = max(float(np.linalg.eigvalsh(0.5 * (g + g.T))[-1]) for g in G)
    L_F = None
    if with_full:
        J = backend.to_numpy(op.jacobian()).reshape(-1, op.dim, op.dim)
        L_F = max(float(np.linalg.norm(j, 2)) for j in J)
    return LipschitzConstants(math.sqrt(max(lam, 0.0)), L_F, float(op.L_bound))


def _check_data(name, X):
    """``X`` as a finite numpy array (a nested sequence is converted) or the torch tensor itself."""
    X = np.asarray(as_float_array(X, name=name)) if not backend.is_torch(X) else X
    finite = np.isfinite(X).all() if isinstance(X, np.ndarray) else bool(X.isfinite().all())
    if not finite:
        raise ValueError(f"{name} contains non-finite entries")
    return X
