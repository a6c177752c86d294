"""Tidy rows shared by experiment modules (experiments never import each other; they share this)."""
from __future__ import annotations

import numpy as np


def regret_rows(result, name, grid, eps_grid=()):
    """Long-format rows of an actor-critic result: regret and switches at ``grid``, and for every ``eps`` in
    ``eps_grid`` the first episode at which the uniform mixture of the first t policies is eps-optimal."""
    rows = []
    gap = result.regret / np.arange(1, result.regret.shape[1] + 1)
    for eps in eps_grid:
        for b in range(result.regret.shape[0]):
            hit = np.flatnonzero(gap[b] <= eps)
            rows.append(dict(algorithm=name, run=b, kind="eps_rate", eps=float(eps),
                             episode=int(hit[0] + 1) if hit.size else -1))
    for t in grid:
        for b in range(result.regret.shape[0]):
            rows.append(dict(algorithm=name, run=b, kind="curve", episode=int(t),
                             regret=float(result.regret[b, t - 1]),
                             switches=int(result.switches[b, t - 1]),
                             mixture_gap=float(result.regret[b, t - 1] / t)))
    return rows
