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


def converged_measurement(frame, label: str = "fits that met their stopping test"):
    """How many rows' solver runs met their stopping test, as a Wilson interval (a Measurement).

    For experiments whose sampled fits may stop at their iteration budget: the runs are silenced
    (``NotConvergedWarning`` would print once per fit), so the count goes into the claims file instead,
    next to the ``residual`` column of the rows.
    """
    from experiments.claims import Measurement
    from theory.rates import Interval

    flags = frame["converged"].dropna().astype(bool)
    return Measurement.of(f"{label} ({int(flags.sum())} of {len(flags)})",
                          Interval.proportion(int(flags.sum()), len(flags)),
                          description="converged = residual <= tol of the solver's own stopping test")
