"""Exact solvers against closed forms and against each other (VI, PI and the LP are independent)."""
import itertools

import numpy as np
import pytest

from theory.results import NotConvergedWarning
from hypothesis import given, settings
from hypothesis import strategies as st

from mdp import (FiniteHorizonMDP, TabularMDP, backward_induction, policy_evaluation, policy_iteration,
                 solve_occupancy_lp, value_iteration)
from mdp.generators import combination_lock, garnet, gridworld, river_swim
from mdp.model import ModelError


def _random_mdp(seed, S, A, gamma, sparse=False):
    return garnet(S, A, min(S, 3), gamma, seed=seed, sparse=sparse)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), S=st.integers(1, 12), A=st.integers(1, 4),
       gamma=st.floats(0.0, 0.97))
def test_vi_pi_lp_agree(seed, S, A, gamma):
    m = _random_mdp(seed, S, A, gamma)
    vi = value_iteration(m, tol=1e-9)
    pi = policy_iteration(m)
    lp = solve_occupancy_lp(m)
    assert vi.converged and pi.converged
    np.testing.assert_allclose(vi.V, pi.V, atol=1e-6)
    assert abs(lp.value - m.mu @ pi.V) < 1e-6
    assert abs(lp.policy_value - m.mu @ pi.V) < 1e-6
    assert abs(lp.duality_gap) < 1e-6


def test_single_state_closed_form():
    # one state, two actions with rewards 1 and 2: V* = 2 / (1 - gamma)
    m = TabularMDP(np.ones((1, 2, 1)), np.array([[1.0, 2.0]]), 0.8)
    for res in (value_iteration(m, tol=1e-12), policy_iteration(m)):
        np.testing.assert_allclose(res.V, [10.0], atol=1e-10)
        np.testing.assert_array_equal(res.actions, [1])
    np.testing.assert_allclose(policy_evaluation(m, [[0.5, 0.5]]), [7.5])


def test_two_state_chain_closed_form():
    # s0 -a1-> s1 (reward 0); s1 stays with reward 1; a0 stays in s0 with reward 0.5.
    P = np.zeros((2, 2, 2))
    P[0, 0, 0] = 1
    P[0, 1, 1] = 1
    P[1, :, 1] = 1
    R = np.array([[0.5, 0.0], [1.0, 1.0]])
    g = 0.9
    m = TabularMDP(P, R, g, mu=[1, 0])
    # V(s1) = 1/(1-g) = 10; in s0: max(0.5/(1-g) = 5, 0 + g*10 = 9) = 9
    np.testing.assert_allclose(policy_iteration(m).V, [9.0, 10.0], atol=1e-10)
    assert abs(solve_occupancy_lp(m).value - 9.0) < 1e-6


def test_lp_flow_duals_equal_scaled_values():
    m = garnet(15, 3, 4, 0.9, seed=3)
    V = policy_iteration(m).V
    lp = solve_occupancy_lp(m)
    np.testing.assert_allclose(lp.duals["flow"] * (1 - m.gamma), V, atol=1e-5)
    assert lp.solver == "CLARABEL"
    np.testing.assert_allclose(lp.occupancy.sum(), 1.0)
    np.testing.assert_allclose(lp.policy.sum(1), 1.0)


def test_constrained_lp_bandit_closed_form():
    # One state, actions 0/1, rewards r = (1, 0), constraint reward c = (0, 1), V_c >= tau.
    # Stationary mixing p on action 0: V_r = p/(1-g), V_c = (1-p)/(1-g) >= tau => p = 1 - tau (1-g).
    g, tau = 0.5, 1.2
    m = TabularMDP(np.ones((1, 2, 1)), np.array([[1.0, 0.0]]), g)
    lp = solve_occupancy_lp(m, aux_rewards=np.array([[[0.0, 1.0]]]), thresholds=[tau])
    p = 1 - tau * (1 - g)
    assert abs(lp.value - p / (1 - g)) < 1e-6
    np.testing.assert_allclose(lp.policy[0], [p, 1 - p], atol=1e-6)
    np.testing.assert_allclose(lp.constraint_values, [tau], atol=1e-6)
    assert lp.duals["constraints"][0] > 0 and abs(lp.duality_gap) < 1e-6
    # Lagrangian: multiplier equals the exchange rate dV_r/dV_c = 1 here
    assert abs(lp.duals["constraints"][0] - 1.0) < 1e-5
    with pytest.raises(ModelError, match="infeasible"):
        solve_occupancy_lp(m, aux_rewards=np.array([[[0.0, 1.0]]]), thresholds=[3.0])


