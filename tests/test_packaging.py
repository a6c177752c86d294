"""Packaging facts users rely on: the version in CITATION.cff matches the package's."""
import importlib.metadata as md
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_citation_version_matches_package():
    cff = (ROOT / "CITATION.cff").read_text()
    version = re.search(r"^version:\s*(\S+)", cff, re.M).group(1)
    pyproject = re.search(r'^version\s*=\s*"([^"]+)"', (ROOT / "pyproject.toml").read_text(), re.M).group(1)
    assert version == pyproject == md.version("theorysim")


def test_public_api_names_exist():
    import mdp
    import mdp.batched
    import mdp.envs

    for name in ["TabularMDP", "FiniteHorizonMDP", "LinearMDP", "value_iteration", "policy_iteration",
                 "policy_evaluation", "backward_induction", "solve_occupancy_lp"]:
        assert hasattr(mdp, name), name
    assert hasattr(mdp.batched, "BatchedTabularMDP") and hasattr(mdp.envs, "TabularEnv")
