"""Actor-critic and baselines against exact dynamic programming."""
import math

import numpy as np
import pytest

from mdp import FiniteHorizonMDP, backward_induction
from mdp.actor_critic import (OfflineData, behaviour_policy, collect_offline_data, concentrability, lsvi_ucb,
                              optimistic_actor_critic, ucbvi)
from mdp.generators import combination_lock, garnet, random_linear_mdp
from mdp.model import ModelError, ShapeError
from mdp.occupancy import finite_horizon_occupancy
from theory.bounds import max_switches_tabular


@pytest.fixture(scope="module")
def lock():
    return combination_lock(H=4, A=3, seed=2)


@pytest.fixture(scope="module")
def runs(lock):
    return {
        "optac": optimistic_actor_critic(lock, 1500, 4, seed=0, progress=False),
        "ucbvi": ucbvi(lock, 1500, 4, seed=0, progress=False),
    }


def test_regret_is_exact_and_never_negative(lock, runs):
    v_star = backward_induction(lock).value
    for r in runs.values():
        assert r.v_star == v_star
        inc = np.diff(np.concatenate([np.zeros((r.regret.shape[0], 1)), r.regret], 1), axis=1)
        assert (inc >= -1e-12).all()
        np.testing.assert_allclose(inc, v_star - r.values, atol=1e-12)
        # values are exact values of some policy: never above V*
        assert (r.values <= v_star + 1e-12).all()


def test_final_policies_reach_v_star(lock, runs):
    v_star = backward_induction(lock).value
    for key in ("optac", "ucbvi"):
        r = runs[key]
        # the actor restarts from uniform at each (rare) switch, so judge the last 200 episodes' exact values
        assert r.values[:, -200:].mean() >= v_star - 0.02, (key, r.values[:, -200:].mean(), v_star)
        finals = [backward_induction(lock, r.policy[b]).value for b in range(r.policy.shape[0])]
        assert max(finals) >= v_star - 1e-3
    assert runs["ucbvi"].values[:, -100:].min() >= v_star - 1e-9  # greedy on the critic: exactly optimal


def test_no_optimism_without_data_has_linear_regret():
    # H = 6, A = 5: a uniform actor hits the combination with probability ~ 5^-6 per episode
    hard = combination_lock(H=6, A=5, seed=0)
    r = optimistic_actor_critic(hard, 2000, 4, seed=0, optimism=False, progress=False)
    opt = optimistic_actor_critic(hard, 2000, 4, seed=0, progress=False)
    late_gap = r.v_star - r.values[:, -200:].mean(1)
    assert (late_gap > 0.05).all()  # still far from V* after 2000 episodes: linear regret
    opt_gap = opt.v_star - opt.values[:, -200:].mean(1)
    assert opt_gap.mean() < 0.6 * late_gap.mean()  # the optimistic actor-critic has found the combination


def test_switches_respect_doubling_bound(lock, runs):
    r = runs["optac"]
    T = r.regret.shape[1]
    assert (r.total_switches <= max_switches_tabular(lock.S, lock.A, lock.H, T)).all()
    assert (r.total_switches < T / 10).all()  # rare: far fewer than one per episode
    assert (runs["ucbvi"].total_switches == T).all()


def test_same_seed_same_result(lock):
    a = optimistic_actor_critic(lock, 50, 2, seed=5, progress=False)
    b = optimistic_actor_critic(lock, 50, 2, seed=5, progress=False)
    np.testing.assert_array_equal(a.regret, b.regret)


def test_hybrid_offline_data_helps_non_optimistic(lock):
    beh = behaviour_policy(lock, 0.5)
    data = collect_offline_data(lock, beh, 300, seed=0)
    assert data.states.shape == (300, lock.H + 1)
    plain = optimistic_actor_critic(lock, 300, 4, seed=1, optimism=False, progress=False)
    hybrid = optimistic_actor_critic(lock, 300, 4, seed=1, optimism=False, offline_data=data, progress=False)
    assert hybrid.regret[:, -1].mean() < 0.5 * plain.regret[:, -1].mean()


def test_concentrability_hand_computed():
    # one step, one state, two actions; pi* plays action 1 (reward 1); behaviour plays it w.p. q
    m = FiniteHorizonMDP(np.ones((1, 2, 1)), np.array([[0.0, 1.0]]), 1)
    for q in (0.5, 0.25):
        beh = np.array([[[1 - q, q]]])
        assert math.isclose(concentrability(m, beh), 1 / q)
    assert concentrability(m, np.array([[[1.0, 0.0]]])) == math.inf
    # mixing rule: mix * pi* + (1 - mix) * uniform over 2 actions plays pi*'s action w.p. (1 + mix)/2
    assert math.isclose(concentrability(m, behaviour_policy(m, 0.5)), 1 / 0.75)


def test_finite_horizon_occupancy_sums_to_one(lock):
    d = finite_horizon_occupancy(lock, np.full((lock.H, lock.S, lock.A), 1 / lock.A))
    np.testing.assert_allclose(d.sum((1, 2)), 1.0)


def test_linear_critic_and_lsvi_ucb_on_linear_mdp():
    lm = random_linear_mdp(S=12, A=3, d=3, H=3, seed=1)
    v_star = backward_induction(lm.to_tabular()).value
    for r in (optimistic_actor_critic(lm, 400, 2, seed=0, critic="linear", progress=False),
              lsvi_ucb(lm, 400, 2, seed=0, progress=False), lsvi_ucb(lm, 400, 2, seed=0, rare_switching=True,
                                                                     progress=False)):
        assert (np.diff(r.regret, axis=1) >= -1e-12).all()
        assert r.values[:, -50:].mean() > v_star - 0.1 * abs(v_star) - 0.05
    rs = lsvi_ucb(lm, 400, 2, seed=0, rare_switching=True, progress=False)
    assert (rs.total_switches < 100).all()


def test_bad_inputs(lock):
    with pytest.raises(ModelError, match="FiniteHorizonMDP"):
        optimistic_actor_critic(garnet(4, 2, 2, 0.9), 10, 1)
    with pytest.raises(ValueError, match="episodes"):
        optimistic_actor_critic(lock, 0, 1)
    with pytest.raises(ValueError, match="seeds"):
        optimistic_actor_critic(lock, 10, 0)
    bad = OfflineData(np.zeros((2, lock.H + 1), int), np.full((2, lock.H), 7), np.zeros((2, lock.H)))
    with pytest.raises(ValueError, match=r"offline actions\[0, 0\] = 7"):
        optimistic_actor_critic(lock, 10, 1, offline_data=bad)
    bad = OfflineData(np.zeros((2, lock.H), int), np.zeros((2, lock.H), int), np.zeros((2, lock.H)))
    with pytest.raises(ShapeError, match="offline data shapes"):
        optimistic_actor_critic(lock, 10, 1, offline_data=bad)
    with pytest.raises(ModelError, match="LinearMDP"):
        optimistic_actor_critic(lock, 10, 1, critic="linear")
    with pytest.raises(ValueError, match="critic must be"):
        optimistic_actor_critic(lock, 10, 1, critic="deep")
