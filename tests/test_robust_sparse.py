"""Robust sets on sparse nominal kernels: agreement with the dense path, memory, validation."""
from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
import scipy.sparse as sp

from mdp import TabularMDP
from mdp.generators import garnet, sparse_garnet
from mdp.model import NegativeProbabilityError, NotStochasticError, ShapeError
from mdp.robust import (KLBall, L1Ball, LinfBall, WassersteinBall, iwocs, robust_policy_evaluation,
                        robust_value_iteration)
from mdp.robust.sets import kernel_rows, same_kernel
from mdp.robust.sparse_oracles import compact_rows, sparse_l1_worst_case

BALLS = (L1Ball, LinfBall, KLBall, WassersteinBall)


def _instance(seed):
    rng = np.random.default_rng(seed)
    S, A = int(rng.integers(4, 40)), int(rng.integers(1, 5))
    b = int(rng.integers(1, S + 1))
    m = garnet(S, A, b, 0.9, seed=seed, sparse=True)
    V = rng.normal(size=S)
    if seed % 3 == 0:  # ties in V (several minimisers, equal values in a row's support)
        V = np.round(V, 1)
    return rng, m, V


@pytest.mark.parametrize("cls", BALLS, ids=lambda c: c.__name__)
def test_sparse_oracle_matches_dense_on_random_instances(cls):
    for seed in range(25):
        rng, m, V = _instance(seed)
        S, A = m.S, m.A
        hi = {L1Ball: 2.5, LinfBall: 0.7, KLBall: 1.5, WassersteinBall: 3.0}[cls]
        for r in (0.0, float(rng.uniform(0, hi)), float(rng.uniform(0, 0.1))):
            d_vals, d_T = cls(m.dense_P(), r).worst_case(V)
            U = cls(m.P, r)
            assert U.sparse and sp.issparse(U.P)
            s_vals, s_T = U.worst_case(V)
            assert sp.issparse(s_T) and s_T.shape == (S * A, S)
            np.testing.assert_allclose(s_vals, d_vals, rtol=0, atol=1e-10, err_msg=f"{cls.__name__} seed {seed} r {r}")
            np.testing.assert_allclose(s_T.toarray(), d_T.reshape(S * A, S), rtol=0, atol=1e-10)
            np.testing.assert_allclose(s_T.sum(1), 1.0, atol=1e-12)


def test_sparse_l1_oracle_hand_example():
    # row 0: move kappa/2 = 0.2 from state 1 (highest value in the support) to argmin V = 0 -> [0.7, 0.3, 0]
    # row 1: all mass on state 2, move 0.2 to state 0 -> 0.8 * 2 = 1.6; row 2 already at the minimiser
    P = sp.csr_array(np.array([[0.5, 0.5, 0.0], [0.0, 0.0, 1.0], [1.0, 0.0, 0.0]]))
    vals, T = sparse_l1_worst_case(compact_rows(P), np.array([0.0, 1.0, 2.0]), 0.4)
    np.testing.assert_allclose(vals[:, 0], [0.3, 1.6, 0.0], atol=1e-15)
    np.testing.assert_allclose(T.toarray(), [[0.7, 0.3, 0.0], [0.2, 0.0, 0.8], [1.0, 0.0, 0.0]], atol=1e-15)


@pytest.mark.parametrize("cls,radius", [(L1Ball, 0.5), (KLBall, 0.1), (WassersteinBall, 1.0), (LinfBall, 0.2)],
                         ids=["L1", "KL", "W1", "Linf"])
def test_sparse_robust_vi_pe_iwocs_match_dense(cls, radius):
    m = garnet(30, 3, 4, 0.9, seed=3, sparse=True)
    md = TabularMDP(m.dense_P(), m.R, m.gamma, m.mu)
    dense, sparse = cls(md.P, radius), cls(m.P, radius)
    a = robust_value_iteration(md, dense, tol=1e-10)
    b = robust_value_iteration(m, sparse, tol=1e-10)
    assert a.iterations == b.iterations
    np.testing.assert_allclose(b.V, a.V, rtol=0, atol=1e-10)
    assert sp.issparse(b.kernel)
    np.testing.assert_allclose(b.kernel.toarray(), a.kernel.reshape(90, 30), atol=1e-10)
    pi = np.full((30, 3), 1 / 3)
    np.testing.assert_allclose(robust_policy_evaluation(m, sparse, pi, tol=1e-10).V,
                               robust_policy_evaluation(md, dense, pi, tol=1e-10).V, rtol=0, atol=1e-10)
    r = iwocs(m, sparse, eps=1e-8)
    assert r.converged and all(sp.issparse(T) for T in r.models)
    assert r.lower - 1e-8 <= a.value <= r.upper + 1e-8


def _peak_mb(fn):
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1] / 1e6
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("cls,radius,S,A", [(L1Ball, 0.5, 3000, 10), (KLBall, 0.1, 3000, 10),
                                            (LinfBall, 0.1, 3000, 10), (WassersteinBall, 1.0, 1500, 40)],
                         ids=["L1", "KL", "Linf", "W1"])
def test_sparse_sets_never_form_a_dense_kernel(cls, radius, S, A):
    # a dense [S, A, S] float64 kernel would be 720 MB by itself; the sparse path (set, oracle, one robust VI
    # step) must stay far below it (W1 may hold its [S, S] metric and a few [S, S] envelope temporaries).
    m = sparse_garnet(S, A, 5, 0.9, seed=1)
    dense_mb = S * A * S * 8 / 1e6

    def run():
        U = cls(m.P, radius)
        U.worst_case(np.random.default_rng(0).normal(size=S))
        robust_value_iteration(m, U, tol=10.0)  # one backup certifies 10 when gamma = 0.9 and R in [0, 1]

    assert _peak_mb(run) < dense_mb / 4


