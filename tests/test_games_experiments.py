"""Reproducibility of the update-equivalence experiments (their smoke runs are in test_experiments_cli)."""
import pytest

from experiments.runner import run_one


def test_same_seed_same_numbers():
    a = run_one("update_equivalence_particles", "smoke", 3)
    b = run_one("update_equivalence_particles", "smoke", 3)
    assert a.J.tolist() == b.J.tolist()


def _nash_frame(values, twins=()):
    import pandas as pd

    rows = [dict(game=g, method=m, iteration=1000, exploitability=v, payoff_scale=1.0) for (g, m), v in values.items()]
    rows += [dict(game=g, method=m, iteration=1000, exploitability=v, payoff_scale=c) for g, m, c, v in twins]
    return pd.DataFrame(rows)


def test_nash_reference_claims_are_points_within_rounding_and_verdicts_against_them_carry_a_cause():
    from experiments import update_equivalence_nash as nash

    cfg = nash.CONFIGS["quick"]
    # at the references' own values every claim is supported, the exact moving magnet included
    refs = {**nash.REFERENCE_AT_1000, **nash.DISPUTED_AT_1000}
    assert {c.verdict for c in nash.claims(_nash_frame(refs), cfg)} == {"supported"}
    # the exact moving-magnet update (0.0910) contradicts 0.0847, with the floor as its cause
    ours = dict(refs)
    ours[("leduc_poker", "MMD moving magnet")] = 0.0910
    cl = {c.name: c for c in nash.claims(_nash_frame(ours), cfg)}
    c = cl["leduc_poker: MMD moving magnet exploitability at t = 1000"]
    assert c.verdict == "contradicted" and "floor" in c.cause and not c.theorem
    assert cl["leduc_poker: MMD moving magnet (floor 1e-10) exploitability at t = 1000"].verdict == "supported"
    # round-off twins that leave the rounding band make the claim inconclusive, with the spread as its cause
    tw = [("leduc_poker", "CFR+ (simultaneous)", 3.0, 0.006877), ("leduc_poker", "CFR+ (simultaneous)", 0.7, 0.006893)]
    c = {c.name: c for c in nash.claims(_nash_frame(refs, tw), cfg)}[
        "leduc_poker: CFR+ (simultaneous) exploitability at t = 1000"]
    assert c.verdict == "inconclusive" and (c.ci_low, c.ci_high) == (0.00686, 0.006893)
    assert "0.006860 to 0.006893" in c.cause
    # the tolerance is the rounding of 3 significant digits: 0.00506 +- 5e-6
    off = dict(refs)
    off[("kuhn_poker", "MMD annealing")] = 0.00506 + 6e-6
    c = {c.name: c for c in nash.claims(_nash_frame(off), cfg)}["kuhn_poker: MMD annealing exploitability at t = 1000"]
    assert c.verdict == "contradicted" and c.slack == pytest.approx(5e-6)


def test_nash_round_off_twins_are_the_same_algorithm():
    """Scaling every payoff by c leaves CFR's iterates unchanged in exact arithmetic: on Kuhn (no amplification
    at t = 100) the twins' exploitability / c equals the run's to 1e-12, and the rebuilt game has c times the
    payoffs."""
    import numpy as np

    from experiments import update_equivalence_nash as nash
    from games import cfr, kuhn_poker

    g = kuhn_poker()
    for c in nash.TWIN_SCALES:
        gc = nash._scaled(g, c)
        np.testing.assert_allclose(gc.terminal_payoffs, c * g.terminal_payoffs, rtol=1e-15)
        for kw in nash.TWIN_METHODS.values():
            a = cfr(g, 100, record_at=[100], **kw).average_exploitability
            b = cfr(gc, 100, record_at=[100], **kw).average_exploitability / c
            assert b == pytest.approx(a, rel=1e-12)


def test_mmds_ratio_limit_is_the_theory_value():
    import pandas as pd

    from experiments import update_equivalence_mmds as mmds

    def frame(ratio):
        return pd.DataFrame([dict(beliefs="exact", seed=0, game="kuhn_poker", blueprint="uniform", alpha=a, eta=1.0,
                                  exploitability=ratio * 0.5 if a == 2.0 else 0.4, blueprint_exploitability=0.5)
                             for a in (1.0, 2.0)])

    cfg = mmds.CONFIGS["quick"]
    best = "Kuhn, uniform blueprint: best exploitability ratio over (alpha, eta)"
    assert {c.name: c for c in mmds.claims(frame(0.52), cfg)}[best].verdict == "contradicted"  # 0.55 would pass
    assert {c.name: c for c in mmds.claims(frame(0.49), cfg)}[best].verdict == "supported"
