"""Shared tidy-row helpers of `experiments.frames`."""
import math

import pandas as pd

from experiments.frames import converged_measurement


def test_converged_measurement_counts_and_wilson_interval():
    frame = pd.DataFrame({"converged": [True, False, None, True]})  # None: no stopping test (dropped)
    m = converged_measurement(frame, "fits")
    assert m.name == "fits (2 of 3)" and m.value == 2 / 3
    z, n, p = 1.959963984540054, 3, 2 / 3  # Wilson score interval, written out
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    assert math.isclose(m.ci_low, centre - half, rel_tol=1e-9) and math.isclose(m.ci_high, centre + half, rel_tol=1e-9)
