r"""Population-varying congestion games: one symmetric n-agent game for every n, with exact equilibria.

The family (MRA, Zhang et al. 2021, made tabular; ``docs/experiments.md#mra_latent_exact``): ``n``
symmetric agents each pick one of ``K`` resources with values :math:`v_k > 0`; an agent on resource
:math:`k` shared by :math:`L_k` agents receives :math:`v_k / L_k`. When the other :math:`n - 1` agents
play the symmetric mixture :math:`x \in \Delta_K`, the load of resource :math:`k` besides oneself is
:math:`B_k \sim \mathrm{Bin}(n-1, x_k)` and the expected payoff of choosing :math:`k` is

.. math:: u_k(x) = v_k\,\mathbb E\Big[\frac{1}{1 + B_k}\Big] = v_k\, g_n(x_k),\qquad
          g_n(p) = \frac{1 - (1-p)^n}{n p},\quad g_n(0) = 1,

(the identity :math:`\mathbb E[1/(1+B)] = (1 - (1-p)^n)/(np)` for :math:`B \sim \mathrm{Bin}(n-1, p)`).
The NashConv of the symmetric profile in which every agent plays :math:`x` is

.. math:: \mathrm{NashConv}_n(x) = \sum_{i=1}^n \big[\max_k u_k(x) - x^\top u(x)\big]
          = n\,\big[\max_k u_k(x) - x^\top u(x)\big].

For :math:`n \ge 2`, :math:`g_n` decreases strictly from 1 to :math:`1/n`, so the symmetric equilibrium
is unique and is found by *water-filling*: at the equilibrium payoff level :math:`c`,
:math:`x_k(c) = g_n^{-1}(c / v_k)` where :math:`v_k > c` and :math:`0` elsewhere, with :math:`c` fixed by
:math:`\sum_k x_k(c) = 1` (both inversions are monotone bisections). For :math:`n = 1` the game is a
choice of the best resource.

Example:
    >>> fam = congestion_family((1, 2, 4))
    >>> eq = fam.equilibrium(3)
    >>> [round(float(p), 3) for p in eq.mixture]
    [0.0, 0.193, 0.807]
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from theory.backend import is_torch
from theory.results import SolverResult
from theory.validation import ParameterError, ShapeError, check_finite, check_scalar, as_float_array

__all__ = ["CongestionFamily", "SymmetricEquilibrium", "LatentFit", "congestion_family", "check_population",
           "check_populations", "share", "best_latent_weights"]


def check_population(name: str, n) -> int:
    """``n`` as an ``int >= 1`` (numpy integers accepted); :class:`ParameterError` naming ``name`` otherwise."""
    return check_scalar(name, n, low=1, integer=True)


def check_populations(name: str, populations) -> tuple[int, ...]:
    """A non-empty sequence of distinct populations ``>= 1`` as a sorted tuple of ints."""
    if isinstance(populations, (str, bytes)) or np.ndim(populations) != 1:
        raise ParameterError(f"{name} must be a non-empty sequence of integers >= 1, got {populations!r}")
    out = tuple(check_population(f"{name}[{i}]", n) for i, n in enumerate(populations))
    if not out:
        raise ParameterError(f"{name} must be a non-empty sequence of integers >= 1, got {populations!r}")
    if len(set(out)) != len(out):
        raise ParameterError(f"{name} has repeated populations: {populations!r}")
    return tuple(sorted(out))


def share(n, p):
    r""":math:`g_n(p) = \mathbb E[1/(1+B)]`, :math:`B\sim\mathrm{Bin}(n-1,p)`: the expected share of a unit value.

    Args:
        n: population(s), broadcastable against ``p`` (numpy or torch).
        p: probabilities in [0, 1], any shape (numpy array or torch tensor).

    Returns:
        :math:`(1-(1-p)^n)/(np)` elementwise, with the series :math:`1 - (n-1)p/2 + (n-1)(n-2)p^2/6` near
        :math:`p = 0` (value 1 at 0); same type and shape as the broadcast inputs.
    """
    if is_torch(p):
        import torch as xp

        n = xp.as_tensor(n, dtype=p.dtype, device=p.device)
    else:
        xp = np
        p = np.asarray(p, dtype=float)
        n = np.asarray(n, dtype=float)
    p = xp.clip(p, 0.0, 1.0)  # rounding can leave a mixture's entry at 1 + 1e-16
    small = p < 1e-6
    ps = xp.where(small, xp.ones_like(p), p)
    with np.errstate(divide="ignore"):  # log1p(-1) = -inf gives the exact value 1/n at p = 1
        exact = -xp.expm1(n * xp.log1p(-ps)) / (n * ps)
    series = 1 - (n - 1) * p / 2 + (n - 1) * (n - 2) * p * p / 6
    return xp.where(small, series, exact)


@dataclass(frozen=True)
class SymmetricEquilibrium(SolverResult):
    """The symmetric mixed Nash equilibrium of one population, with its certificate.

    Attributes:
        n: the population.
        mixture: ``[K]`` equilibrium probabilities over resources.
        value: the equilibrium payoff of each agent.
        residual: ``NashConv_n(mixture)`` of the returned mixture (0 at an exact equilibrium).
        error_bound: ``None`` (no certified distance to the equilibrium mixture is computed).
        converged: ``residual <= tol``.
        iterations: bisection steps on the payoff level.
    """

    n: int
    mixture: np.ndarray
    value: float


@dataclass(frozen=True)
class LatentFit(SolverResult):
    """The best latent distribution :math:`p(z\\mid n)` for fixed modes :math:`\\pi(\\cdot\\mid z)`.

    Attributes:
        weights: ``[Z]`` the optimal :math:`p(z\\mid n)`.
        mixture: ``[K]`` the induced symmetric mixture :math:`\\sum_z p(z\\mid n)\\pi(\\cdot\\mid z)`.
        residual: its NashConv (the minimum over the latent simplex).
        error_bound: ``None``.
        converged: ``None`` (no stopping test: a global minimum over a polytope, see the method).
        iterations: local-solver starts.
        exact: the equilibrium lies in the modes' convex hull (found by a linear program).
    """

    weights: np.ndarray
    mixture: np.ndarray
    exact: bool


@dataclass(frozen=True)
class CongestionFamily:
    r"""The population-varying congestion game with resource values ``values`` (``[K]``, positive).

    Methods take a population ``n`` (int, or an integer array broadcast against the mixtures) and
    mixtures ``x[..., K]`` (numpy or torch; 10^4 mixtures are one vectorised call).
    """

    values: np.ndarray

    def __post_init__(self):
        v = as_float_array(self.values, name="values")
        if v.ndim != 1 or v.size < 1:
            raise ShapeError(f"values must be a non-empty 1-d array of resource values, got shape {v.shape}")
        check_finite("values", v)
        bad = np.flatnonzero(v <= 0)
        if bad.size:
            raise ParameterError(f"values[{bad[0]}] is {v[bad[0]]:.6g} (resource values must be > 0)")
        v.setflags(write=False)
        object.__setattr__(self, "values", v)

    @property
    def num_resources(self) -> int:
        return int(self.values.size)

    def _mixtures(self, x):
        if is_torch(x):
            if x.shape[-1:] != (self.num_resources,):
                raise ShapeError(f"x must have a last axis of size K = {self.num_resources}, "
                                 f"got shape {tuple(x.shape)}")
            return x
        x = as_float_array(x, name="x")
        if x.ndim == 0 or x.shape[-1] != self.num_resources:
            raise ShapeError(f"x must have a last axis of size K = {self.num_resources}, got shape {x.shape}")
        check_finite("x", x)
        return x

    def payoffs(self, n, x):
        r"""Expected payoff :math:`u_k(x) = v_k g_n(x_k)` of each resource against the symmetric mixture ``x``.

        Args:
            n: population (int >= 1) or an integer array broadcastable to ``x.shape[:-1]``.
            x: ``[..., K]`` mixtures.

        Returns:
            ``[..., K]`` payoffs (numpy, or torch when ``x`` is a tensor).
        """
        x = self._mixtures(x)
        n = _populations(n)
        nn = n[..., None] if np.ndim(n) else n
        if is_torch(x):
            import torch

            v = torch.tensor(np.array(self.values), dtype=x.dtype, device=x.device)
            return v * share(torch.as_tensor(nn, dtype=x.dtype, device=x.device), x)
        return self.values * share(nn, x)

    def nash_conv(self, n, x):
        r""":math:`\mathrm{NashConv}_n(x) = n(\max_k u_k(x) - x^\top u(x))` of the symmetric profile ``x``.

        Args:
            n: population (int >= 1) or integer array broadcastable to ``x.shape[:-1]``.
            x: ``[..., K]`` mixtures (rows need not be validated as distributions; pass distributions).

        Returns:
            ``[...]`` NashConv values (numpy, or torch for tensor input).
        """
        x = self._mixtures(x)
        u = self.payoffs(n, x)
        nn = _populations(n)
        if is_torch(x):
            import torch

            gap = u.max(-1).values - (x * u).sum(-1)
            return torch.as_tensor(nn, dtype=x.dtype, device=x.device) * gap.clamp_min(0)
        gap = u.max(-1) - (x * u).sum(-1)
        return nn * np.maximum(gap, 0.0)

    def equilibrium(self, n, tol: float = 1e-12, iterations: int = 200) -> SymmetricEquilibrium:
        r"""The unique symmetric mixed equilibrium of the ``n``-agent game, by water-filling.

        Args:
            n: population, an int >= 1.
            tol: NashConv accepted as converged.
            iterations: bisection steps on the payoff level :math:`c` (and on each :math:`g_n^{-1}`).

        Returns:
            :class:`SymmetricEquilibrium` (``residual`` is the exact NashConv of the returned mixture).

        Example:
            >>> congestion_family((1, 2, 4)).equilibrium(2).mixture.round(6).tolist()
            [0.0, 0.0, 1.0]
        """
        n = check_population("n", n)
        tol = check_scalar("tol", tol, low=0.0)
        iterations = check_scalar("iterations", iterations, low=1, integer=True)
        v = self.values
        if n == 1:
            x = (v == v.max()).astype(float)
            x /= x.sum()
        else:
            lo, hi = v.max() / n, v.max()  # S(lo) >= 1 (the best resource alone fills), S(hi) = 0
            for _ in range(iterations):
                c = 0.5 * (lo + hi)
                if self._fill(n, c, iterations).sum() >= 1.0:
                    lo = c
                else:
                    hi = c
            x = self._fill(n, lo, iterations)
            x = x / x.sum()
        u = self.payoffs(n, x)
        res = float(self.nash_conv(n, x))
        return SymmetricEquilibrium(n=n, mixture=x, value=float(x @ u), residual=res, error_bound=None,
                                    converged=bool(res <= tol), iterations=int(iterations))

    def _fill(self, n: int, c: float, iterations: int) -> np.ndarray:
        """``x_k(c) = g_n^{-1}(c / v_k)`` clipped to [0, 1] (0 where ``v_k <= c``), by vectorised bisection."""
        target = c / self.values
        lo = np.zeros_like(target)
        hi = np.ones_like(target)
        for _ in range(iterations):
            mid = 0.5 * (lo + hi)
            above = share(n, mid) > target  # g decreasing: the root lies right of mid
            lo = np.where(above, mid, lo)
            hi = np.where(above, hi, mid)
        x = 0.5 * (lo + hi)
        return np.where(target >= 1.0, 0.0, np.where(target <= 1.0 / n, 1.0, x))

    def simplex_grid(self, resolution: int) -> np.ndarray:
        """All mixtures with coordinates in ``{0, 1/r, ..., 1}``: ``[C(r+K-1, K-1), K]`` (brute-force checks)."""
        r = check_scalar("resolution", resolution, low=1, integer=True)
        K = self.num_resources
        pts = [c for c in _compositions(r, K)]
        return np.asarray(pts, dtype=float) / r


def _compositions(r: int, k: int):
    if k == 1:
        yield (r,)
        return
    for i in range(r + 1):
        for rest in _compositions(r - i, k - 1):
            yield (i,) + rest


def _populations(n):
    if np.ndim(n) == 0:
        return check_population("n", n)
    a = np.asarray(n)
    if a.size == 0 or not np.issubdtype(a.dtype, np.integer) or (a < 1).any():
        raise ParameterError(f"n must hold integers >= 1, got {n!r}")
    return a


def congestion_family(values=(1.0, 2.0, 4.0)) -> CongestionFamily:
    """The congestion family with resource ``values`` (default ``(1, 2, 4)``, the MRA toy of the docs)."""
    return CongestionFamily(values)


def best_latent_weights(family: CongestionFamily, n, modes, samples: int = 2048, polish: int = 2,
                        seed: int = 0) -> LatentFit:
    r"""Minimise :math:`\mathrm{NashConv}_n(\sum_z w_z \pi(\cdot\mid z))` over latent weights :math:`w \in \Delta_Z`.

    The induced mixtures form the polytope :math:`\mathrm{conv}\{\pi(\cdot\mid z)\}`. (1) A linear program
    decides whether the exact equilibrium :math:`x^*_n` lies in it; if so its weights are returned
    (``exact=True``, NashConv at the equilibrium solver's precision). (2) Otherwise NashConv is evaluated
    (vectorised) at the vertices, the barycentre and ``samples`` Dirichlet(1) points, and the epigraph
    problem :math:`\min_{w,t} n(t - x^\top u(x))` s.t. :math:`t \ge u_k(x)`, :math:`x = \Pi^\top w`, is
    solved by SLSQP from the ``polish`` best of them; the best point found is returned.

    Args:
        family: the congestion family.
        n: population (int >= 1).
        modes: ``[Z, K]`` mode distributions :math:`\pi(\cdot\mid z)`.
        samples: random candidate weights screened before the local solves.
        polish: SLSQP starts (the best screened candidates).
        seed: seed of the random candidates.

    Returns:
        :class:`LatentFit`.

    Example:
        >>> fam = congestion_family((1, 2, 4))
        >>> round(best_latent_weights(fam, 6, [[0, 0, 1], [.5, .5, 0]]).residual, 2)
        0.77
    """
    from scipy.optimize import linprog, minimize

    from theory.validation import check_distributions

    n = check_population("n", n)
    samples = check_scalar("samples", samples, low=0, integer=True)
    polish = check_scalar("polish", polish, low=1, integer=True)
    M = as_float_array(modes, name="modes")
    if M.ndim != 2 or M.shape[1] != family.num_resources:
        raise ShapeError(f"modes must have shape (Z, {family.num_resources}), got {M.shape}")
    check_distributions("modes", M)
    Z = M.shape[0]
    xstar = family.equilibrium(n).mixture
    lp = linprog(np.zeros(Z), A_eq=np.vstack([M.T, np.ones((1, Z))]), b_eq=np.append(xstar, 1.0),
                 bounds=[(0, None)] * Z, method="highs")
    if lp.status == 0:
        w = np.clip(lp.x, 0, None)
        w /= w.sum()
        x = w @ M
        return LatentFit(w, x, True, residual=float(family.nash_conv(n, x)), iterations=0)
    rng = np.random.default_rng(seed)
    cand = np.vstack([np.eye(Z), np.full((1, Z), 1.0 / Z), rng.dirichlet(np.ones(Z), samples)])
    vals = family.nash_conv(n, cand @ M)
    order = np.argsort(vals)

    def obj(y):
        x = y[:Z] @ M
        return n * (y[Z] - x @ family.payoffs(n, x))

    cons = [{"type": "eq", "fun": lambda y: y[:Z].sum() - 1.0},
            {"type": "ineq", "fun": lambda y: y[Z] - family.payoffs(n, y[:Z] @ M)}]
    best_w, best = cand[order[0]], float(vals[order[0]])
    for w0 in cand[order[:polish]]:
        y0 = np.append(w0, family.payoffs(n, w0 @ M).max())
        r = minimize(obj, y0, method="SLSQP", constraints=cons, bounds=[(0, 1)] * Z + [(None, None)],
                     options={"ftol": 1e-14, "maxiter": 500})
        w = np.clip(r.x[:Z], 0, None)
        w /= w.sum()
        val = float(family.nash_conv(n, w @ M))
        if val < best:
            best, best_w = val, w
    return LatentFit(best_w, best_w @ M, False, residual=best, iterations=int(polish))
