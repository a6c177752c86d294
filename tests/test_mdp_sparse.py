"""Large-scale sparse planning: the CSR Garnet generator and certified sparse policy iteration."""
import itertools
import warnings

import numpy as np
import pytest
import scipy.linalg as sla

from mdp import ModelError, ParameterError, TabularMDP, policy_iteration
from mdp.generators import garnet, sparse_garnet
from mdp.sparse import policy_rows, sparse_policy_iteration


def _dense_optimum(m):
    """V* by brute force over all deterministic policies (tiny models), with dense LU evaluations."""
    P, R, g = m.dense_P(), m.R, m.gamma
    best = None
    for acts in itertools.product(range(m.A), repeat=m.S):
        s = np.arange(m.S)
        V = sla.solve(np.eye(m.S) - g * P[s, list(acts)], R[s, list(acts)])
        best = V if best is None else np.maximum(best, V)
    return best


def test_sparse_garnet_is_canonical_int32_csr_with_distinct_successors():
    m = sparse_garnet(200, 3, 4, 0.9, seed=1)
    P = m.P
    assert P.shape == (600, 200) and P.nnz == 600 * 4
    assert P.indices.dtype == np.int32 and P.indptr.dtype == np.int32
    cols = P.indices.reshape(600, 4)
    assert (np.diff(cols, axis=1) > 0).all()  # sorted and distinct
    np.testing.assert_allclose(P.sum(axis=1), 1.0, atol=1e-12)
    assert (P.data > 0).all()


def test_sparse_garnet_subsets_are_uniform():
    # S = 4, b = 2: six subsets, each with probability 1/6; 30,000 rows -> standard error 0.0022.
    m = sparse_garnet(4, 7500, 2, 0.9, seed=3, dirichlet=None)
    cols = m.P.indices.reshape(-1, 2)
    code = cols[:, 0] * 4 + cols[:, 1]
    freq = np.array([np.mean(code == i * 4 + j) for i in range(4) for j in range(i + 1, 4)])
    np.testing.assert_allclose(freq, 1 / 6, atol=0.012)
    np.testing.assert_allclose(m.P.data, 0.5)


def test_sparse_garnet_is_a_pure_function_of_the_seed_and_validates():
    a, b = sparse_garnet(50, 2, 3, seed=7), sparse_garnet(50, 2, 3, seed=7)
    assert (a.P != b.P).nnz == 0 and np.array_equal(a.R, b.R)
    with pytest.raises(ParameterError, match="branching"):
        sparse_garnet(3, 2, 4)
    with pytest.raises(ParameterError, match="dirichlet"):
        sparse_garnet(10, 2, 2, dirichlet=-1.0)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_sparse_policy_iteration_matches_brute_force(seed):
    m = sparse_garnet(6, 2, 2, 0.95, seed=seed)
    V_star = _dense_optimum(m)
    res = sparse_policy_iteration(m, tol=1e-9)
    assert res.converged
    np.testing.assert_allclose(res.V, V_star, atol=1e-9)
    assert np.max(np.abs(res.V - V_star)) <= res.error_bound + 1e-12
    assert res.policy_gap_bound <= 1e-9


def test_sparse_policy_iteration_first_iterate_is_the_greedy_reward_policy_evaluated_exactly():
    m = sparse_garnet(30, 3, 3, 0.9, seed=4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = sparse_policy_iteration(m, tol=1e-300, max_iter=1, history=True)
    P, R, g = m.dense_P(), m.R, m.gamma
    a0 = R.argmax(1)  # pi_0 = greedy on R
    s = np.arange(30)
    V1 = sla.solve(np.eye(30) - g * P[s, a0], R[s, a0])  # (I - gamma P_pi) V = r_pi
    np.testing.assert_allclose(res.V, V1, atol=1e-10)
    Q1 = R + g * np.einsum("sat,t->sa", P, V1)
    np.testing.assert_allclose(res.history[0], np.max(np.abs(Q1.max(1) - V1)), rtol=1e-8)
    assert not res.converged


def test_policy_iteration_on_sparse_kernels_agrees_with_the_dense_path():
    m = garnet(80, 4, 5, 0.99, seed=2, sparse=True)
    dense = TabularMDP(m.dense_P(), m.R, m.gamma)
    a, b = policy_iteration(m), policy_iteration(dense)
    assert np.array_equal(a.actions, b.actions)
    np.testing.assert_allclose(a.V, b.V, atol=1e-8)
    assert a.converged and a.error_bound <= 1e-8


def test_policy_rows_selects_one_row_per_state():
    m = sparse_garnet(20, 3, 2, seed=0)
    acts = np.arange(20) % 3
    np.testing.assert_array_equal(policy_rows(m.P, acts, 3).toarray(), m.dense_P()[np.arange(20), acts])


def test_sparse_policy_iteration_rejects_bad_input():
    m = sparse_garnet(10, 2, 2, seed=0)
    with pytest.raises(ParameterError, match="tol"):
        sparse_policy_iteration(m, tol=0.0)
    with pytest.raises(ParameterError, match="max_iter"):
        sparse_policy_iteration(m, max_iter=0)
    with pytest.raises(ModelError, match="sparse kernel"):
        sparse_policy_iteration(TabularMDP(m.dense_P(), m.R, m.gamma))
    with pytest.raises(ModelError, match="pi0"):
        sparse_policy_iteration(m, pi0=np.full(10, 5))


def test_absorbing_states_of_a_sparse_model_match_the_dense_model():
    P = np.zeros((4, 2, 4))
    P[:, :, 3] = 1.0  # state 3 absorbs everything
    P[1, 0] = [0.5, 0.5, 0, 0]
    R = np.ones((4, 2))
    R[3] = 0.0
    dense = TabularMDP(P, R, 0.9)
    np.testing.assert_array_equal(dense.sparse().absorbing_states(), [False, False, False, True])
    np.testing.assert_array_equal(dense.absorbing_states(), [False, False, False, True])
