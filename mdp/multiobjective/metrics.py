r"""Pareto metrics with the semantics of the MORL ecosystem (maximisation, morl-baselines' definitions).

For a finite front :math:`F \subset \mathbb R^m` (rows are value vectors, larger is better):

* **Pareto filter**: drop every point weakly dominated by a *different* point, and exact duplicates
  (the first copy is kept). :math:`p` dominates :math:`q` when :math:`p \ge q` componentwise with one
  strict inequality.
* **Hypervolume** :math:`\mathrm{HV}(F; z) = \lambda\big(\bigcup_{p \in F} [z, p]\big)`, the Lebesgue
  measure of the region dominated by :math:`F` and dominating the reference point :math:`z`; points
  that do not strictly dominate :math:`z` add nothing. Computed by ``moocore`` (exact algorithms,
  Fonseca et al. 2006; Beume et al. 2009); the 2-D case is cross-checked against a staircase sum in the
  tests.
* **Expected utility** :math:`\mathrm{EU}(F; W) = \frac1{|W|}\sum_{w \in W}\max_{p \in F} w^\top p`
  (Zintgraf et al. 2015) with the pinned weight set of morl-baselines: 50 Riesz s-energy directions of
  the simplex (``pymoo`` ``get_reference_directions("energy", m, 50, seed=42)``), shipped with the
  package so the number does not move with pymoo's version.
* **Sparsity** (PGMORL, Xu et al. 2020) :math:`\mathrm{SP}(F) = \frac{1}{|F|-1}\sum_{k=1}^m
  \sum_{i=1}^{|F|-1}(\tilde G_k(i+1) - \tilde G_k(i))^2` with :math:`\tilde G_k` the sorted k-th
  coordinates; 0 for fewer than two points.
* **Cardinality** :math:`|\mathrm{ND}(F)|`.
* **IGD** (as pymoo and morl-baselines compute it) :math:`\frac1{|Z|}\sum_{z \in Z}\min_{p \in F}
  \|z - p\|_2` with :math:`Z` the known front.
* **Maximum utility loss** :math:`\max_{w \in W}[\max_{z \in Z} w^\top z - \max_{p \in F} w^\top p]`.

Example:
    >>> import numpy as np
    >>> from mdp.multiobjective import hypervolume
    >>> hypervolume(np.array([[1.0, 2.0], [2.0, 1.0]]), ref=[0.0, 0.0])
    3.0
"""
from __future__ import annotations

import functools
import json
from importlib import resources

import numpy as np

from theory.validation import ParameterError, ShapeError, check_finite, check_scalar, as_float_array

__all__ = ["FrontError", "as_front", "dominates", "pareto_filter", "pareto_mask", "hypervolume",
           "hypervolume_2d", "expected_utility", "energy_weights", "simplex_grid", "sparsity", "cardinality",
           "igd", "maximum_utility_loss", "crowding_distance", "check_weights"]


class FrontError(ShapeError):
    """A front that is empty, ragged, or whose objective count disagrees with another argument."""


def as_front(name: str, front, m: int | None = None, allow_empty: bool = False) -> np.ndarray:
    """``front`` as a float64 ``[k, m]`` array (a single point ``[m]`` becomes ``[1, m]``), checked finite.

    Raises:
        FrontError: empty (unless ``allow_empty``), not 2-D, or ``m`` objectives expected and not found.
    """
    F = as_float_array(front, name=name)
    if F.ndim == 1 and F.size:
        F = F[None]
    if F.ndim != 2:
        raise FrontError(f"{name} must be a [k, m] array of value vectors, got shape {F.shape}")
    if F.shape[0] == 0 and not allow_empty:
        raise FrontError(f"{name} is empty: at least one point is needed")
    if m is not None and F.shape[1] != m:
        raise FrontError(f"{name} has {F.shape[1]} objectives, expected {m}")
    check_finite(name, F)
    return F


def check_weights(name: str, weights, m: int | None = None) -> np.ndarray:
    """``weights`` as ``[n, m]`` rows on the probability simplex (non-negative, summing to 1 within 1e-8)."""
    W = as_front(name, weights, m)
    bad = np.argwhere(W < 0)
    if bad.size:
        i, j = bad[0]
        raise ParameterError(f"{name}[{i}, {j}] is {W[i, j]:.6g}: weights must lie on the simplex (>= 0)")
    off = np.flatnonzero(np.abs(W.sum(1) - 1.0) > 1e-8)
    if off.size:
        raise ParameterError(f"{name}[{off[0]}, :] sums to {W[off[0]].sum():.10g}: weights must lie on the "
                             "simplex (sum to 1)")
    return W


