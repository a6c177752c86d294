"""MAMQL (tabular reconstruction), its baselines and the reward-recovery metrics."""
import warnings

import numpy as np
import pytest

from games.markov.baselines import behaviour_cloning, independent_iq_learn, ma_airl
from games.markov.demonstrations import Demonstrations, sample_demonstrations
from games.markov.instances import random_markov_game
from games.markov.irl import demonstration_data, expert_data
from games.markov.mamql import mamql
from games.markov.marginal import marginal_mdp
from games.markov.recovery import policy_kl, policy_tv, reward_recovery, scale_normalised_rewards, transfer_returns
from games.markov.solvers import soft_nash
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
        w_R = 0.5 * (w + 1.0 / w.size)  # the offline default: expert occupancy mixed with uniform pairs
        g = hand_gradient(res.Q[i][0], m.P, mg.gamma, w, w_R, alpha, T)
        assert np.abs(g).max() < 1e-8
        # a wrong regulariser constant (1/(2 alpha) instead of 1/(4 alpha)) is not stationary
        assert np.abs(hand_gradient(res.Q[i][0], m.P, mg.gamma, w, w_R, alpha / 2, T)).max() > 1e-4
        # nor is the expert-only regulariser of the unbounded objective
        assert np.abs(hand_gradient(res.Q[i][0], m.P, mg.gamma, w, w, alpha, T)).max() > 1e-4
        # the recovered reward is Q - gamma P V
        V = T * np.log(np.exp(res.Q[i][0] / T).sum(1))
        np.testing.assert_allclose(res.marginal_reward[i][0], res.Q[i][0] - mg.gamma * m.P @ V, atol=1e-12)


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
    rb = mamql(mg, demos, T, alpha=5.0, online=False, tol=1e-8)
    assert rb.converged
    for b in range(2):
        r1 = mamql(mg, demos[b], T, alpha=5.0, online=False, tol=1e-8)
        np.testing.assert_allclose(rb.policies[0][b], r1.policies[0], atol=1e-6)


def test_demonstration_data_weights_are_discounted_counts(game):
    mg, expert = game
    demos = sample_demonstrations(mg, expert, 5, 4, seed=1)
    data = demonstration_data(mg, demos)
    w = np.zeros((6, 3))
    np.add.at(w, (demos.states[:, :-1].ravel(), demos.actions[..., 0].ravel()), np.tile(mg.gamma ** np.arange(4), 5))
    np.testing.assert_allclose(data.weights[0][0].numpy(), w / w.sum(), atol=1e-14)


def test_more_demonstrations_recover_better(game):
    # The distance to the population fit (the same alpha on the exact occupancy) is the estimation error alone;
    # its KL falls like 1/N (100x data: about 1/100), while the distance to the expert keeps the alpha bias.
    mg, expert = game
    d = state_weights(mg, expert)
    pop = mamql(mg, expert_data(mg, expert), T, alpha=5.0, online=False).policies[0][0]
    kls = []
    for E in (20, 2000):
        demos = [sample_demonstrations(mg, expert, E, 30, seed=s) for s in range(3)]
        r = mamql(mg, demos, T, alpha=5.0, online=False)
        assert r.converged
        kls.append(np.mean([policy_kl(pop, r.policies[0][b], d) for b in range(3)]))
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


def sparse_demos(mg, expert):
    """Few short trajectories: many (state, action) pairs are never demonstrated."""
    return sample_demonstrations(mg, expert, 3, 6, seed=3)


def test_offline_objective_is_bounded_on_undemonstrated_actions(game):
    # Offline with the expert opponents (fixed kernels): the fit converges to a finite maximiser that does not
    # move when the optimiser runs longer, and undemonstrated actions keep a probability well above 0.
    mg, expert = game
    demos = sparse_demos(mg, expert)
    data = demonstration_data(mg, demos)
    seen = [data.weights[i][0].numpy() > 0 for i in range(2)]
    visited = seen[0].any(1)
    unseen = [visited[:, None] & ~s for s in seen]
    assert all(u.any() for u in unseen)
    kw = dict(online=False, opponents="expert", expert_policies=expert, alpha=5.0, tol=1e-8)
    short = mamql(mg, demos, T, max_iter=300, **kw)
    long = mamql(mg, demos, T, max_iter=3000, **kw)
    assert short.converged and long.converged
    d = state_weights(mg, expert)
    for i in range(2):
        np.testing.assert_allclose(short.policies[i], long.policies[i], atol=1e-7)
        assert long.policies[i][unseen[i]].min() > 1e-3
    assert policy_kl(expert[0], short.policies[0], d) == pytest.approx(policy_kl(expert[0], long.policies[0], d),
                                                                       abs=1e-7)
    # the expert-only regulariser (the former offline objective) is unbounded there: the probability of an
    # undemonstrated action keeps falling as the optimiser runs longer
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotConvergedWarning)
        p = [mamql(mg, demos, T, max_iter=k, reference="expert", **{**kw, "tol": 1e-10}).policies[0][unseen[0]].min()
             for k in (50, 1000)]
    assert p[1] < p[0] / 10


