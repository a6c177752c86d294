"""MAMQL (tabular reconstruction), its baselines and the reward-recovery metrics."""
import warnings

import numpy as np
import pytest

from games.mamql import (behaviour_cloning, demonstration_data, expert_data, independent_iq_learn, ma_airl,
                         mamql, policy_kl, reward_recovery)
from games.markov_game import Demonstrations, marginal_mdp, sample_demonstrations, soft_nash
from games.markov_games import random_markov_game
from theory.results import NotConvergedWarning, convention_violations
from theory.validation import ParameterError, ShapeError

T = 1.0


@pytest.fixture(scope="module")
def game():
    mg = random_markov_game(6, (3, 2), seed=0)
    expert = soft_nash(mg, T).policies
    return mg, expert


def state_weights(mg, expert):
    return expert_data(mg, expert).weights[0][0].sum(-1).numpy()


def hand_gradient(Q, P, gamma, w_E, w_R, alpha, temp):
    r"""d/dQ of E_E[Q - V] - E_R[r^2]/(4 alpha), r = Q - gamma P V, V = T lse(Q/T) (derived by hand):
    w_E - pi * w_E(s) - (1/(2 alpha)) [u - gamma pi * (P^T u)(s)],  u = w_R * r."""
    V = temp * np.log(np.exp(Q / temp).sum(1))
    pi = np.exp((Q - V[:, None]) / temp)
    r = Q - gamma * np.einsum("sat,t->sa", P, V)
    u = w_R * r
    back = np.einsum("sat,sa->t", P, u)
    return w_E - pi * w_E.sum(1, keepdims=True) - (u - gamma * pi * back[:, None]) / (2 * alpha)


def test_reward_recovery_metric_on_constructed_rewards():
    mg = random_markov_game(5, (3, 2), seed=1)
    m = marginal_mdp(mg, 0, mg.uniform_policies())
    rng = np.random.default_rng(0)
    r = rng.standard_normal((5, 3))
    phi = rng.standard_normal(5)
    shaped = r + mg.gamma * m.P @ phi - phi[:, None] + 0.7
    rr = reward_recovery(m.R * 0 + r, shaped, m.P, mg.gamma)
    assert rr.shaping_residual < 1e-12 and rr.shaped_pearson == pytest.approx(1.0, abs=1e-12)
    assert rr.pearson < 0.999  # shaping changes the raw correlation
    rr2 = reward_recovery(r, 2.0 * shaped, m.P, mg.gamma)
    assert rr2.shaped_pearson == pytest.approx(1.0, abs=1e-12) and rr2.shaping_residual > 0.1
    rr3 = reward_recovery(r, -r, m.P, mg.gamma)
    assert rr3.shaped_pearson == pytest.approx(-1.0, abs=1e-12)
    with pytest.raises(ShapeError):
        reward_recovery(r, r[:, :2], m.P, mg.gamma)


def test_mamql_optimum_satisfies_hand_written_stationarity(game):
    # Offline with the expert opponents: each agent maximises J_i in the true marginal MDP.
    mg, expert = game
    alpha = 2.0
    data = expert_data(mg, expert)
    res = mamql(mg, data, T, alpha=alpha, online=False, opponents="expert", expert_policies=expert, tol=1e-9)
    assert res.converged and not convention_violations(res, tol=1e-9)
    for i in range(2):
        m = marginal_mdp(mg, i, expert)
        w = data.weights[i][0].numpy()
        g = hand_gradient(res.q[i][0], m.P, mg.gamma, w, w, alpha, T)
        assert np.abs(g).max() < 1e-8
        # a wrong regulariser constant (1/(2 alpha) instead of 1/(4 alpha)) is not stationary
        assert np.abs(hand_gradient(res.q[i][0], m.P, mg.gamma, w, w, alpha / 2, T)).max() > 1e-4
        # the recovered reward is Q - gamma P V
        V = T * np.log(np.exp(res.q[i][0] / T).sum(1))
        np.testing.assert_allclose(res.marginal_reward[i][0], res.q[i][0] - mg.gamma * m.P @ V, atol=1e-12)


@pytest.mark.parametrize("online", [False, True])
def test_exact_occupancy_recovers_policy_and_reward_modulo_shaping(game, online):
    mg, expert = game
    res = mamql(mg, expert_data(mg, expert), T, alpha=1e4, online=online)
    d = state_weights(mg, expert)
    for i in range(2):
        m = marginal_mdp(mg, i, expert)
        assert policy_kl(expert[i], res.policies[i][0], d) < 1e-8
        rr = reward_recovery(m.R, res.marginal_reward[i][0], m.P, mg.gamma)
        assert rr.shaping_residual < 1e-3
        assert rr.shaped_pearson > 1 - 1e-6


