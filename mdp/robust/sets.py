r"""Uncertainty sets of robust MDPs and their rectangularity contract.

Every set declares ``rectangularity``, which the solvers check (:func:`require_rectangularity`):

``"sa"``
    :math:`(s,a)`-rectangular, :math:`\mathcal T = \times_{s,a}\mathcal P_{s,a}`: the set has a per-row
    worst-case oracle ``worst_case(V) -> (values[S, A], kernel[S, A, S])`` and the robust Bellman operator
    :math:`\max_a[r + \gamma\min_{p\in\mathcal P_{s,a}}p^\top V]` (Iyengar 2005; Nilim & El Ghaoui 2005).
    :class:`L1Ball`, :class:`LinfBall`, :class:`KLBall`, :class:`WassersteinBall`, :class:`ModelHull`.
``"s"``
    :math:`s`-rectangular (:class:`mdp.robust.srect.SRectL1Ball`): a budget shared by the actions of a
    state, so there is no per-:math:`(s,a)` oracle; only ``policy_backup`` (nature's best response to a
    policy) and the s-rectangular solvers.
``None``
    static sets coupled across states (:class:`FiniteModelSet`, :class:`ParametricSet`): a finite family
    of whole kernels ``models[K, S, A, S]``; the dynamic solvers see their (s,a)-rectangular hull
    (:meth:`FiniteModelSet.hull`), the static searches enumerate them.

Both rectangular kinds satisfy static/dynamic equivalence (Iyengar 2005, Lemma 3.3; Wiesemann, Kuhn &
Rustem 2013), which :func:`mdp.robust.adversary_policy_iteration` and IWOCS's certificate need.

Example:
    >>> import numpy as np
    >>> from mdp.robust.sets import L1Ball
    >>> U = L1Ball(np.full((2, 1, 2), 0.5), radius=0.4)
    >>> vals, kernel = U.worst_case(np.array([0.0, 1.0]))
    >>> U.rectangularity, np.round(vals[:, 0], 6).tolist()
    ('sa', [0.3, 0.3])
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from mdp.model import (ModelError, NegativeProbabilityError, NotFiniteError, NotStochasticError, ParameterError,
                       ShapeError, as_numpy, check_distributions, check_scalar)
from mdp.operators import policy_average, q_values
from mdp.robust.oracles import (kl_worst_case, l1_worst_case, linf_worst_case, numpy_oracle,
                                wasserstein_worst_case)
from mdp.robust.sparse_oracles import SPARSE_ORACLES, compact_rows

__all__ = ["RECTANGULARITIES", "RectangularityError", "require_rectangularity", "check_kernel", "check_radius",
           "check_sparse_kernel", "kernel_rows", "same_kernel",
           "UncertaintySet", "L1Ball", "LinfBall", "KLBall", "WassersteinBall", "FiniteModelSet", "ModelHull",
           "ParametricSet"]

RECTANGULARITIES = ("sa", "s", None)
_WORDS = {"sa": "(s,a)-rectangular", "s": "s-rectangular", None: "non-rectangular (static, coupled)"}


class RectangularityError(ModelError):
    """A solver was given an uncertainty set of a rectangularity it does not support."""


def require_rectangularity(uset, allowed, who: str, hint: str = "") -> None:
    """Raise :class:`RectangularityError` unless ``uset.rectangularity`` is in ``allowed``.

    Args:
        uset: an :class:`UncertaintySet`.
        allowed: the accepted values among ``"sa"``, ``"s"``, ``None``.
        who: the solver's name (for the message).
        hint: what to use instead.
    """
    if not isinstance(uset, UncertaintySet):
        raise TypeError(f"{who}: uset must be an UncertaintySet, got {type(uset).__name__}")
    kind = uset.rectangularity
    if kind not in allowed:
        want = " or ".join(_WORDS[a] for a in allowed)
        raise RectangularityError(f"{who} needs a {want} uncertainty set; {type(uset).__name__} is {_WORDS[kind]} "
                                  f"(rectangularity={kind!r}){'; ' + hint if hint else ''}")


def check_kernel(P, name: str = "P") -> np.ndarray:
    """A validated dense copy ``[S, A, S]`` of a kernel (dense ``[S, A, S]`` or sparse ``(S*A, S)``).

    Raises:
        ShapeError, NotFiniteError, NegativeProbabilityError, NotStochasticError (rows named by index).
    """
    if sp.issparse(P):
        S = P.shape[1]
        if P.shape[0] % max(S, 1):
            raise ShapeError(f"sparse {name} must have shape (S*A, S), got {P.shape}")
        P = P.toarray().reshape(S, P.shape[0] // S, S)
    P = as_numpy(P)
    if P.ndim != 3 or P.shape[0] != P.shape[2] or P.shape[0] == 0 or P.shape[1] == 0:
        raise ShapeError(f"{name} must have shape [S, A, S] with S, A >= 1, got {P.shape}")
    check_distributions(name, P)
    return P


def check_sparse_kernel(P, name: str = "P"):
    """A validated CSR copy ``(S*A, S)`` of a sparse kernel (never densified).

    Raises:
        ShapeError, NotFiniteError, NegativeProbabilityError, NotStochasticError (rows named ``[s, a, :]``).
    """
    N, S = P.shape
    if S == 0 or N == 0 or N % S:
        raise ShapeError(f"sparse {name} must have shape (S*A, S) with S, A >= 1, got {P.shape}")
    A = N // S
    P = sp.csr_array(P, dtype=np.float64, copy=True)
    P.sum_duplicates()
    if not np.all(np.isfinite(P.data)):
        raise NotFiniteError(f"{name} has non-finite stored entries")
    if (P.data < 0).any():
        k = int(np.flatnonzero(P.data < 0)[0])
        r = int(np.searchsorted(P.indptr, k, side="right") - 1)
        raise NegativeProbabilityError(f"{name}[{r // A}, {r % A}, {P.indices[k]}] is {P.data[k]:.6g} "
                                       "(probabilities must be >= 0)")
    sums = np.asarray(P.sum(axis=1)).ravel()
    off = np.abs(sums - 1.0) > 1e-8
    if off.any():
        r = int(np.flatnonzero(off)[0])
        raise NotStochasticError(f"{name}[{r // A}, {r % A}, :] sums to {sums[r]:.10g}, not 1 (tolerance 1e-08)")
    return P


def kernel_rows(T, S: int, A: int):
    """The ``(S*A, S)`` rows of a kernel: a view of a dense ``[S, A, S]`` array, or the sparse matrix itself."""
    return T if sp.issparse(T) else np.asarray(T).reshape(S * A, S)


def same_kernel(T1, T2) -> bool:
    """Whether two kernels (dense ``[S, A, S]`` or sparse ``(S*A, S)``) hold exactly the same numbers."""
    if sp.issparse(T1) or sp.issparse(T2):
        if not (sp.issparse(T1) and sp.issparse(T2)) or T1.shape != T2.shape:
            return False
        return (sp.csr_array(T1) != sp.csr_array(T2)).nnz == 0
    return bool(np.array_equal(T1, T2))


def check_radius(name: str, r) -> float:
    """A finite radius ``>= 0`` as a float (numpy scalars accepted)."""
    r = check_scalar(name, r, low=0.0)
    if not np.isfinite(r):
        raise ParameterError(f"{name} must be a finite number >= 0, got {r!r}")
    return r


class UncertaintySet:
    """Base class: a set of kernels around the nominal ``P[S, A, S]``.

    Attributes:
        rectangularity: ``"sa"``, ``"s"`` or ``None`` (see the module docstring).
        P: the nominal kernel ``[S, A, S]``, or a CSR ``(S*A, S)`` matrix for the balls built from a sparse
            kernel (then every kernel the set returns is CSR ``(S*A, S)`` too; :func:`kernel_rows` reads both).
    """

    rectangularity: str | None = "sa"

    def worst_case(self, V):  # pragma: no cover - abstract
        """``(values[S, A], kernel[S, A, S])``: :math:`\\min_{p\\in\\mathcal P_{s,a}} p^\\top V` and a minimiser."""
        raise NotImplementedError

    def nominal(self) -> np.ndarray:
        """The nominal kernel ``[S, A, S]`` (IWOCS's first model)."""
        return self.P

    @property
    def shape(self) -> tuple[int, int]:
        """``(S, A)`` of the kernels in the set."""
        if sp.issparse(self.P):
            return self.P.shape[1], self.P.shape[0] // self.P.shape[1]
        return self.P.shape[0], self.P.shape[1]

    @property
    def sparse(self) -> bool:
        """Whether the nominal kernel (and every kernel the oracle returns) is a CSR ``(S*A, S)`` matrix."""
        return sp.issparse(self.P)

    def policy_backup(self, V, R, gamma, pi):
        r"""Nature's best response to ``pi`` at ``V``: ``(F V [S], kernel [S, A, S])``.

        .. math:: (FV)(s) = \sum_a \pi(a|s)\big[R(s,a) + \gamma\min_{p\in\mathcal P_{s,a}} p^\top V\big]

        Args:
            V: ``[S]`` values; R: ``[S, A]`` rewards; gamma: discount; pi: ``[S, A]`` policy.
        """
        _, T = self.worst_case(V)
        S, A = self.shape
        return policy_average(q_values(kernel_rows(T, S, A), R, gamma, np.asarray(V, dtype=np.float64)), pi), T


class _Ball(UncertaintySet):
    """An (s,a)-rectangular ball of ``radius`` around the nominal kernel ``P[S, A, S]``.

    A SciPy sparse ``P`` (shape ``(S*A, S)``, e.g. ``m.P`` of a sparse :class:`mdp.TabularMDP`) stays sparse: the
    oracle is the matching one of :mod:`mdp.robust.sparse_oracles` and returns CSR kernels; no ``[S, A, S]``
    array is formed.
    """

    rectangularity = "sa"
    kind = ""

    def __init__(self, P, radius: float):
        if sp.issparse(P):
            self.P = check_sparse_kernel(P)
            self.rows = compact_rows(self.P)
        else:
            self.P = check_kernel(P)
            self.rows = None
        self.radius = check_radius("radius", radius)

    def _sparse_worst_case(self, V, **kw):
        return SPARSE_ORACLES[self.kind](self.rows, V, self.radius, **kw)


class L1Ball(_Ball):
    """(s,a)-rectangular L1 ball ``{p in simplex: ||p - P[s, a]||_1 <= radius}`` (oracle :func:`l1_worst_case`)."""

    kind = "l1"

    def worst_case(self, V):
        if self.sparse:
            return self._sparse_worst_case(V)
        return numpy_oracle(l1_worst_case, self.P, V, self.radius)


class LinfBall(_Ball):
    """(s,a)-rectangular box ``{p in simplex: |p - P[s, a]|_inf <= radius}`` (oracle :func:`linf_worst_case`)."""

    kind = "linf"

    def worst_case(self, V):
        if self.sparse:
            return self._sparse_worst_case(V)
        return numpy_oracle(linf_worst_case, self.P, V, self.radius)


class KLBall(_Ball):
    """(s,a)-rectangular KL ball ``{p: KL(p || P[s, a]) <= radius}`` (support within that of ``P[s, a]``;
    oracle :func:`kl_worst_case` with ``iterations`` bisection steps)."""

    kind = "kl"

    def __init__(self, P, radius: float, iterations: int = 64):
        super().__init__(P, radius)
        self.iterations = check_scalar("iterations", iterations, low=1, integer=True)

    def worst_case(self, V):
        if self.sparse:
            return self._sparse_worst_case(V, iterations=self.iterations)
        if self.radius == 0.0:
            p = self.P.copy()
            return p @ np.asarray(V, dtype=np.float64), p
        return numpy_oracle(kl_worst_case, self.P, V, self.radius, iterations=self.iterations)


class WassersteinBall(_Ball):
    """(s,a)-rectangular Wasserstein-1 ball ``{p: W_1(p, P[s, a]) <= radius}`` under the ground metric
    ``metric[S, S]`` (default ``|i - j|``); exact oracle :func:`mdp.robust.oracles.wasserstein_worst_case`."""

    kind = "w1"

    def __init__(self, P, radius: float, metric=None):
        super().__init__(P, radius)
        S = self.shape[0]
        d = np.abs(np.arange(S)[:, None] - np.arange(S)[None, :]).astype(float) if metric is None else as_numpy(metric)
        if d.shape != (S, S) or np.any(d < 0) or np.any(np.diag(d) != 0) or not np.isfinite(d).all():
            raise ShapeError(f"metric must be a finite non-negative [{S}, {S}] matrix with zero diagonal")
        self.metric = np.asarray(d, dtype=np.float64)

    def worst_case(self, V):
        if self.sparse:
            return self._sparse_worst_case(V, metric=self.metric)
        return wasserstein_worst_case(self.P, V, self.radius, self.metric)


class FiniteModelSet(UncertaintySet):
    """A finite set of whole kernels ``models[K, S, A, S]`` (static: one kernel for the whole episode).

    Sparse kernels (SciPy ``(S*A, S)``, or sparse :class:`mdp.TabularMDP` models) are kept as a tuple of CSR
    matrices, and the oracle returns CSR kernels; a mix of sparse and dense inputs is stored densely.

    Not rectangular (``rectangularity=None``): the dynamic solvers (robust VI, robust policy evaluation)
    solve its (s,a)-rectangular hull :meth:`hull`, which is more pessimistic unless the set is itself
    rectangular; :meth:`worst_case` is that hull's oracle (the per-row minimum over the models).
    """

    rectangularity = None

    def __init__(self, models):
        raw = [getattr(mm, "P", mm) for mm in models] if not isinstance(models, np.ndarray) else list(models)
        if len(raw) == 0:
            raise ParameterError("the model set is empty")
        if all(sp.issparse(mm) for mm in raw):
            # Sparse kernels stay sparse: a tuple of CSR (S*A, S) matrices, never an [K, S, A, S] array.
            for k, mm in enumerate(raw):
                if mm.shape != raw[0].shape:
                    raise ShapeError(f"models[{k}] has shape {mm.shape}, models[0] has {raw[0].shape}")
            self.models = tuple(check_sparse_kernel(mm, f"models[{k}]") for k, mm in enumerate(raw))
        else:
            models = [check_kernel(mm if sp.issparse(mm) else as_numpy(mm), f"models[{k}]")
                      for k, mm in enumerate(raw)]  # dense [S, A, S] copies (a sparse one is densified here)
            for k, mm in enumerate(models):
                if mm.shape != models[0].shape:
                    raise ShapeError(f"models[{k}] has shape {mm.shape}, models[0] has {models[0].shape}")
            self.models = np.stack(models)
        self.P = self.models[0]

    def worst_case(self, V):
        """The oracle of the rectangular hull: per row ``(s, a)`` the minimum of ``models[k, s, a] @ V``.

        Returns ``(values [S, A], kernel)``: the kernel is ``[S, A, S]``, or CSR ``(S*A, S)`` when the models
        are sparse (row ``(s, a)`` of the first model attaining the minimum, as in the dense case).
        """
        v = np.asarray(V, dtype=np.float64)
        if self.sparse:
            vals = np.stack([M @ v for M in self.models])  # [K, S*A]
            k = vals.argmin(0)
            p = sum(sp.diags_array((k == j).astype(np.float64)) @ M for j, M in enumerate(self.models))
            p = sp.csr_array(p)
            p.eliminate_zeros()
            return vals.min(0).reshape(v.shape[0], -1), p
        vals = self.models @ v  # [K, S, A]
        k = vals.argmin(0)
        p = np.take_along_axis(self.models, k[None, :, :, None], 0)[0]
        return vals.min(0), p

    def hull(self) -> "ModelHull":
        """The (s,a)-rectangular hull of the models (every row may follow any model independently)."""
        return self if isinstance(self, ModelHull) else ModelHull(self.models)

    def __len__(self):
        return len(self.models)


class ModelHull(FiniteModelSet):
    """The (s,a)-rectangular hull of a finite model set: every row ``(s, a)`` may follow any of the models
    independently. Its oracle is the per-row minimum over the ``G`` models (cost :math:`O(G S^2 A)` per call,
    so it grows with the number of models); it is the set robust VI solves when given a
    :class:`FiniteModelSet`, and, being rectangular, it admits IWOCS's certified exact search."""

    rectangularity = "sa"


class ParametricSet(FiniteModelSet):
    """Kernels ``fn(theta)`` for ``theta`` in ``grid`` (static and coupled across states, e.g. a wind
    strength shared by all cells). ``bounds`` (``[d, 2]``) enables continuous CMA-ES search in IWOCS."""

    def __init__(self, fn, grid, bounds=None):
        grid = [np.atleast_1d(np.asarray(t, dtype=float)) for t in grid]
        if not grid:
            raise ParameterError("the parameter grid is empty")
        super().__init__([fn(t if t.size > 1 else float(t[0])) for t in grid])
        self.fn = fn
        self.grid = np.stack(grid)
        self.bounds = None if bounds is None else np.asarray(bounds, dtype=float).reshape(-1, 2)