def dominates(p, q) -> bool:
    """``p >= q`` componentwise with at least one strict ``>`` (maximisation)."""
    p, q = np.asarray(p), np.asarray(q)
    return bool(np.all(p >= q) and np.any(p > q))


def pareto_mask(front) -> np.ndarray:
    """Boolean ``[k]``: True for points kept by :func:`pareto_filter` (first copy of duplicates kept)."""
    F = as_front("front", front, allow_empty=True)
    k = F.shape[0]
    if k == 0:
        return np.zeros(0, bool)
    if F.shape[1] == 2:
        # O(k log k): sorted by x0 descending, then x1 descending, then index, a point is kept iff its x1
        # beats every earlier point's x1 (earlier points dominate it or are earlier identical copies)
        order = np.lexsort((np.arange(k), -F[:, 1], -F[:, 0]))
        x1 = F[order, 1]
        best = np.maximum.accumulate(np.r_[-np.inf, x1[:-1]])
        keep = np.zeros(k, bool)
        keep[order] = x1 > best
        return keep
    ge = np.all(F[:, None, :] >= F[None, :, :], axis=-1)       # ge[i, j]: F_i >= F_j
    gt = np.any(F[:, None, :] > F[None, :, :], axis=-1)
    dominated = np.any(ge & gt, axis=0)                        # some i dominates j
    same = ge & ge.T
    earlier_copy = np.any(np.tril(same, -1), axis=1)           # an earlier identical point exists
    return ~dominated & ~earlier_copy


def pareto_filter(front) -> np.ndarray:
    """The non-dominated points of ``front`` ``[k, m]`` in their original order, duplicates removed."""
    F = as_front("front", front, allow_empty=True)
    return F[pareto_mask(F)]


def _ref(ref, m: int) -> np.ndarray:
    z = as_float_array(ref, name="ref")
    if z.shape != (m,):
        raise FrontError(f"ref has shape {z.shape}; the front has {m} objectives")
    check_finite("ref", z)
    return z


def hypervolume(front, ref, strict: bool = False) -> float:
    r"""Hypervolume of ``front`` ``[k, m]`` above the reference point ``ref`` ``[m]`` (maximisation).

    Exact, by ``moocore.hypervolume`` (WFG/HV3D+ algorithms) on the points that strictly dominate
    ``ref``.

    Args:
        front: ``[k, m]`` value vectors (or one ``[m]`` vector).
        ref: ``[m]`` reference point.
        strict: raise when no point strictly dominates ``ref`` (a reference point that dominates nothing
            useful is usually a mistake); otherwise return 0.

    Returns:
        The hypervolume (a float >= 0).
    """
    import moocore

    F = as_front("front", front)
    z = _ref(ref, F.shape[1])
    keep = np.all(F > z, axis=1)
    if not keep.any():
        if strict:
            raise ParameterError(f"ref {z.tolist()} is not strictly dominated by any point of the front "
                                 f"(componentwise maximum {F.max(0).tolist()})")
        return 0.0
    return float(moocore.hypervolume(F[keep], ref=z, maximise=True))


def hypervolume_2d(front, ref) -> float:
    r"""Two-objective hypervolume by the staircase sum (independent of ``moocore``; used as a cross-check).

    Sort the non-dominated points by the first objective, descending: :math:`\mathrm{HV} = \sum_i
    (x_i - z_1)(y_i - y_{i-1})` with :math:`y_0 = z_2` and :math:`y` increasing along the sort.
    """
    F = as_front("front", front, m=2)
    z = _ref(ref, 2)
    F = pareto_filter(F[np.all(F > z, axis=1)]) if np.any(np.all(F > z, axis=1)) else np.zeros((0, 2))
    order = np.argsort(-F[:, 0], kind="stable")
    total, y_prev = 0.0, z[1]
    for x, y in F[order]:
        total += (x - z[0]) * (y - y_prev)
        y_prev = y
    return float(total)


@functools.lru_cache(maxsize=None)
def _energy_table() -> dict:
    text = resources.files("mdp").joinpath("data/energy_weights_50.json").read_text()
    return json.loads(text)["weights"]