def test_kl_shrinks_with_weaker_regulariser(game):
    mg, expert = game
    data = expert_data(mg, expert)
    d = state_weights(mg, expert)
    kls = [policy_kl(expert[0], mamql(mg, data, T, alpha=a, online=False).policies[0][0], d) for a in (0.5, 5, 50)]
    assert kls[0] > kls[1] > kls[2]


def test_independent_iq_equals_mamql_with_expert_opponents_on_exact_data(game):
    mg, expert = game
    data = expert_data(mg, expert)
    a = mamql(mg, data, T, alpha=3.0, online=False, opponents="expert", expert_policies=expert, tol=1e-8)
    b = independent_iq_learn(mg, data, T, alpha=3.0, tol=1e-8)
    for i in range(2):
        np.testing.assert_allclose(a.policies[i], b.policies[i], atol=1e-7)
        np.testing.assert_allclose(a.marginal_reward[i], b.marginal_reward[i], atol=1e-6)


def test_behaviour_cloning_exact_and_sampled(game):
    mg, expert = game
    bc = behaviour_cloning(mg, expert_data(mg, expert), smoothing=0.0)
    for i in range(2):
        np.testing.assert_allclose(bc.policies[i][0], expert[i], atol=1e-12)
    demos = sample_demonstrations(mg, expert, 50, 20, seed=0)
    bc = behaviour_cloning(mg, demos, smoothing=0.0)
    s, a = demos.states[:, :-1].ravel(), demos.actions[..., 1].ravel()
    w = np.zeros((6, 2))
    np.add.at(w, (s, a), np.tile(mg.gamma ** np.arange(20), 50))
    np.testing.assert_allclose(bc.policies[1], w / w.sum(1, keepdims=True), atol=1e-12)


def test_batched_seeds_equal_single_runs(game):
    mg, expert = game
    demos = [sample_demonstrations(mg, expert, 30, 15, seed=s) for s in range(2)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotConvergedWarning)
        rb = mamql(mg, demos, T, alpha=5.0, online=False, tol=1e-9)
        for b in range(2):
            r1 = mamql(mg, demos[b], T, alpha=5.0, online=False, tol=1e-9)
            np.testing.assert_allclose(rb.policies[0][b], r1.policies[0], atol=1e-6)


def test_demonstration_data_weights_are_discounted_counts(game):
    mg, expert = game
    demos = sample_demonstrations(mg, expert, 5, 4, seed=1)
    data = demonstration_data(mg, demos)
    w = np.zeros((6, 3))
    np.add.at(w, (demos.states[:, :-1].ravel(), demos.actions[..., 0].ravel()), np.tile(mg.gamma ** np.arange(4), 5))
    np.testing.assert_allclose(data.weights[0][0].numpy(), w / w.sum(), atol=1e-14)


def test_more_demonstrations_recover_better(game):
    mg, expert = game
    d = state_weights(mg, expert)
    kls = []
    for E in (20, 2000):
        demos = [sample_demonstrations(mg, expert, E, 30, seed=s) for s in range(3)]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NotConvergedWarning)
            r = mamql(mg, demos, T, alpha=5.0, online=False)
        kls.append(np.mean([policy_kl(expert[0], r.policies[0][b], d) for b in range(3)]))
    assert kls[1] < kls[0] / 10


def test_ma_airl_moves_towards_the_expert(game):
    mg, expert = game
    d = state_weights(mg, expert)
    r = ma_airl(mg, expert_data(mg, expert), T, rounds=30)
    assert not convention_violations(r)
    uniform = policy_kl(expert[0], np.full((6, 3), 1 / 3), d)
    assert policy_kl(expert[0], r.policies[0][0], d) < 0.5 * uniform


def test_bad_inputs(game):
    mg, expert = game
    bad = Demonstrations(np.array([[0, 7]]), np.zeros((1, 1, 2), dtype=int), 6, (3, 2))
    with pytest.raises(ShapeError, match=r"states\[0, 1\] = 7"):
        mamql(mg, bad, T)
    good = sample_demonstrations(mg, expert, 2, 3, seed=0)
    for kw, match in (({"temperature": 0.0}, "temperature"), ({"alpha": -1.0}, "alpha"),
                      ({"opponents": "random"}, "opponents"), ({"opponents": "expert"}, "expert_policies")):
        args = dict(temperature=T)
        args.update(kw)
        with pytest.raises(ParameterError, match=match):
            mamql(mg, good, **args)
    with pytest.raises(TypeError, match="demos"):
        mamql(mg, np.zeros((3, 3)), T)
