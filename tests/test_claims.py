"""The verdict rule of experiments.claims.Claim on crafted intervals, and the intervals behind it."""
import math

import numpy as np
import pytest
from scipy import stats

from experiments.claims import Claim, Measurement, TheoremViolation, verdict_counts
from theory.rates import Interval, bootstrap_ci, fit_loglog_slope, mean_ci


def iv(est, lo, hi):
    return Interval(est, lo, hi)


def test_one_sided_straddling_is_inconclusive():
    # the actor_critic_hybrid case: estimate -0.0084 with CI [-0.034, 0.017] against ">= 0"
    c = Claim.at_least("more data", iv(-0.0084, -0.034, 0.017), 0.0)
    assert c.verdict == "inconclusive" and not c.passed


def test_wholly_wrong_side_is_contradicted():
    # the actor_critic_regret eps-rate case: -1.595 [-1.673, -1.536] against the theory value -2
    # (a rate of at most -2 is claimed: the CI lies wholly above it)
    c = Claim.at_most("eps rate", iv(-1.595, -1.673, -1.536), -2.0)
    assert c.verdict == "contradicted"
    assert Claim.at_least("x", iv(-1.0, -2.0, -0.5), 0.0).verdict == "contradicted"


def test_band_inside_supported_outside_contradicted():
    assert Claim.within("rate", iv(0.5, 0.45, 0.55), 0.4, 0.6).verdict == "supported"
    assert Claim.within("rate", iv(0.5, 0.35, 0.55), 0.4, 0.6).verdict == "inconclusive"
    assert Claim.within("rate", iv(0.8, 0.7, 0.9), 0.4, 0.6).verdict == "contradicted"


def test_slack_is_named_and_applied():
    c = Claim.at_most("switches", iv(0.52, 0.51, 0.53), 0.5, slack=0.05)
    assert c.verdict == "supported" and c.limit_high == pytest.approx(0.55) and c.slack == 0.05
    assert Claim.at_most("switches", iv(0.52, 0.51, 0.53), 0.5).verdict == "contradicted"
    with pytest.raises(ValueError):
        Claim.at_most("bad", iv(0, 0, 0), 1.0, slack=-1)


def test_one_bernoulli_observation_is_inconclusive():
    p = Interval.proportion(1, 1)
    assert 0.0 <= p.low < p.high == 1.0  # Wilson interval of 1/1 is wide, never a point
    assert Claim.at_least("fix closes the gap", p, 0.5).verdict == "inconclusive"
    assert Claim.at_least("one run", mean_ci([0.7]), 0.5).verdict == "inconclusive"


def test_proportion_is_wilson_inside_unit_interval():
    # Wilson 95% interval of 3/10, by the closed form
    z = stats.norm.ppf(0.975)
    n, p = 10, 0.3
    centre = (p + z**2 / (2 * n)) / (1 + z**2 / n)
    half = z * math.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / (1 + z**2 / n)
    got = Interval.proportion(3, 10)
    assert got.low == pytest.approx(centre - half) and got.high == pytest.approx(centre + half)
    for k in (0, 10):
        q = Interval.proportion(k, 10)
        assert 0.0 <= q.low <= q.high <= 1.0
    with pytest.raises(ValueError):
        Interval.proportion(11, 10)


def test_single_observation_never_zero_width():
    for it in (mean_ci([1.0]), bootstrap_ci(np.array([2.0])), fit_loglog_slope([1, 2, 4], [[1.0, 2.0, 4.0]])):
        assert it.low == -math.inf and it.high == math.inf


def test_point_claims_with_tolerance():
    assert Claim.equals("value", -1 / 18 + 1e-12, -1 / 18, tol=1e-9).verdict == "supported"
    assert Claim.equals("value", -0.06, -1 / 18, tol=1e-9).verdict == "contradicted"
    c = Claim.at_most("violation", Interval.point(3e-9), 1e-6, theorem=True)
    assert c.verdict == "supported" and c.level == 1.0 and c.theorem


