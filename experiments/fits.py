"""Fits that stop without meeting their stopping test are counted in the results, never silenced.

A solver that runs out of its budget before its stopping test says so twice: its result has ``converged =
False`` and it warns :class:`theory.results.NotConvergedWarning` (shown in the job's log). Experiments that
run solvers on a fixed budget (a convergence curve, a stall under study) do not suppress that warning; each row
built from such fits carries the column :data:`N_NOT_CONVERGED`, the number of them behind the row that did not
converge (0 for rows without a fit), added last by :func:`with_fit_counts` so that every other column keeps its
place and values.
"""
from __future__ import annotations

__all__ = ["N_NOT_CONVERGED", "not_converged", "with_fit_counts"]

N_NOT_CONVERGED = "n_not_converged"


def not_converged(*results) -> int:
    """How many of ``results`` (solver results with a ``converged`` field) did not converge."""
    return sum(not bool(r.converged) for r in results)


def with_fit_counts(rows):
    """``pandas.DataFrame(rows)`` with :data:`N_NOT_CONVERGED` as its last column (int64, 0 where a row has none).

    The other columns are exactly those of ``pandas.DataFrame`` of the rows without the key: same order of first
    appearance, same values and dtypes.
    """
    import pandas as pd

    frame = pd.DataFrame(rows)
    counts = frame.pop(N_NOT_CONVERGED) if N_NOT_CONVERGED in frame.columns else pd.Series(0, index=frame.index)
    frame[N_NOT_CONVERGED] = counts.fillna(0).astype("int64")
    return frame
