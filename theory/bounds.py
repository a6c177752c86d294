r"""Closed-form bounds of the actor-critic paper (Tan, Fan & Wei, ICML 2025), as functions.

The paper's statements are order bounds (constants and log factors unspecified); these functions
return the expressions with unit constants, to be drawn next to measured curves as *shapes* (slopes),
never as absolute predictions. Notation: :math:`d` the Bellman eluder dimension, :math:`H` the horizon,
:math:`|\mathcal A|` the number of actions, :math:`\log|\mathcal F|` the critic class's log-size.

* Sample complexity (trajectories to an :math:`\varepsilon`-optimal policy):
  :math:`d H^5\log|\mathcal A|/\varepsilon^2 + d H^4 \log|\mathcal F|/\varepsilon^2`.
* Regret after :math:`T` episodes (the matching :math:`\sqrt T` form of the paper's regret decomposition):
  :math:`\sqrt{d H^5 T\log|\mathcal A|} + \sqrt{d H^4 T \log|\mathcal F|}`.
* Non-optimistic hybrid: :math:`N_{\text{off}} \ge c^*_{\text{off}}\, d H^4/\varepsilon^2`.
* Tabular instantiation (``docs/experiments.md``, actor-critic section): :math:`d \approx SA`,
  :math:`\log|\mathcal F| \approx SAH`.
* Rare switching (tabular, counts doubling): at most :math:`SAH(\log_2 T + 1)` switches.
"""
from __future__ import annotations

import math

import numpy as np

__all__ = ["sample_complexity", "regret_bound", "offline_threshold", "tabular_dimensions",
           "max_switches_tabular"]


def _pos(name, v):
    v = np.asarray(v, dtype=float)
    if np.any(~np.isfinite(v)) or np.any(v <= 0):
        raise ValueError(f"{name} must be positive and finite, got {v}")
    return v


def sample_complexity(d, H, A, log_F, eps):
    """Trajectories to an eps-optimal policy: ``d H^5 log A / eps^2 + d H^4 log|F| / eps^2``."""
    d, H, A, log_F, eps = (_pos(k, v) for k, v in dict(d=d, H=H, A=A, log_F=log_F, eps=eps).items())
    return d * H ** 5 * np.log(np.maximum(A, 2)) / eps ** 2 + d * H ** 4 * log_F / eps ** 2


def regret_bound(d, H, A, log_F, T):
    """``sqrt(d H^5 T log A) + sqrt(d H^4 T log|F|)`` (order, unit constants)."""
    d, H, A, log_F, T = (_pos(k, v) for k, v in dict(d=d, H=H, A=A, log_F=log_F, T=T).items())
    return np.sqrt(d * H ** 5 * T * np.log(np.maximum(A, 2))) + np.sqrt(d * H ** 4 * T * log_F)


def offline_threshold(c_star, d, H, eps):
    """Offline samples the non-optimistic actor-critic needs: ``c* d H^4 / eps^2``."""
    c_star, d, H, eps = (_pos(k, v) for k, v in dict(c_star=c_star, d=d, H=H, eps=eps).items())
    return c_star * d * H ** 4 / eps ** 2


def tabular_dimensions(S: int, A: int, H: int) -> tuple[float, float]:
    """``(d, log|F|) = (S A, S A H)``: the tabular instantiation (``docs/experiments.md``)."""
    return float(S * A), float(S * A * H)


def max_switches_tabular(S: int, A: int, H: int, T: int) -> float:
    """Counts-doubling switches after T episodes: each of the SAH counts doubles at most log2(T)+1 times."""
    return float(S * A * H * (math.log2(max(T, 1)) + 1))