def energy_weights(m: int) -> np.ndarray:
    """The pinned 50-point Riesz s-energy weight set of the ``m``-simplex (``m`` in 2..9), ``[50, m]``."""
    m = check_scalar("m", m, low=2, high=9, integer=True)
    return np.array(_energy_table()[str(m)], dtype=np.float64)


def simplex_grid(m: int, delta: float) -> np.ndarray:
    r"""C-MORL's depth-first simplex grid: :math:`w_1..w_{m-1} \in \{0, \delta, 2\delta, \dots\}` with
    partial sums below :math:`1 + \delta/2` and :math:`w_m = 1 - \sum_{i<m} w_i`, ``[M, m]``.

    ``M`` is :math:`\binom{1/\delta + m - 1}{m - 1}` when ``1/delta`` is an integer (6 for ``m=2,
    delta=0.2``; 10 for ``m=3, delta=0.3`` after rounding; ``m`` for ``delta=1``).
    """
    m = check_scalar("m", m, low=1, integer=True)
    delta = check_scalar("delta", delta, low=0.0, high=1.0, low_open=True)
    out = []

    def dfs(prefix, total):
        if len(prefix) == m - 1:
            out.append(prefix + [max(0.0, 1.0 - total)])
            return
        w = 0.0
        while total + w < 1.0 + delta / 2:
            dfs(prefix + [w], total + w)
            w += delta
    dfs([], 0.0)
    W = np.array(out, dtype=np.float64)
    return W / W.sum(1, keepdims=True)


def expected_utility(front, weights=None) -> float:
    r"""Expected linear utility :math:`\frac1{|W|}\sum_w \max_{p\in F} w^\top p`.

    Args:
        front: ``[k, m]``.
        weights: ``[n, m]`` rows on the simplex; default :func:`energy_weights` ``(m)`` (morl-baselines').
    """
    F = as_front("front", front)
    W = energy_weights(F.shape[1]) if weights is None else check_weights("weights", weights, F.shape[1])
    return float(np.mean(np.max(W @ F.T, axis=1)))


def sparsity(front) -> float:
    """PGMORL's sparsity of ``front`` ``[k, m]`` (0 for fewer than two points); see the module docstring."""
    F = as_front("front", front, allow_empty=True)
    if F.shape[0] < 2:
        return 0.0
    G = np.sort(F, axis=0)
    return float(np.sum(np.diff(G, axis=0) ** 2) / (F.shape[0] - 1))


def cardinality(front) -> int:
    """Number of points left by :func:`pareto_filter`."""
    return int(pareto_mask(front).sum())


def igd(known_front, front) -> float:
    """Inverted generational distance: mean over the *known* front of the distance to the nearest point."""
    Z = as_front("known_front", known_front)
    F = as_front("front", front, Z.shape[1])
    D = np.linalg.norm(Z[:, None, :] - F[None, :, :], axis=-1)
    return float(D.min(axis=1).mean())


def maximum_utility_loss(front, reference_front, weights=None) -> float:
    """:math:`\\max_w [\\max_{z} w^\\top z - \\max_{p} w^\\top p]` over ``weights`` (default energy weights)."""
    F = as_front("front", front)
    Z = as_front("reference_front", reference_front, F.shape[1])
    W = energy_weights(F.shape[1]) if weights is None else check_weights("weights", weights, F.shape[1])
    return float(np.max((W @ Z.T).max(1) - (W @ F.T).max(1)))


def crowding_distance(front) -> np.ndarray:
    r"""NSGA-II crowding distance ``[k]``: boundary points get ``inf``; interior point :math:`i` adds
    :math:`(G_k[i+1] - G_k[i-1]) / (G_{k,\max} - G_{k,\min})` per objective (objectives with zero range add
    nothing, a guard C-MORL's code lacks)."""
    F = as_front("front", front, allow_empty=True)
    k, m = F.shape
    cd = np.zeros(k)
    if k <= 2:
        return np.full(k, np.inf)
    for j in range(m):
        order = np.argsort(F[:, j], kind="stable")
        g = F[order, j]
        span = g[-1] - g[0]
        cd[order[0]] = cd[order[-1]] = np.inf
        if span > 0:
            cd[order[1:-1]] += (g[2:] - g[:-2]) / span
    return cd
