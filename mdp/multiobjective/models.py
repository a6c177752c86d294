"""Random multi-objective MDPs for experiments and tests."""
from __future__ import annotations

import numpy as np

from mdp.generators import garnet
from mdp.model import TabularMDP
from theory.validation import check_scalar

__all__ = ["random_momdp"]


def random_momdp(S: int = 20, A: int = 4, objectives: int = 2, gamma: float = 0.9, branching: int = 3,
                 seed=0, correlation: float | None = None) -> TabularMDP:
    r"""A Garnet kernel (``branching`` next states per pair, Dirichlet(1) probabilities, dense) with
    ``objectives`` reward channels ``R[s, a, :]`` drawn from a Gaussian copula with pairwise
    correlation ``correlation`` (negative: conflicting objectives), mapped to ``U[0, 1]`` margins.

    Args:
        S, A: state and action counts; objectives: ``m >= 2``; gamma: discount; branching: next states;
        seed: an int or a ``numpy.random.Generator``; correlation: in ``(-1/(m-1), 1)``; default ``-0.5/(m-1)``.

    Returns:
        ``TabularMDP`` with ``R[S, A, m]`` and a uniform initial distribution.
    """
    from scipy.stats import norm

    k = check_scalar("objectives", objectives, low=2, integer=True)
    correlation = -0.5 / (k - 1) if correlation is None else correlation
    rho = check_scalar("correlation", correlation, low=-1.0 / (k - 1), high=1.0, low_open=True, high_open=True)
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    base = garnet(S, A, branching, gamma, seed=rng, sparse=False)
    C = np.full((k, k), rho) + (1 - rho) * np.eye(k)
    Z = rng.standard_normal((S * A, k)) @ np.linalg.cholesky(C).T
    return TabularMDP(base.P, norm.cdf(Z).reshape(S, A, k), gamma, base.mu)