def test_lp_vector_rewards_need_weights_and_solver_is_recorded():
    m = TabularMDP(np.ones((1, 2, 1)), np.array([[[1.0, 0.0], [0.0, 1.0]]]), 0.5)
    with pytest.raises(ModelError, match="weights"):
        solve_occupancy_lp(m)
    lp = solve_occupancy_lp(m, weights=[0.3, 0.7], solver="HIGHS")
    assert abs(lp.value - 0.7 / 0.5) < 1e-6 and lp.solver == "HIGHS"


def test_sparse_and_dense_kernels_agree():
    m = garnet(60, 4, 3, 0.95, seed=5, sparse=True)
    d = TabularMDP(m.dense_P(), m.R, m.gamma, m.mu)
    np.testing.assert_allclose(policy_iteration(m).V, policy_iteration(d).V, atol=1e-9)
    pi = np.full((60, 4), 0.25)
    np.testing.assert_allclose(policy_evaluation(m, pi), policy_evaluation(d, pi), atol=1e-9)
    np.testing.assert_allclose(value_iteration(m, tol=1e-9).V, value_iteration(d, tol=1e-9).V, atol=1e-9)


def test_vi_certificate_and_contraction():
    m = garnet(25, 3, 5, 0.9, seed=8)
    v_star = policy_iteration(m).V
    res = value_iteration(m, tol=1e-6)
    assert np.max(np.abs(res.V - v_star)) <= res.error_bound <= 1e-6
    greedy_value = policy_evaluation(m, res.policy)
    assert np.max(v_star - greedy_value) <= res.policy_gap_bound + 1e-12
    # error of VI from V0 = 0 never exceeds gamma^k ||V*||
    V = np.zeros(m.S)
    from mdp.operators import bellman_optimality
    for k in range(1, 60):
        V = bellman_optimality(m.P_flat, m.R, m.gamma, V)[0]
        assert np.max(np.abs(V - v_star)) <= m.gamma ** k * np.max(np.abs(v_star)) + 1e-12


def test_vi_reports_non_convergence():
    m = garnet(10, 2, 3, 0.99, seed=1)
    with pytest.warns(NotConvergedWarning, match="did not converge"):
        res = value_iteration(m, tol=1e-10, max_iter=5)
    assert not res.converged and res.iterations == 5


def test_policy_iteration_brute_force_small():
    m = garnet(4, 3, 2, 0.8, seed=11)
    best = max(m.mu @ policy_evaluation(m, np.array(a)) for a in itertools.product(range(3), repeat=4))
    assert abs(m.mu @ policy_iteration(m).V - best) < 1e-10


def test_river_swim_prefers_right():
    m = river_swim(6, gamma=0.95)
    np.testing.assert_array_equal(policy_iteration(m).actions, np.ones(6, dtype=int))


def test_gridworld_goal_value_closed_form():
    # deterministic 1x3 corridor, goal at the right end, terminal: V(start) = gamma * 1
    m = gridworld(1, 3, goal=(0, 2), slip=0.0, gamma=0.9)
    V = policy_iteration(m).V
    assert abs(V[0] - 0.9) < 1e-12 and abs(V[1] - 1.0) < 1e-12
    assert m.absorbing_states()[-1]


def test_backward_induction_against_brute_force():
    rng = np.random.default_rng(0)
    S, A, H = 3, 2, 3
    P = rng.dirichlet(np.ones(S), size=(H, S, A))
    R = rng.random((H, S, A))
    m = FiniteHorizonMDP(P, R, H, mu=[1, 0, 0])
    res = backward_induction(m)
    best = -np.inf
    for acts in itertools.product(range(A), repeat=H * S):
        pi = np.array(acts).reshape(H, S)
        best = max(best, backward_induction(m, pi).value)
    assert abs(res.value - best) < 1e-12
    # evaluating the greedy policy returns V*
    np.testing.assert_allclose(backward_induction(m, res.policy).V, res.V)


def test_combination_lock_value_closed_form():
    H, p, dist = 6, 0.9, 0.1
    m = combination_lock(H=H, A=5, p_advance=p, distractor=dist, seed=3)
    # follow the secret: at step h (0-based) still on the chain w.p. p^h; falling at step h (prob
    # p^h (1-p)) earns dist for each of the remaining H-1-h steps; success pays p at the last step.
    follow = p ** (H - 1) * p + sum(p ** h * (1 - p) * dist * (H - 1 - h) for h in range(H - 1))
    give_up = dist * (H - 1)  # wrong action at step 0, then the distractor every remaining step
    v_star = backward_induction(m).value
    assert abs(v_star - max(follow, give_up)) < 1e-12
    assert follow > give_up
