"""Every malformed model input is rejected with a ValueError naming the index and the value."""
import numpy as np
import pytest
import scipy.sparse as sp

from mdp import FiniteHorizonMDP, LinearMDP, TabularMDP
from mdp.model import (ModelError, NegativeProbabilityError, NotFiniteError, NotStochasticError,
                       ParameterError, ShapeError, validate_policy)


def _good(S=4, A=2):
    P = np.full((S, A, S), 1.0 / S)
    return P, np.zeros((S, A))


def test_valid_model_is_frozen_and_read_only():
    P, R = _good()
    m = TabularMDP(P, R, 0.9)
    assert (m.S, m.A, m.n_objectives) == (4, 2, 1)
    np.testing.assert_allclose(m.mu, 0.25)
    with pytest.raises(Exception):
        m.gamma = 0.5
    with pytest.raises(ValueError):
        m.P[0, 0, 0] = 1.0


def test_row_not_summing_to_one_names_index_and_sum():
    P, R = _good()
    P[3, 1, :] = [0.5, 0.27, 0.1, 0.1]
    with pytest.raises(NotStochasticError, match=r"P\[3, 1, :\] sums to 0\.97"):
        TabularMDP(P, R, 0.9)


def test_negative_probability_names_index():
    P, R = _good()
    P[2, 0, :] = [1.2, -0.2, 0.0, 0.0]
    with pytest.raises(NegativeProbabilityError, match=r"P\[2, 0, 1\] is -0\.2"):
        TabularMDP(P, R, 0.9)


def test_nan_reward_names_index():
    P, R = _good()
    R[1, 1] = np.nan
    with pytest.raises(NotFiniteError, match=r"R\[1, 1\] is nan"):
        TabularMDP(P, R, 0.9)


def test_nan_probability_names_index():
    P, R = _good()
    P[0, 1, 2] = np.nan
    with pytest.raises(NotFiniteError, match=r"P\[0, 1, 2\] is nan"):
        TabularMDP(P, R, 0.9)


@pytest.mark.parametrize("gamma", [1.0, -0.1, 1.5, np.nan])
def test_gamma_outside_unit_interval(gamma):
    P, R = _good()
    with pytest.raises(ParameterError, match="gamma"):
        TabularMDP(P, R, gamma)


def test_shape_mismatch():
    P, R = _good()
    with pytest.raises(ShapeError, match=r"expected P of shape \(4, 3, 4\)"):
        TabularMDP(P, np.zeros((4, 3)), 0.9)
    with pytest.raises(ShapeError):
        TabularMDP(P[..., :3], R, 0.9)
    with pytest.raises(ShapeError):
        TabularMDP(P, np.zeros(4), 0.9)


def test_mu_not_a_distribution():
    P, R = _good()
    with pytest.raises(NotStochasticError, match="mu sums to 0.9"):
        TabularMDP(P, R, 0.9, mu=[0.3, 0.3, 0.3, 0.0])
    with pytest.raises(NegativeProbabilityError, match=r"mu\[1\] is -0\.5"):
        TabularMDP(P, R, 0.9, mu=[1.0, -0.5, 0.5, 0.0])
    with pytest.raises(ShapeError):
        TabularMDP(P, R, 0.9, mu=[1.0, 0.0])


def test_all_errors_are_value_errors():
    for cls in (ShapeError, NotFiniteError, NegativeProbabilityError, NotStochasticError, ParameterError):
        assert issubclass(cls, ModelError) and issubclass(cls, ValueError)


def test_sparse_kernel_validation_names_state_action():
    S, A = 3, 2
    P = sp.csr_array(np.full((S * A, S), 1.0 / S))
    TabularMDP(P, np.zeros((S, A)), 0.5)
    bad = P.toarray()
    bad[5, 0] = 0.0  # row 5 is (s=2, a=1)
    with pytest.raises(NotStochasticError, match=r"P\[2, 1, :\] sums to"):
        TabularMDP(sp.csr_array(bad), np.zeros((S, A)), 0.5)
    with pytest.raises(ShapeError, match=r"\(S\*A, S\)"):
        TabularMDP(sp.csr_array(np.eye(3)), np.zeros((S, A)), 0.5)


