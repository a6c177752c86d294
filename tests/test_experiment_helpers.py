"""Shared experiment helpers: non-converged fit counts as a last column, and interval error bars."""
import types

import matplotlib
import numpy as np
import pandas as pd

from experiments.fits import N_NOT_CONVERGED, not_converged, with_fit_counts

matplotlib.use("Agg")


def test_not_converged_counts_results():
    ok, bad = types.SimpleNamespace(converged=True), types.SimpleNamespace(converged=False)
    assert not_converged() == 0 and not_converged(ok) == 0 and not_converged(bad, ok, bad) == 2


def test_fit_count_column_is_last_and_leaves_the_rest_unchanged():
    rows = [dict(panel="a", x=1.5, n_not_converged=1), dict(panel="b", y=2), dict(panel="a", x=0.5, n_not_converged=0)]
    got = with_fit_counts(rows)
    expected = pd.DataFrame({"panel": ["a", "b", "a"], "x": [1.5, np.nan, 0.5], "y": [np.nan, 2.0, np.nan],
                             N_NOT_CONVERGED: np.array([1, 0, 0], dtype="int64")})
    pd.testing.assert_frame_equal(got, expected)
    plain = with_fit_counts([dict(a=1)])
    assert list(plain.columns) == ["a", N_NOT_CONVERGED] and plain[N_NOT_CONVERGED].tolist() == [0]


def test_interval_errorbar_draws_estimate_minus_low_and_high_minus_estimate():
    import matplotlib.pyplot as plt

    from experiments.plotting import interval_errorbar

    fig, ax = plt.subplots()
    c = interval_errorbar(ax, [0, 1], [2.0, 5.0], [1.5, 1.0], [3.0, 6.0])
    segs = c.lines[2][0].get_segments()  # one vertical segment per point, from low to high
    assert np.allclose([s[:, 1] for s in segs], [[1.5, 3.0], [1.0, 6.0]])
    c2 = interval_errorbar(ax, [0], 2.0, 2.5, 3.0, clip=True)  # estimate below its interval: lower half drawn as 0
    assert np.allclose(c2.lines[2][0].get_segments()[0][:, 1], [2.0, 3.0])
    plt.close(fig)
