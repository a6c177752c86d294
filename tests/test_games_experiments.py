"""Reproducibility of the update-equivalence experiments (their smoke runs are in test_experiments_cli)."""
from experiments.core import run_one


def test_same_seed_same_numbers():
    a = run_one("update_equivalence_particles", "smoke", 3)
    b = run_one("update_equivalence_particles", "smoke", 3)
    assert a.J.tolist() == b.J.tolist()