def test_sparse_kernel_validation_names_the_row():
    P = sp.csr_array(np.array([[0.5, 0.5], [0.2, 0.7], [1.0, 0.0], [0.0, 1.0]]))  # S = 2, A = 2
    with pytest.raises(NotStochasticError, match=r"P\[0, 1, :\] sums to 0.9"):
        L1Ball(P, 0.1)
    Pn = sp.csr_array(np.array([[1.5, -0.5], [0.5, 0.5], [1.0, 0.0], [0.0, 1.0]]))
    with pytest.raises(NegativeProbabilityError, match=r"P\[0, 0, 1\]"):
        KLBall(Pn, 0.1)
    with pytest.raises(ShapeError, match="S\\*A, S"):
        L1Ball(sp.csr_array(np.ones((3, 2)) / 2), 0.1)


def test_kernel_helpers():
    m = garnet(6, 2, 2, 0.9, seed=0, sparse=True)
    D = m.dense_P()
    assert kernel_rows(m.P, 6, 2) is m.P
    np.testing.assert_array_equal(kernel_rows(D, 6, 2), D.reshape(12, 6))
    assert same_kernel(m.P, m.P.copy()) and same_kernel(D, D.copy())
    other = L1Ball(m.P, 0.5).worst_case(np.arange(6.0))[1]
    assert not same_kernel(m.P, other) and not same_kernel(m.P, D)


def test_sparse_iwocs_bracket_accounts_for_the_krylov_inner_solve():
    # On this instance the Krylov policy iteration's Q was 7e-12 below Q*: without adding its certified error
    # to U the bracket came out inverted (upper < lower).
    m = sparse_garnet(100, 10, 5, 0.9, seed=100)
    r = iwocs(m, L1Ball(m.P, 0.5), eps=1e-6)
    assert r.converged and r.upper >= r.lower
    v = robust_value_iteration(m, L1Ball(m.P, 0.5), tol=1e-11)
    assert r.lower - v.error_bound <= v.value <= r.upper + v.error_bound


def test_sparse_linf_oracle_fills_the_lowest_off_support_states():
    # every row: support {5, 6} with 0.5 each, kappa = 0.1: lower corner 0.4 + 0.4, missing mass 0.2 goes to the
    # two lowest-value states 0 and 1 (room 0.1 each) -> p = 0.1 e_0 + 0.1 e_1 + 0.4 e_5 + 0.4 e_6, value 4.5
    S = 10
    dense = np.zeros((S, S))
    dense[:, [5, 6]] = 0.5
    vals, T = LinfBall(sp.csr_array(dense), 0.1).worst_case(np.arange(S, dtype=float))
    want = np.zeros(S)
    want[[0, 1, 5, 6]] = [0.1, 0.1, 0.4, 0.4]
    np.testing.assert_allclose(T.toarray(), np.tile(want, (S, 1)), atol=1e-15)
    np.testing.assert_allclose(vals[:, 0], 4.5, atol=1e-14)


def _model_sets(seed, K=4):
    ms = [garnet(30, 3, 4, 0.9, seed=seed + k, sparse=True) for k in range(K)]
    return ms, [mm.P for mm in ms], np.stack([mm.dense_P() for mm in ms])


def test_sparse_finite_model_set_stays_sparse_and_matches_dense():
    from mdp.robust import FiniteModelSet, ModelHull

    for seed in range(5):
        ms, sparse, dense = _model_sets(10 * seed)
        U, D = FiniteModelSet(sparse), FiniteModelSet(dense)
        assert U.sparse and isinstance(U.models, tuple) and all(sp.issparse(M) for M in U.models)
        assert len(U) == len(D) == 4 and ModelHull(U.models).sparse
        V = np.round(np.random.default_rng(seed).normal(size=30), 1)  # ties: the first minimising model wins
        vals, T = U.worst_case(V)
        # independent reference: per row (s, a), the first model k minimising P_k[s, a] @ V
        q = np.einsum("ksat,t->ksa", dense, V)
        k = q.argmin(0)
        ref = dense[k, np.arange(30)[:, None], np.arange(3)[None, :]]
        assert sp.issparse(T) and T.shape == (90, 30)
        np.testing.assert_allclose(vals, q.min(0), atol=1e-14)
        np.testing.assert_array_equal(T.toarray().reshape(30, 3, 30), ref)
        a = robust_value_iteration(ms[0], ModelHull(sparse), tol=1e-9)
        b = robust_value_iteration(TabularMDP(ms[0].dense_P(), ms[0].R, 0.9, ms[0].mu), ModelHull(dense), tol=1e-9)
        np.testing.assert_allclose(a.V, b.V, atol=1e-12)


def test_finite_model_set_mixed_or_mismatched_inputs():
    from mdp.robust import FiniteModelSet

    ms, sparse, dense = _model_sets(0, K=2)
    mixed = FiniteModelSet([sparse[0], dense[1]])  # a mix is stored densely, as before
    assert not mixed.sparse and mixed.models.shape == (2, 30, 3, 30)
    np.testing.assert_array_equal(mixed.models[0], dense[0])
    other = garnet(20, 3, 4, 0.9, seed=1, sparse=True).P
    with pytest.raises(ShapeError, match="models\\[1\\]"):
        FiniteModelSet([sparse[0], other])
    bad = sparse[1].copy()
    bad.data[0] = -0.5
    with pytest.raises(NegativeProbabilityError):
        FiniteModelSet([sparse[0], bad])
