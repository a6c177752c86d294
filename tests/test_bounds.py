import math

import numpy as np
import pytest

from theory import bounds


def test_sample_complexity_scaling_in_eps_and_H():
    base = bounds.sample_complexity(4, 5, 8, 10, 0.1)
    # closed form with unit constants
    assert math.isclose(base, 4 * 5 ** 5 * math.log(8) / 0.01 + 4 * 5 ** 4 * 10 / 0.01)
    assert math.isclose(bounds.sample_complexity(4, 5, 8, 10, 0.05), 4 * base)
    assert bounds.sample_complexity(4, 10, 8, 10, 0.1) > 16 * base


def test_regret_is_sqrt_T_and_consistent_with_sample_complexity():
    r1, r4 = bounds.regret_bound(3, 4, 5, 7, 100), bounds.regret_bound(3, 4, 5, 7, 400)
    assert math.isclose(r4, 2 * r1)
    # online-to-batch: regret(T)/T <= eps  <=>  T >= (sqrt(a)+sqrt(b))^2/eps^2, same order as N(eps)
    T = 1e6
    eps = bounds.regret_bound(3, 4, 5, 7, T) / T
    n = bounds.sample_complexity(3, 4, 5, 7, eps)
    assert 0.5 <= n / T <= 1.0


def test_offline_threshold_and_switch_bound():
    assert bounds.offline_threshold(2.0, 3, 2, 0.5) == 2.0 * 3 * 16 / 0.25
    assert bounds.max_switches_tabular(7, 5, 6, 1024) == 7 * 5 * 6 * 11
    assert bounds.tabular_dimensions(7, 5, 6) == (35.0, 210.0)


@pytest.mark.parametrize("bad", [0, -1, np.nan, np.inf])
def test_bad_inputs(bad):
    with pytest.raises(ValueError):
        bounds.sample_complexity(1, 2, 3, 4, bad)
