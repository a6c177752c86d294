"""Inputs that used to reach numpy, pyarrow or an attribute lookup now get the package's own error, naming the
argument and the value (issue 23); two values that used to be accepted silently are refused."""
import numpy as np
import pytest

import theory
from experiments.__main__ import main as cli
from games.efg.model import Terminal
from mdp import FiniteHorizonMDP, TabularMDP, bellman_residual
from mdp.generators import garnet
from theory.operators import least_squares, random_least_squares
from theory.validation import ParameterError, ShapeError

NUMPY_WORDS = ("inhomogeneous", "gufunc", "could not convert", "setting an array element", "has no attribute")


def _clean(exc) -> str:
    msg = str(exc.value)
    assert not any(w in msg for w in NUMPY_WORDS), msg
    return msg


def test_empty_action_space_is_named():
    with pytest.raises(ShapeError, match=r"R has shape \(3, 0\).*A = 0") as e:
        TabularMDP(np.zeros((3, 0, 3)), np.zeros((3, 0)), 0.9)
    _clean(e)
    with pytest.raises(ShapeError, match=r"A = 0"):
        FiniteHorizonMDP(np.zeros((3, 0, 3)), np.zeros((3, 0)), 4)


def test_ragged_nested_list_kernel_is_located_without_numpy_internals():
    P = [[[1.0, 0.0], [0.5]], [[1.0, 0.0], [0.0, 1.0]]]
    with pytest.raises(ShapeError, match=r"P .*ragged: P\[0, 0\] has length 2 but P\[0, 1\] has length 1") as e:
        TabularMDP(P, np.zeros((2, 2)), 0.9)
    _clean(e)


def test_bellman_residual_checks_the_length_of_V():
    m = garnet(6, 2, 3, 0.9, seed=0)
    with pytest.raises(ShapeError, match=r"V has shape \(4,\), expected \(6,\)") as e:
        bellman_residual(m, np.zeros(4))
    _clean(e)
    V = np.arange(6.0)                                                   # the valid call is unchanged
    TV = (m.R + m.gamma * m.dense_P() @ V).max(1)
    assert bellman_residual(m, V) == pytest.approx(np.abs(TV - V).max(), rel=1e-12)


def test_terminal_payoff_that_is_a_string_is_named():
    with pytest.raises(ShapeError, match=r"Terminal payoffs\[0\] is 'a' \(str\), not a number") as e:
        Terminal(payoffs=("a", 1.0))
    _clean(e)
    assert Terminal(payoffs=(1, -1)).payoffs == (1.0, -1.0)


def test_halpern_given_a_matrix_says_it_needs_an_operator():
    for solver in (theory.halpern, theory.vr_halpern):
        with pytest.raises(TypeError, match=r"op must be a theory.operators.FiniteSumOperator.*ndarray of shape "
                                            r"\(3, 3\)") as e:
            solver(np.eye(3), np.zeros(3), eps=1e-2, max_calls=100)
        _clean(e)


def test_vr_halpern_batch_size_zero_and_least_squares_nan_rho_are_refused():
    op = random_least_squares(16, d=3, seed=0)
    with pytest.raises(ParameterError, match="batch_size must be >= 1, got 0"):
        theory.vr_halpern(op, np.zeros(3), eps=1e-2, max_calls=100, batch_size=0)
    with pytest.raises(ParameterError, match="batch_size must be <= 16, got 17"):
        theory.vr_halpern(op, np.zeros(3), eps=1e-2, max_calls=100, batch_size=17)
    for rho in (float("nan"), -1.0, float("inf")):
        with pytest.raises(ParameterError, match="rho"):
            least_squares(np.eye(3), np.ones(3), rho=rho)


def test_aggregate_with_a_missing_or_broken_input_names_it(tmp_path, capsys):
    missing = tmp_path / "seed0.parquet"
    args = ["aggregate", "planning", "--scale", "smoke", "--out", str(tmp_path / "o.parquet"),
            "--claims", str(tmp_path / "c.json"), "--inputs"]
    assert cli(args + [str(missing)]) == 2
    err = capsys.readouterr().err
    assert f"inputs: '{missing}' does not exist" in err and "Traceback" not in err
    junk = tmp_path / "junk.parquet"
    junk.write_text("not a table")
    assert cli(args + [str(junk)]) == 2
    assert f"inputs: '{junk}' is not a readable parquet table" in capsys.readouterr().err