def test_offline_optimum_equals_a_reference_maximiser(game):
    # The offline objective maximised independently (scipy L-BFGS-B on the hand-written objective and gradient).
    from scipy.optimize import minimize

    mg, expert = game
    alpha = 5.0
    demos = sparse_demos(mg, expert)
    data = demonstration_data(mg, demos)
    res = mamql(mg, demos, T, alpha=alpha, online=False, opponents="expert", expert_policies=expert, tol=1e-8)
    for i in range(2):
        m = marginal_mdp(mg, i, expert)
        w = data.weights[i][0].numpy()
        w_R = 0.5 * (w + 1.0 / w.size)
        S, A = w.shape

        def f(x):
            Q = x.reshape(S, A)
            V = T * np.log(np.exp(Q / T).sum(1))
            r = Q - mg.gamma * m.P @ V
            J = (w * (Q - V[:, None])).sum() - (w_R * r ** 2).sum() / (4 * alpha)
            return -J, -hand_gradient(Q, m.P, mg.gamma, w, w_R, alpha, T).ravel()

        opt = minimize(f, np.zeros(S * A), jac=True, method="L-BFGS-B",
                       options=dict(maxiter=20000, gtol=1e-13, ftol=1e-16))
        Q = opt.x.reshape(S, A)
        pi = np.exp(Q / T) / np.exp(Q / T).sum(1, keepdims=True)
        np.testing.assert_allclose(res.policies[i], pi, atol=1e-6)


def _lbfgs_first_iterate(grad_q, alpha, S, actions):
    """torch's L-BFGS first iteration (lr = 1, strong Wolfe accepting its first trial step) written out in the
    critic parametrisation Q = Z - mean_a Z + kappa c of the fit (kappa = sqrt(max(alpha, 1))):
    x1 = x0 - t0 g0 with x0 = 0, g0 the gradient of the loss -J in (Z, c) and t0 = min(1, 1/|g0|_1)."""
    kappa = np.sqrt(max(alpha, 1.0))
    g = []
    for i, A in enumerate(actions):
        gQ = -grad_q(i, np.zeros((S, A)))
        g.append(((gQ - gQ.mean(1, keepdims=True)), kappa * gQ.sum(1)))
    t0 = min(1.0, 1.0 / sum(np.abs(gZ).sum() + np.abs(gc).sum() for gZ, gc in g))
    out = []
    for gZ, gc in g:
        Z, c = -t0 * gZ, -t0 * gc
        out.append(Z - Z.mean(1, keepdims=True) + kappa * c[:, None])
    return out


def test_fit_first_iterate_matches_hand_written_lbfgs(game):
    mg, expert = game
    alpha = 5.0
    demos = sparse_demos(mg, expert)
    data = demonstration_data(mg, demos)
    ms = [marginal_mdp(mg, i, expert) for i in range(2)]
    ws = [data.weights[i][0].numpy() for i in range(2)]

    def grad_q(i, Q):
        return hand_gradient(Q, ms[i].P, mg.gamma, ws[i], 0.5 * (ws[i] + 1.0 / ws[i].size), alpha, T)

    it1 = _lbfgs_first_iterate(grad_q, alpha, mg.S, mg.actions)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotConvergedWarning)
        r1 = mamql(mg, demos, T, max_iter=1, online=False, opponents="expert", expert_policies=expert, alpha=alpha)
    for i in range(2):
        np.testing.assert_allclose(r1.Q[i], it1[i], atol=1e-12)


def test_policy_tv_by_hand():
    pe = np.array([[0.5, 0.5, 0.0], [1.0, 0.0, 0.0]])
    pl = np.array([[0.2, 0.3, 0.5], [0.9, 0.1, 0.0]])
    # state 0: (0.3 + 0.2 + 0.5)/2 = 0.5; state 1: (0.1 + 0.1)/2 = 0.1
    assert policy_tv(pe, pl, [0.25, 0.75]) == pytest.approx(0.25 * 0.5 + 0.75 * 0.1, abs=1e-15)


