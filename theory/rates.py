r"""Empirical rates and confidence intervals: the one place where experiments turn numbers into claims.

A *rate claim* says that a quantity :math:`y` scales like :math:`x^\beta` (regret :math:`\propto T^{1/2}`,
oracle calls :math:`\propto n^{1/2}`, error :math:`\propto \gamma^k`). We estimate :math:`\beta` as the
least-squares slope of :math:`\log y` on :math:`\log x`,

.. math:: \hat\beta = \frac{\sum_j (u_j - \bar u)(v_j - \bar v)}{\sum_j (u_j-\bar u)^2},
          \quad u_j = \log x_j,\ v_j = \log y_j,

and its 95% interval by a seed-level (cluster) bootstrap: seeds are resampled with replacement, the
per-``x`` means are recomputed, and the slope refitted. Resampling whole seeds keeps the dependence
between points of one learning curve, which a point-level bootstrap would ignore.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

__all__ = ["Interval", "mean_ci", "bootstrap_ci", "loglog_slope", "fit_loglog_slope"]


@dataclass(frozen=True)
class Interval:
    """An estimate with a two-sided confidence interval.

    ``level`` is the confidence level; an exact (deterministic) quantity is :meth:`point` with level 1.
    An interval from a single observation of a random quantity is unbounded (``low=-inf``,
    ``high=+inf``): one run says nothing about the spread, so a claim on it is inconclusive.
    """

    estimate: float
    low: float
    high: float
    level: float = 0.95

    @property
    def exact(self) -> bool:
        """An exact (deterministic) value: ``low == estimate == high`` at level 1."""
        return self.level == 1.0 and self.low == self.high == self.estimate

    @staticmethod
    def point(x: float) -> "Interval":
        """An exact, deterministic quantity (a maximum violation, an exact value): no sampling error."""
        x = float(x)
        return Interval(x, x, x, 1.0)

    @staticmethod
    def unknown(estimate: float, level: float = 0.95) -> "Interval":
        """One observation of a random quantity: the estimate with an unbounded interval."""
        return Interval(float(estimate), -math.inf, math.inf, level)

    @staticmethod
    def proportion(k: int, n: int, level: float = 0.95) -> "Interval":
        r"""Wilson score interval of a proportion ``k / n`` (always inside [0, 1]).

        .. math:: \frac{\hat p + \frac{z^2}{2n} \pm z\sqrt{\frac{\hat p(1-\hat p)}{n} + \frac{z^2}{4n^2}}}
                  {1 + z^2/n}
        """
        k, n = int(k), int(n)
        if n < 1 or not 0 <= k <= n:
            raise ValueError(f"proportion needs 0 <= k <= n and n >= 1, got k={k}, n={n}")
        z = float(stats.norm.ppf(0.5 + level / 2))
        p = k / n
        centre = (p + z * z / (2 * n)) / (1 + z * z / n)
        half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
        return Interval(p, max(0.0, centre - half), min(1.0, centre + half), level)

    def contains(self, value: float) -> bool:
        return self.low <= value <= self.high

    def overlaps(self, low: float, high: float) -> bool:
        return self.low <= high and low <= self.high


def mean_ci(values, level: float = 0.95) -> Interval:
    """Mean with a Student-t interval. One value gives an unbounded interval (:meth:`Interval.unknown`)."""
    x = np.asarray(values, dtype=float).ravel()
    if x.size == 0:
        raise ValueError("mean_ci needs at least one value")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"mean_ci got non-finite values at {np.flatnonzero(~np.isfinite(x)).tolist()}")
    m = float(x.mean())
    if x.size == 1:
        return Interval.unknown(m, level)
    half = float(stats.t.ppf(0.5 + level / 2, x.size - 1) * x.std(ddof=1) / np.sqrt(x.size))
    return Interval(m, m - half, m + half, level)


def bootstrap_ci(samples, statistic=np.mean, n_boot: int = 2000, level: float = 0.95,
                 seed: int = 0) -> Interval:
    """Percentile bootstrap interval of ``statistic`` over the first axis of ``samples``."""
    x = np.asarray(samples, dtype=float)
    if x.shape[0] == 0:
        raise ValueError("bootstrap_ci needs at least one sample")
    rng = np.random.default_rng(seed)
    est = float(statistic(x))
    if x.shape[0] == 1:
        return Interval.unknown(est, level)
    idx = rng.integers(0, x.shape[0], size=(n_boot, x.shape[0]))
    boots = np.array([statistic(x[i]) for i in idx])
    lo, hi = np.quantile(boots, [(1 - level) / 2, (1 + level) / 2])
    return Interval(est, float(lo), float(hi), level)


def loglog_slope(x, y) -> float:
    """Least-squares slope of log y against log x (all entries must be positive)."""
    x = np.asarray(x, dtype=float).ravel()
    y = np.asarray(y, dtype=float).ravel()
    if x.shape != y.shape or x.size < 2:
        raise ValueError(f"loglog_slope needs two equal-length arrays of >= 2 points, got {x.size}, {y.size}")
    bad = np.flatnonzero((x <= 0) | (y <= 0) | ~np.isfinite(x) | ~np.isfinite(y))
    if bad.size:
        raise ValueError(f"loglog_slope needs positive finite values; index {bad[0]} has x={x[bad[0]]}, "
                         f"y={y[bad[0]]}")
    u, v = np.log(x), np.log(y)
    u0 = u - u.mean()
    return float(u0 @ (v - v.mean()) / (u0 @ u0))


def fit_loglog_slope(x, Y, n_boot: int = 2000, level: float = 0.95, seed: int = 0) -> Interval:
    """Slope of log(mean_seeds Y) against log x, with a seed-bootstrap interval.

    Args:
      x: ``[K]`` positive abscissae (e.g. episode counts T).
      Y: ``[seeds, K]`` positive measurements, one row per independent seed.
    """
    x = np.asarray(x, dtype=float).ravel()
    Y = np.atleast_2d(np.asarray(Y, dtype=float))
    if Y.shape[1] != x.size:
        raise ValueError(f"Y has {Y.shape[1]} columns but x has {x.size} points")
    est = loglog_slope(x, Y.mean(axis=0))
    if Y.shape[0] == 1:
        return Interval.unknown(est, level)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, Y.shape[0], size=(n_boot, Y.shape[0]))
    boots = np.array([loglog_slope(x, Y[i].mean(axis=0)) for i in idx])
    lo, hi = np.quantile(boots, [(1 - level) / 2, (1 + level) / 2])
    return Interval(est, float(lo), float(hi), level)
