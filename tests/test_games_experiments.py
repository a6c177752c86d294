"""Smoke runs of the update-equivalence experiments through the registry (plumbing, not pass/fail)."""
import pytest

from experiments.core import Claim, get_experiment, run_one

NAMES = ["update_equivalence_qre", "update_equivalence_nash", "update_equivalence_soundness",
         "update_equivalence_search", "update_equivalence_particles", "update_equivalence_mmds"]


@pytest.mark.parametrize("name", NAMES)
def test_smoke(name):
    frame = run_one(name, "smoke", 0)
    mod = get_experiment(name)
    claims = mod.claims(frame, mod.CONFIGS["smoke"])
    assert claims and all(isinstance(c, Claim) for c in claims)
    import matplotlib

    matplotlib.use("Agg")
    fig = mod.plot(frame, mod.CONFIGS["smoke"])
    assert fig.axes
    import matplotlib.pyplot as plt

    plt.close(fig)


def test_same_seed_same_numbers():
    a = run_one("update_equivalence_particles", "smoke", 3)
    b = run_one("update_equivalence_particles", "smoke", 3)
    assert a.J.tolist() == b.J.tolist()
