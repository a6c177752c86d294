"""Actor-critic and baselines against exact dynamic programming."""
import math

import numpy as np
import pytest

from mdp import FiniteHorizonMDP, backward_induction
from mdp.actor_critic import (ActorCriticSolver, OfflineData, behaviour_policy, collect_offline_data,
                              concentrability, lsvi_ucb, optimistic_actor_critic, ucbvi)
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


def _optac_solver(m, episodes, seeds, seed):
    return ActorCriticSolver(m, episodes=episodes, seeds=seeds, seed=seed, optimism=True, reset=True,
                             actor="softmax", switching="doubling", offline_data=None, critic="tabular",
                             bonus_scale=0.05, delta=0.1, device="cpu", ridge=1.0, beta_scale=0.01, name="optac")


def test_stepping_by_hand_equals_the_function(lock):
    solver = _optac_solver(lock, 30, 2, seed=7)
    for _ in range(30):
        solver.step()
    a, b = solver.result(), optimistic_actor_critic(lock, 30, 2, seed=7, progress=False)
    for f in ("regret", "values", "switches", "policy"):
        np.testing.assert_array_equal(getattr(a, f), getattr(b, f))
    with pytest.raises(RuntimeError, match="episodes are done"):
        solver.step()


def test_callback_sees_every_episode(lock):
    seen = []
    full = ucbvi(lock, 12, 2, seed=1, progress=False,
                 callback=lambda s: seen.append((s.t, s.result().values.copy())))
    assert [t for t, _ in seen] == list(range(1, 13))
    for t, v in seen:                                   # the run so far is a prefix of the full run
        np.testing.assert_array_equal(v, full.values[:, :t])


def _hand_ucbvi_q(N, Ntr, Rsum, H, S, A, T, c_b=0.05, delta=0.1):
    """Optimistic backward induction on the empirical model, one run (the module docstring's critic)."""
    log_term = math.log(S * A * H * T / delta)
    Q = np.zeros((H, S, A))
    V = np.zeros(S)
    for h in range(H - 1, -1, -1):
        for s in range(S):
            for a in range(A):
                n = N[h, s, a]
                if n == 0:
                    Q[h, s, a] = H - h
                    continue
                q = Rsum[h, s, a] / n + Ntr[h, s, a] @ V / n + c_b * (H - h) * math.sqrt(log_term / n)
                Q[h, s, a] = min(H - h, q)
        V = Q[h].max(-1)
    return Q


def test_first_actor_iterates_follow_the_mirror_descent_recursion(lock):
    """Episode 1 plays the uniform policy; every run switches (counts 0 -> 1) and resets, so the logits are
    eta_1 Q_1 with eta_1 = sqrt(log A); episode 2 switches iff some count doubled, then
    logits = eta_1 Q_2 (reset) or eta_1 Q_1 + sqrt(log A / 2) Q_1."""
    H, S, A, T = lock.H, lock.S, lock.A, 5
    solver = _optac_solver(lock, T, 3, seed=4)
    c = solver.critic
    N0 = c.N.numpy().copy()
    solver.step()
    N1, Ntr1, R1 = c.N.numpy().copy(), c.Ntr.numpy().copy(), c.Rsum.numpy().copy()
    eta1 = math.sqrt(math.log(A))
    for b in range(3):
        assert (N0[b] == 0).all() and N1[b].sum() == H
        Q1 = _hand_ucbvi_q(N1[b], Ntr1[b], R1[b], H, S, A, T)
        np.testing.assert_allclose(solver.actor.logits[b].numpy(), eta1 * Q1, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(solver.switches[:, 0], 1)
    solver.step()
    N2, Ntr2, R2 = c.N.numpy(), c.Ntr.numpy(), c.Rsum.numpy()
    for b in range(3):
        switched = bool(((N2[b] >= 2 * N1[b]) & (N2[b] > 0)).any())
        assert solver.switches[b, 1] == 1 + switched
        Q1 = _hand_ucbvi_q(N1[b], Ntr1[b], R1[b], H, S, A, T)
        if switched:
            want = eta1 * _hand_ucbvi_q(N2[b], Ntr2[b], R2[b], H, S, A, T)
        else:
            want = eta1 * Q1 + math.sqrt(math.log(A) / 2) * Q1
        np.testing.assert_allclose(solver.actor.logits[b].numpy(), want, rtol=0, atol=1e-12)


def test_rare_switching_follows_the_doubling_rule(lock):
    """A run switches after an episode iff some count N_h(s, a) reached twice its value at the run's last
    switch (N_last starts at the pre-run counts, zero here)."""
    solver = _optac_solver(lock, 40, 3, seed=9)
    N_last = solver.critic.N.numpy().copy()
    n_switch = np.zeros(3, dtype=int)
    for t in range(40):
        solver.step()
        N = solver.critic.N.numpy()
        for b in range(3):
            if ((N[b] >= 2 * N_last[b]) & (N[b] > 0)).any():
                n_switch[b] += 1
                N_last[b] = N[b]
        np.testing.assert_array_equal(solver.switches[:, t], n_switch)
    assert n_switch.max() < 40                           # rare: not every episode