@pytest.mark.parametrize("H", [0, -1, 2.5, True])
def test_horizon_must_be_positive_integer(H):
    P, R = _good()
    with pytest.raises(ParameterError, match="H"):
        FiniteHorizonMDP(P, R, H)


def test_finite_horizon_shapes():
    P, R = _good()
    m = FiniteHorizonMDP(P, R, 3)
    assert m.P.shape == (3, 4, 2, 4) and m.R.shape == (3, 4, 2) and m.homogeneous
    Pt = np.stack([P, P])
    Pt[1, 0, 0] = [1, 0, 0, 0]
    m2 = FiniteHorizonMDP(Pt, R, 2)
    assert not m2.homogeneous
    with pytest.raises(ShapeError, match="P has 2 steps but H = 3"):
        FiniteHorizonMDP(Pt, R, 3)
    with pytest.raises(ShapeError, match="R has shape"):
        FiniteHorizonMDP(P, np.zeros((5, 4, 2)), 3)
    Pt[1, 2, 1] = [0.5, 0.5, 0.5, 0.0]
    with pytest.raises(NotStochasticError, match=r"P\[1, 2, 1, :\] sums to 1\.5"):
        FiniteHorizonMDP(Pt, R, 2)


def test_linear_mdp_to_tabular_matches_features():
    rng = np.random.default_rng(0)
    S, A, d, H = 5, 3, 2, 4
    phi = rng.dirichlet(np.ones(d), size=(S, A))
    mu_feat = rng.dirichlet(np.ones(S), size=d)
    theta = rng.random(d)
    lm = LinearMDP(phi, mu_feat, theta, H=H)
    t = lm.to_tabular()
    np.testing.assert_allclose(t.P[2, 1, 0], phi[1, 0] @ mu_feat, atol=1e-12)
    np.testing.assert_allclose(t.R[3, 4, 2], phi[4, 2] @ theta, atol=1e-12)
    bad = mu_feat.copy()
    bad[0] *= 2
    with pytest.raises(NotStochasticError, match=r"phi @ mu_feat\["):
        LinearMDP(phi, bad, theta, H=H)
    with pytest.raises(ParameterError, match="exactly one of H"):
        LinearMDP(phi, mu_feat, theta)
    with pytest.raises(ShapeError, match="theta"):
        LinearMDP(phi, mu_feat, np.ones(d + 1), H=H)


def test_validate_policy():
    pi = validate_policy(np.array([0, 1, 1]), 3, 2)
    np.testing.assert_array_equal(pi, [[1, 0], [0, 1], [0, 1]])
    with pytest.raises(NotStochasticError, match=r"pi\[1, :\] sums to 0\.5"):
        validate_policy([[1, 0], [0.25, 0.25], [0, 1]], 3, 2)
    with pytest.raises(ShapeError, match=r"pi\[2\] = 5"):
        validate_policy(np.array([0, 1, 5]), 3, 2)


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=60, deadline=None)
@given(S=st.integers(1, 6), A=st.integers(1, 4), data=st.data(),
       kind=st.sampled_from(["negative", "nan", "mass"]))
def test_any_corrupted_entry_is_named(S, A, data, kind):
    """Corrupt one random entry of a valid kernel: the error names exactly that (s, a) row."""
    P = np.full((S, A, S), 1.0 / S)
    s = data.draw(st.integers(0, S - 1))
    a = data.draw(st.integers(0, A - 1))
    t = data.draw(st.integers(0, S - 1))
    if kind == "negative":
        P[s, a, t] = -0.25
        err, pat = NegativeProbabilityError, rf"P\[{s}, {a}, {t}\] is -0\.25"
    elif kind == "nan":
        P[s, a, t] = np.nan
        err, pat = NotFiniteError, rf"P\[{s}, {a}, {t}\] is nan"
    else:
        P[s, a, t] += 0.5
        err, pat = NotStochasticError, rf"P\[{s}, {a}, :\] sums to 1\.5"
    with pytest.raises(err, match=pat):
        TabularMDP(P, np.zeros((S, A)), 0.9)