def test_transfer_returns_by_hand_and_a_shaped_reward_transfers_differently(game):
    # Re-optimising the true marginal reward (against the expert opponents) under changed dynamics is compared
    # with the true reward's own soft Nash there; a one-state game pins the normalisation exactly.
    from games.markov.instances import bimatrix_markov_game
    from games.markov.model import MarkovGame

    A = np.array([[3.0, 0.0], [5.0, 1.0]])
    mg = bimatrix_markov_game(A, A.T)
    # rewards of each agent's own action only: in a one-state game their soft Nash is softmax(r_i / T)
    r = [np.array([[[0.3, -0.2]]]), np.array([[[1.0, 0.0]]])]
    out, conv = transfer_returns(mg, r, 1.0)
    star = soft_nash(mg, 1.0).policies
    v = lambda pols: sum(float(pols[0][0] @ M @ pols[1][0]) for M in (A, A.T))  # noqa: E731
    pi = [np.exp(x[0]) / np.exp(x[0]).sum(-1, keepdims=True) for x in r]
    u = [np.full((1, 2), 0.5)] * 2
    assert conv.all()
    assert out[0] == pytest.approx((v(pi) - v(u)) / (v(star) - v(u)), abs=1e-7)
    # in a Markov game, a reward shaped with the old dynamics' potential re-optimised under new dynamics
    g = random_markov_game(5, (2, 2), seed=4)
    new = MarkovGame(random_markov_game(5, (2, 2), seed=5).P, g.R, g.gamma)
    rs = [marginal_mdp(g, i, g.uniform_policies()).R[None] for i in range(2)]
    phi = np.linspace(-3, 3, 5)
    shaped = [r + 0.0 for r in rs]
    for i in range(2):
        m = marginal_mdp(g, i, g.uniform_policies())
        shaped[i] = rs[i] + (g.gamma * m.P @ phi - phi[:, None])[None]
    both, _ = transfer_returns(new, [np.concatenate([r, s]) for r, s in zip(rs, shaped)], 1.0)
    assert both[0] != pytest.approx(both[1], abs=1e-3)
    with pytest.raises(ShapeError, match="marginal_rewards"):
        transfer_returns(new, [rs[0][0], rs[1][0]], 1.0)


def test_scale_normalisation_makes_transfer_invariant_to_reward_scale(game):
    # sigma(r) = min_h ||r - h|| / sqrt(SA) over shaping + offset, computed here by least squares on H's columns
    from games.markov.model import MarkovGame

    mg, expert = game
    new = MarkovGame(random_markov_game(6, (3, 2), seed=7).P, mg.R, mg.gamma)
    rng = np.random.default_rng(3)
    ms = [marginal_mdp(mg, i, expert) for i in range(2)]

    def sigma(r, P):
        S, A = r.shape
        H = np.column_stack([mg.gamma * P.reshape(S * A, S) - np.repeat(np.eye(S), A, axis=0), np.ones(S * A)])
        coef = np.linalg.lstsq(H, r.ravel(), rcond=None)[0]
        return np.linalg.norm(r.ravel() - H @ coef) / np.sqrt(S * A)

    phi = rng.normal(size=6)
    base = [m.R + 0.5 * rng.normal(size=m.R.shape) for m in ms]
    shaped = [b + mg.gamma * m.P @ phi - phi[:, None] for b, m in zip(base, ms)]
    k = np.array([0.2, 1.0, 4.0])  # the same reward (up to shaping) at three scales
    rs = [np.stack([k[0] * b, k[1] * b, k[2] * s]) for b, s in zip(base, shaped)]
    scaled, ratios = scale_normalised_rewards(mg, expert, rs)
    for i, m in enumerate(ms):
        assert ratios[i] == pytest.approx(k * sigma(base[i], m.P) / sigma(m.R, m.P), rel=1e-9)
        for b in range(3):
            assert sigma(scaled[i][b], m.P) == pytest.approx(sigma(m.R, m.P), rel=1e-9)
    raw, _ = transfer_returns(new, [r[:2] for r in rs], T)
    out, conv = transfer_returns(new, [s[:2] for s in scaled], T)
    assert conv.all()
    assert abs(raw[0] - raw[1]) > 1e-2  # without the normalisation the scale changes the transfer
    assert out[0] == pytest.approx(out[1], abs=1e-7)  # with it, a reward times k transfers identically
    with pytest.raises(ShapeError, match="marginal_rewards"):
        scale_normalised_rewards(mg, expert, [r[0] for r in rs])


def test_gems_quick_offline_fits_meet_their_stopping_test():
    """mamql_gems' quick budget suffices for its offline fits: the stationarity residual (max-norm gradient of
    the objective, recomputed at the returned critics) is at most the 1e-7 stopping test on the experiment's
    second quick data set (seed 0, k = 1; about 1,200 L-BFGS iterations). With the earlier 150-iteration
    budget both stopped near 1e-3. (Data set k = 0 fitted alone exhausts L-BFGS's 3,000 evaluations at
    1.4e-7; batched with the others, as in the experiment, it meets the test.)"""
    from experiments.mamql_gems import CONFIGS
    from games.markov.instances import gems_game

    c = CONFIGS["quick"]
    mg = gems_game(c.size)
    expert = soft_nash(mg, c.temperature, homotopy=2).policies
    demos = [sample_demonstrations(mg, expert, c.episodes, c.horizon, seed=1)]
    with warnings.catch_warnings():
        warnings.simplefilter("error", NotConvergedWarning)
        off = mamql(mg, demos, c.temperature, alpha=c.alpha, online=False, max_iter=c.lbfgs_iterations)
        iiq = independent_iq_learn(mg, demos, c.temperature, alpha=c.alpha, max_iter=c.lbfgs_iterations)
    for res in (off, iiq):
        assert res.residual <= 1e-7 and res.converged