def test_dict_round_trip_and_counts():
    cs = [Claim.at_least("a", iv(1, 0.5, 2), 0.0), Claim.at_least("b", iv(1, -1, 2), 0.0),
          Claim.at_most("c", iv(1, 0.5, 2), 0.0)]
    assert verdict_counts(cs) == {"supported": 1, "inconclusive": 1, "contradicted": 1}
    d = cs[0].to_dict()
    assert d["verdict"] == "supported" and d["theory"] == [0.0, None] and d["passed"] is True
    assert verdict_counts([c.to_dict() for c in cs])["contradicted"] == 1
    m = Measurement.of("fraction with a gap", Interval.proportion(3, 10))
    assert 0 <= m.to_dict()["ci_low"] <= m.to_dict()["ci_high"] <= 1


def test_theorem_violation_is_an_error_type():
    assert issubclass(TheoremViolation, RuntimeError)


def _fake_experiment(monkeypatch, claims, tmp_path):
    """An experiment whose claims are given, and one real per-seed table to aggregate."""
    import types

    import pandas as pd

    from experiments import runner

    mod = types.SimpleNamespace(claims=lambda frame, config: claims, TITLE="fake")
    monkeypatch.setattr(runner, "get_experiment", lambda name: mod)
    monkeypatch.setattr(runner, "get_config", lambda name, scale: None)
    seed = tmp_path / "seed0.parquet"
    pd.DataFrame({"x": [1.0]}).to_parquet(seed)
    return runner, [seed]


def test_aggregate_refuses_a_contradicted_claim_without_a_cause(monkeypatch, tmp_path):
    """A verdict against a paper must say why: without a cause, aggregate stops (quick and full scales)."""
    import warnings

    from experiments.claims import UnexplainedVerdict

    bad = Claim.at_least("rate", Interval(0.1, 0.05, 0.2), 1.0)          # whole CI below the limit
    assert bad.verdict == "contradicted"
    runner, inputs = _fake_experiment(monkeypatch, [bad], tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for scale in ("quick", "full"):
            with pytest.raises(UnexplainedVerdict, match="rate"):
                runner.aggregate("fake", scale, inputs)
        explained = Claim.at_least("rate", Interval(0.1, 0.05, 0.2), 1.0, cause="one seed; parity shown in test_x")
        runner, inputs = _fake_experiment(monkeypatch, [explained], tmp_path)
        _, out = runner.aggregate("fake", "quick", inputs, claims_out=tmp_path / "c.json")
    import json

    written = json.loads((tmp_path / "c.json").read_text())["claims"][0]
    assert written["verdict"] == "contradicted" and written["cause"] == "one seed; parity shown in test_x"


def test_smoke_scale_names_itself_as_the_cause_and_supported_claims_carry_none(monkeypatch, tmp_path):
    import json
    import warnings

    from experiments.claims import SMOKE_CAUSE

    runner, inputs = _fake_experiment(monkeypatch, [Claim.at_least("a", Interval(0.1, 0.05, 0.2), 1.0),
                                                  Claim.at_least("b", Interval(2.0, 1.5, 2.5), 1.0, cause="unused")],
                                    tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        runner.aggregate("fake", "smoke", inputs, claims_out=tmp_path / "c.json")
    a, b = json.loads((tmp_path / "c.json").read_text())["claims"]
    assert a["cause"] == SMOKE_CAUSE and a["verdict"] == "contradicted"
    assert b["verdict"] == "supported" and b["cause"] == ""


def test_sample_cause_only_explains_an_interval_that_straddles_the_limit():
    from experiments.claims import sample_cause

    assert sample_cause(Interval(0.1, -0.2, 0.4), 0.0, 3) == \
        "sample: 3 seeds; the interval [-0.2, 0.4] contains the limit 0"
    assert sample_cause(Interval(-0.5, -0.7, -0.3), 0.0, 3) == ""     # contradicted: needs a cause of its own
    assert sample_cause(Interval(0.5, 0.3, 0.7), 0.0, 3) == ""        # supported: nothing to explain
