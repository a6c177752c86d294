"""experiments.compare_results: exact comparison of two results trees (the check behind "results unchanged")."""
import json

import numpy as np
import pandas as pd
import pytest

from experiments.compare_results import compare_experiment, main


def _tree(root, values, extra=None, wall=1.0, claims=None):
    d = root / "results" / "exp"
    (d / "quick").mkdir(parents=True)
    frame = pd.DataFrame({"k": [1, 2], "value": values, "wall_s": [wall, wall],
                          "code_hash": ["a" if wall == 1 else "b"] * 2})
    if extra:
        frame[extra] = [0, 1]
    frame.to_parquet(d / "quick" / "seed0.parquet")
    frame.to_parquet(d / "quick.parquet")
    (d / "quick.claims.json").write_text(json.dumps(claims or {"claims": [{"name": "c", "measured": 1.0}]}))
    return root


@pytest.fixture
def base(tmp_path):
    return _tree(tmp_path / "base", [0.5, np.nan])


def test_identical_apart_from_wall_clock_and_code_hash(base, tmp_path):
    new = _tree(tmp_path / "new", [0.5, np.nan], wall=9.0)
    assert compare_experiment(base, new, "exp", "quick") == ([], set())
    assert main([str(base), str(new), "--scale", "quick"]) == 0


def test_a_last_bit_change_is_a_difference(base, tmp_path):
    new = _tree(tmp_path / "new", [np.nextafter(0.5, 1.0), np.nan])
    problems, _ = compare_experiment(base, new, "exp", "quick")
    assert len(problems) == 2 and all("values differ in columns ['value']" in p for p in problems)
    assert main([str(base), str(new)]) == 1


def test_an_added_column_is_allowed_only_when_named(base, tmp_path):
    new = _tree(tmp_path / "new", [0.5, np.nan], extra="n_not_converged")
    assert compare_experiment(base, new, "exp", "quick")[0]
    assert compare_experiment(base, new, "exp", "quick", {"n_not_converged"}) == ([], {"n_not_converged"})


def test_changed_claims_are_a_difference(base, tmp_path):
    new = _tree(tmp_path / "new", [0.5, np.nan], claims={"claims": [{"name": "c", "measured": 2.0}]})
    assert compare_experiment(base, new, "exp", "quick")[0] == ["results/exp/quick.claims.json differs"]
