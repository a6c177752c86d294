"""Markov games: model validation, marginal MDPs, soft-Nash fixed points (checked by independent
computations), NashConv, demonstrations, batched simulation and the PettingZoo environment."""
import itertools
import re
import warnings

import numpy as np
import pytest
import torch

from games.envs import markov_game_env
from games.markov.demonstrations import sample_demonstrations
from games.markov.instances import bimatrix_markov_game, gems_game, random_markov_game
from games.markov.marginal import agent_values, marginal_mdp, markov_nash_conv
from games.markov.model import MarkovGame, stack_games, validate_policies
from games.markov.simulation import BatchedMarkovGame
from games.markov.solvers import soft_nash
from mdp import policy_evaluation
from theory.results import NotConvergedWarning, convention_violations
from theory.validation import (NegativeProbabilityError, NotStochasticError, ParameterError, ShapeError)

# Perturbed RPS QREs published in ssokota/mmd (examples/nfg/perturbed_rps.py), payoffs min-max normalised.
RPS = np.array([[0.0, -3.0, 3.0], [3.0, 0.0, -1.0], [-3.0, 1.0, 0.0]])
RPS_QRE = {0.1: (0.17347803, 0.48630324, 0.34021873), 0.5: (0.29813319, 0.41382045, 0.28804635)}


def soft_fixed_point_gap(mg, pols, T):
    """Independent check: entropy-regularised policy evaluation by a linear solve, then the logit map.

    V^pi_soft = (I - gamma P_pi)^{-1} (r_pi - T sum_a pi log pi);  Q = r + gamma P V;  gap = |softmax(Q/T) - pi|.
    """
    gap = 0.0
    for i in range(mg.n_agents):
        m = marginal_mdp(mg, i, pols)
        Rsoft = m.R - T * np.log(pols[i])
        V = policy_evaluation(m.with_rewards(Rsoft), pols[i])
        Q = m.R + m.gamma * np.einsum("sat,t->sa", m.P, V)
        logits = Q / T
        pi = np.exp(logits - logits.max(1, keepdims=True))
        pi /= pi.sum(1, keepdims=True)
        gap = max(gap, float(np.abs(pi - pols[i]).max()))
    return gap


# ---------------------------------------------------------------------------------------------- model
def test_validation_names_index_and_value():
    mg = random_markov_game(3, (2, 2), seed=0)
    P = np.array(mg.P)
    P[1, 0, 1, 2] += 0.03
    with pytest.raises(NotStochasticError, match=r"P\[1, 0, 1, :\] sums to 1.03"):
        MarkovGame(P, mg.R, 0.9)
    P = np.array(mg.P)
    P[2, 1, 0, 0] = -0.1
    P[2, 1, 0, 1] += 0.1
    with pytest.raises(NegativeProbabilityError, match=r"P\[2, 1, 0, 0\]"):
        MarkovGame(P, mg.R, 0.9)
    with pytest.raises(ShapeError, match="P has shape"):
        MarkovGame(mg.P[:, :, :1], mg.R, 0.9)
    with pytest.raises(ShapeError, match="2 agents on axis 0 but 1 action axes"):
        MarkovGame(mg.P, mg.R[:, :, :, 0], 0.9)
    with pytest.raises(ParameterError, match="gamma"):
        MarkovGame(mg.P, mg.R, 1.0)
    # numpy scalars are accepted
    assert MarkovGame(mg.P, mg.R, np.float32(0.5)).gamma == 0.5



def test_initial_distribution_checks_are_the_mdp_ones():
    """mu: uniform when omitted, else a checked copy; the messages are the single-agent model's, and the arrays
    are frozen (theory.validation.initial_distribution / freeze, shared with mdp.TabularMDP)."""
    mg = random_markov_game(3, (2, 2), seed=0)
    assert MarkovGame(mg.P, mg.R, 0.9).mu.tolist() == [1 / 3, 1 / 3, 1 / 3]
    mu = np.array([0.5, 0.25, 0.25])
    g = MarkovGame(mg.P, mg.R, 0.9, mu)
    mu[0] = 0.0                                            # a copy: the caller's array is not aliased
    assert g.mu.tolist() == [0.5, 0.25, 0.25]
    for arr in (g.P, g.R, g.mu):
        with pytest.raises(ValueError, match="read-only"):
            arr[(0,) * arr.ndim] = 1.0
    with pytest.raises(ShapeError, match=re.escape("mu has shape (2,), expected (3,)")):
        MarkovGame(mg.P, mg.R, 0.9, [0.5, 0.5])
    with pytest.raises(NotStochasticError, match=r"mu sums to 0.9"):
        MarkovGame(mg.P, mg.R, 0.9, [0.3, 0.3, 0.3])
    with pytest.raises(NegativeProbabilityError, match=r"mu\[0\] is -0.5"):
        MarkovGame(mg.P, mg.R, 0.9, [-0.5, 0.75, 0.75])

def test_policy_and_temperature_errors():
    mg = random_markov_game(3, (2, 2), seed=0)
    bad = [np.full((3, 2), 0.5), np.full((3, 2), 0.6)]
    with pytest.raises(NotStochasticError, match=r"policies\[1\]\[0, :\] sums to 1.2"):
        validate_policies(mg, bad)
    with pytest.raises(ShapeError, match=r"policies\[0\] has shape"):
        marginal_mdp(mg, 1, [np.full((3, 3), 1 / 3), np.full((3, 2), 0.5)])
    for T in (0.0, -1.0, float("nan")):
        with pytest.raises(ParameterError, match="temperature"):
            soft_nash(mg, T)
    with pytest.raises(ParameterError, match="i must be an agent index"):
        marginal_mdp(mg, 2, mg.uniform_policies())


def test_marginal_mdp_equals_brute_force_three_agents():
    mg = random_markov_game(3, (2, 3, 2), seed=4)
    rng = np.random.default_rng(0)
    pols = [rng.dirichlet(np.ones(a), size=3) for a in mg.actions]
    for i in range(3):
        m = marginal_mdp(mg, i, pols)
        P = np.zeros((3, mg.actions[i], 3))
        R = np.zeros((3, mg.actions[i]))
        for s in range(3):
            for a in itertools.product(*[range(k) for k in mg.actions]):
                w = np.prod([pols[j][s, a[j]] for j in range(3) if j != i])
                P[s, a[i]] += w * mg.P[(s, *a)]
                R[s, a[i]] += w * mg.R[(i, s, *a)]
        np.testing.assert_allclose(m.P, P, atol=1e-14)
        np.testing.assert_allclose(m.R, R, atol=1e-14)


# ---------------------------------------------------------------------------------------------- soft Nash
@pytest.mark.parametrize("kind", ["general", "zero_sum", "common"])
def test_soft_nash_is_a_fixed_point_by_independent_evaluation(kind):
    mg = random_markov_game(6, (3, 2), seed=1, kind=kind)
    r = soft_nash(mg, 0.7)
    assert r.converged and r.residual <= 1e-10
    assert not convention_violations(r, tol=1e-10)
    assert soft_fixed_point_gap(mg, r.policies, 0.7) < 1e-9


def test_soft_nash_three_agents():
    mg = random_markov_game(4, (2, 2, 3), seed=2)
    r = soft_nash(mg, 1.0)
    assert r.converged
    assert soft_fixed_point_gap(mg, r.policies, 1.0) < 1e-9


@pytest.mark.parametrize("alpha", [0.1, 0.5])
def test_normal_form_soft_nash_is_published_rps_qre(alpha):
    A = (RPS - RPS.min()) / (RPS.max() - RPS.min())
    r = soft_nash(bimatrix_markov_game(A, -A), alpha, tol=1e-12)
    for p in r.policies:
        np.testing.assert_allclose(p[0], RPS_QRE[alpha], atol=5e-8)


def test_dominant_strategy_closed_form():
    # Row player's payoff does not depend on the column: its logit response is softmax([1, 0] / T).
    A = np.array([[1.0, 1.0], [0.0, 0.0]])
    B = np.array([[2.0, 0.0], [0.0, 1.0]])
    T = 0.5
    r = soft_nash(bimatrix_markov_game(A, B), T, tol=1e-12)
    x = np.exp(1 / T) / (np.exp(1 / T) + 1)
    np.testing.assert_allclose(r.policies[0][0], [x, 1 - x], atol=1e-12)
    y0 = np.exp(2 * x / T) / (np.exp(2 * x / T) + np.exp((1 - x) / T))
    np.testing.assert_allclose(r.policies[1][0], [y0, 1 - y0], atol=1e-12)


def test_soft_nash_first_iterate_is_the_logit_response():
    # One undamped step from the uniform policy: pi_1 = softmax(Qbar_i^{uniform} / T) (hand-written soft VI).
    mg = random_markov_game(4, (2, 3), seed=3)
    T = 0.8
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotConvergedWarning)
        r = soft_nash(mg, T, max_iter=1, inner_steps=2000)
    for i in range(2):
        m = marginal_mdp(mg, i, mg.uniform_policies())
        V = np.zeros(4)
        for _ in range(2000):
            Q = m.R + mg.gamma * m.P @ V
            V = T * np.log(np.exp(Q / T).sum(1))
        pi = np.exp(Q / T - V[:, None] / T)
        np.testing.assert_allclose(r.policies[i], pi, atol=1e-10)


def test_soft_nash_not_converged_warns():
    mg = random_markov_game(5, (3, 3), seed=0)
    with pytest.warns(NotConvergedWarning, match="soft_nash"):
        r = soft_nash(mg, 0.05, max_iter=2)
    assert r.converged is False


def test_batched_soft_nash_equals_per_game():
    games = [random_markov_game(5, (2, 3), seed=s) for s in range(3)]
    rb = soft_nash(stack_games(games), 0.8)
    assert bool(rb.converged.all())
    for b, g in enumerate(games):
        r = soft_nash(g, 0.8)
        for i in range(2):
            np.testing.assert_allclose(rb.policies[i][b].numpy(), r.policies[i], atol=1e-9)


def test_low_temperature_homotopy_gems():
    mg = gems_game(3)
    r = soft_nash(mg, 0.1, homotopy=2)
    assert r.converged
    assert soft_fixed_point_gap(mg, r.policies, 0.1) < 1e-8


# ---------------------------------------------------------------------------------------------- NashConv
def test_nash_conv_bimatrix_closed_form():
    A = np.array([[3.0, 0.0], [5.0, 1.0]])
    B = np.array([[3.0, 5.0], [0.0, 1.0]])
    mg = bimatrix_markov_game(A, B)
    x, y = np.array([0.3, 0.7]), np.array([0.6, 0.4])
    want = (np.max(A @ y) - x @ A @ y) + (np.max(x @ B) - x @ B @ y)
    assert markov_nash_conv(mg, [x[None], y[None]]) == pytest.approx(want, abs=1e-12)
    assert markov_nash_conv(mg, [np.array([[0.0, 1.0]]), np.array([[0.0, 1.0]])]) == pytest.approx(0.0, abs=1e-12)


def test_nash_conv_nonnegative_and_agent_values_match_simulation():
    mg = random_markov_game(5, (2, 2), seed=7)
    pols = soft_nash(mg, 0.5).policies
    assert markov_nash_conv(mg, pols) >= -1e-12
    v = agent_values(mg, pols)
    env = BatchedMarkovGame(mg, 4000, generator=torch.Generator().manual_seed(0))
    ret = env.rollout([torch.as_tensor(p) for p in pols], horizon=200).returns.numpy()
    se = ret.std(0) / np.sqrt(ret.shape[0])
    assert np.all(np.abs(ret.mean(0) - v) < 4 * se + 0.9 ** 200 * 10)


def test_batched_simulator_uses_each_games_own_model():
    games = [random_markov_game(3, (2, 2), seed=s) for s in range(2)]
    env = BatchedMarkovGame(games, 2, generator=torch.Generator().manual_seed(1))
    s = env.reset()
    a = torch.tensor([[1, 0], [0, 1]])
    s_next, r = env.step(a)
    for b in range(2):
        assert r[b].tolist() == pytest.approx([games[b].R[i, int(s[b]), int(a[b, 0]), int(a[b, 1])] for i in range(2)])
        assert games[b].P[int(s[b]), int(a[b, 0]), int(a[b, 1]), int(s_next[b])] > 0
    with pytest.raises(ShapeError, match=r"actions\[1, 1\] = 5"):
        env.step(torch.tensor([[0, 0], [0, 5]]))


# ---------------------------------------------------------------------------------------------- demonstrations
def test_demonstrations_reproduce_and_match_the_policy():
    mg = random_markov_game(3, (2, 2), seed=0)
    pols = [np.array([[0.9, 0.1]] * 3), np.array([[0.2, 0.8]] * 3)]
    d1 = sample_demonstrations(mg, pols, 400, 10, seed=3)
    d2 = sample_demonstrations(mg, pols, 400, 10, seed=3)
    np.testing.assert_array_equal(d1.states, d2.states)
    freq0 = d1.actions[..., 0].mean()
    assert abs(freq0 - 0.1) < 4 * np.sqrt(0.09 / 4000)
    freq1 = d1.actions[..., 1].mean()
    assert abs(freq1 - 0.8) < 4 * np.sqrt(0.16 / 4000)
    with pytest.raises(ParameterError, match="episodes"):
        sample_demonstrations(mg, pols, 0, 10, seed=0)


def test_demonstrations_check_names_bad_entries():
    from games.markov.demonstrations import Demonstrations

    mg = random_markov_game(3, (2, 2), seed=0)
    d = Demonstrations(np.array([[0, 1, 3]]), np.zeros((1, 2, 2), dtype=int), 3, (2, 2))
    with pytest.raises(ShapeError, match=r"states\[0, 2\] = 3 is not a state"):
        d.check(mg)
    d = Demonstrations(np.array([[0, 1, 2]]), np.array([[[0, 0], [0, 2]]]), 3, (2, 2))
    with pytest.raises(ShapeError, match=r"actions\[0, 1, 1\] = 2 is not an action of agent 1"):
        d.check(mg)


# ---------------------------------------------------------------------------------------------- games and envs
def test_gems_game_structure():
    mg = gems_game(3, move_cost=0.0, slip=0.0, collision=1.0)
    n2 = 9
    assert mg.S == 81 and mg.actions == (5, 5)
    # both agents in cell 0 (a corner), both stay: deterministic, collision penalty, no gem in cell 0
    s = 0 * n2 + 0
    assert mg.P[s, 0, 0, s] == 1.0
    assert mg.R[0, s, 0, 0] == pytest.approx(-1.0)
    # agent 0 in cell 1 moves right into gem cell (0, 2) = 2 (value 1.0 to agent 0); agent 1 stays in 8 (gem 3)
    s = 1 * n2 + 8
    assert mg.R[0, s, 4, 0] == pytest.approx(1.0)
    assert mg.R[1, s, 4, 0] == pytest.approx(0.6)
    with pytest.raises(ParameterError, match="gems"):
        gems_game(3, gems=((0, 5),), values=((1.0,), (1.0,)))


def test_parallel_env_api_seed_render():
    from pettingzoo.test import parallel_api_test, parallel_seed_test, render_test
    from pettingzoo.utils import parallel_to_aec

    mg = random_markov_game(4, (2, 3), seed=0)
    parallel_api_test(markov_game_env(mg, 20), num_cycles=60)
    parallel_seed_test(lambda: markov_game_env(mg, 20), num_cycles=40)
    render_test(lambda render_mode=None: parallel_to_aec(markov_game_env(mg, 20, render_mode=render_mode)))
    parallel_api_test(markov_game_env(gems_game(2), 10), num_cycles=20)


def test_parallel_env_rewards_and_transitions_follow_the_model():
    mg = random_markov_game(4, (2, 3), seed=5)
    env = markov_game_env(mg, 50)
    obs, _ = env.reset(seed=0)
    for _ in range(20):
        s = int(obs["agent_0"])
        obs, rew, _, _, _ = env.step({"agent_0": 1, "agent_1": 2})
        assert rew["agent_1"] == pytest.approx(mg.R[1, s, 1, 2])
        assert mg.P[s, 1, 2, int(obs["agent_0"])] > 0
    with pytest.raises(ParameterError, match=r"actions\['agent_1'\] = 3"):
        env.step({"agent_0": 0, "agent_1": 3})


# ---------------------------------------------------------------------------------------------- low temperature
# Two-player games with a unique, interior logit QRE at every temperature, on which the damped iteration cycles.
LOW_T_GAMES = {
    "asymmetric_matching_pennies": (np.array([[9.0, 0.0], [0.0, 1.0]]), np.array([[0.0, 1.0], [1.0, 0.0]])),
    "weighted_rps": (np.array([[0.0, -1.0, 2.0], [1.0, 0.0, -1.0], [-1.0, 1.0, 0.0]]),
                     -np.array([[0.0, -1.0, 2.0], [1.0, 0.0, -1.0], [-1.0, 1.0, 0.0]])),
    "random_3x3_seed17": tuple(np.random.default_rng(17).standard_normal((2, 3, 3))),
}


def _softmax(z):
    e = np.exp(z - z.max())
    return e / e.sum()


def logit_qre_by_homotopy(A, B, T, T0=10.0, ratio=0.9):
    """Reference logit QRE of the bimatrix game (A, B), written independently of games.markov.

    Unknowns: the expected payoffs u = A y of the row actions and v = B^T x of the column actions, with
    x = softmax(u / T), y = softmax(v / T); the equations u - A softmax(v/T) = 0, v - B^T softmax(u/T) = 0 are
    solved by scipy.optimize.root (MINPACK hybrid, analytic Jacobian) along T0, T0 * ratio, ..., T
    (McKelvey and Palfrey's logit tracing path), each solve warm-started at the previous one.
    """
    from scipy.optimize import root
    m, k = A.shape

    def F(z, t):
        u, v = z[:m], z[m:]
        return np.concatenate([u - A @ _softmax(v / t), v - B.T @ _softmax(u / t)])

    def J(z, t):
        u, v = z[:m], z[m:]
        x, y = _softmax(u / t), _softmax(v / t)
        dx, dy = (np.diag(x) - np.outer(x, x)) / t, (np.diag(y) - np.outer(y, y)) / t
        return np.block([[np.eye(m), -A @ dy], [-B.T @ dx, np.eye(k)]])

    z = np.concatenate([A.mean(1), B.mean(0)])
    temps = list(T0 * ratio ** np.arange(int(np.ceil(np.log(T / T0) / np.log(ratio))))) + [T]
    for t in temps:
        z = root(F, z, args=(t,), jac=J, method="hybr", options={"xtol": 1e-13}).x
        assert np.abs(F(z, t)).max() < 1e-9, t
    for _ in range(3):                      # Newton polish at T to round-off
        z = z - np.linalg.solve(J(z, T), F(z, T))
    x, y = _softmax(z[:m] / T), _softmax(z[m:] / T)
    return x, y


@pytest.mark.parametrize("T", [0.03, 0.01])
@pytest.mark.parametrize("name", list(LOW_T_GAMES))
def test_low_temperature_soft_nash_is_the_logit_qre(name, T):
    A, B = LOW_T_GAMES[name]
    x, y = logit_qre_by_homotopy(A, B, T)
    # the reference is a fixed point of the logit response to 1e-12
    assert np.abs(_softmax(A @ y / T) - x).max() <= 1e-12
    assert np.abs(_softmax(B.T @ x / T) - y).max() <= 1e-12
    with warnings.catch_warnings():
        warnings.simplefilter("error", NotConvergedWarning)
        r = soft_nash(bimatrix_markov_game(A, B), T, tol=1e-11)
    assert r.converged and r.residual <= 1e-11
    np.testing.assert_allclose(r.policies[0][0], x, atol=1e-9)
    np.testing.assert_allclose(r.policies[1][0], y, atol=1e-9)


def test_low_temperature_markov_game_newton_path_is_a_fixed_point():
    mg = random_markov_game(4, (3, 3), seed=3, kind="zero_sum")
    r = soft_nash(mg, 0.03, tol=1e-10, method="newton")
    assert r.converged
    assert soft_fixed_point_gap(mg, r.policies, 0.03) < 1e-9


def test_damped_iteration_alone_reports_not_converged_honestly():
    A, B = LOW_T_GAMES["asymmetric_matching_pennies"]
    with pytest.warns(NotConvergedWarning, match="soft_nash"):
        r = soft_nash(bimatrix_markov_game(A, B), 0.03, method="iterate", max_iter=2000)
    x, y = logit_qre_by_homotopy(A, B, 0.03)
    gap = max(np.abs(_softmax(A @ r.policies[1][0] / 0.03) - r.policies[0][0]).max(),
              np.abs(_softmax(B.T @ r.policies[0][0] / 0.03) - r.policies[1][0]).max())
    assert r.converged is False and r.residual == pytest.approx(gap, abs=1e-12)
    assert max(np.abs(r.policies[0][0] - x).max(), np.abs(r.policies[1][0] - y).max()) > 1e-3


def test_small_damping_is_never_raised():
    """A caller's step below 1/64 stays fixed: the iterates equal the hand-written damped recursion."""
    A, B = LOW_T_GAMES["asymmetric_matching_pennies"]
    T, beta, K = 0.03, 1 / 4096, 800
    with pytest.warns(NotConvergedWarning):
        r = soft_nash(bimatrix_markov_game(A, B), T, damping=beta, method="iterate", max_iter=K, tol=1e-300)
    x, y = np.full(2, 0.5), np.full(2, 0.5)
    residuals = []
    for _ in range(K):                      # gamma = 0: the marginal soft-Q is the expected payoff
        bx, by = _softmax(A @ y / T), _softmax(B.T @ x / T)
        residuals.append(max(np.abs(bx - x).max(), np.abs(by - y).max()))
        x, y = (1 - beta) * x + beta * bx, (1 - beta) * y + beta * by
    assert any(b > a for a, b in zip(residuals, residuals[1:]))     # the residual grows at some step
    np.testing.assert_allclose(r.policies[0][0], x, atol=1e-13)
    np.testing.assert_allclose(r.policies[1][0], y, atol=1e-13)


def test_newton_in_a_batch_fills_only_the_stalled_games():
    A, B = LOW_T_GAMES["weighted_rps"]
    games = [bimatrix_markov_game(A, B), bimatrix_markov_game(np.eye(3), np.eye(3))]
    rb = soft_nash(stack_games(games), 0.03, tol=1e-11)
    assert bool(rb.converged.all())
    x, y = logit_qre_by_homotopy(A, B, 0.03)
    np.testing.assert_allclose(rb.policies[0][0, 0].numpy(), x, atol=1e-9)
    np.testing.assert_allclose(rb.policies[1][0, 0].numpy(), y, atol=1e-9)
    r1 = soft_nash(games[1], 0.03, tol=1e-11, method="iterate")
    np.testing.assert_allclose(rb.policies[0][1].numpy(), r1.policies[0], atol=1e-10)


def test_soft_nash_rejects_unknown_method():
    with pytest.raises(ParameterError, match="method"):
        soft_nash(bimatrix_markov_game(np.eye(2), np.eye(2)), 0.1, method="bisect")


@pytest.mark.parametrize("which", ["markov_game", "resource_grid"])
def test_parallel_envs_pass_pettingzoo_state_tests(which):
    """PettingZoo 1.27's state_test on the AEC conversion and the parallel env: ``state()`` is callable through
    ``parallel_to_aec`` (an integer ``state`` attribute used to hide it) and lies in ``state_space``."""
    import warnings

    from pettingzoo.test import parallel_api_test, state_test
    from pettingzoo.utils import parallel_to_aec

    from games.envs import resource_grid_env

    make = ((lambda: markov_game_env(random_markov_game(4, (2, 3), seed=0), 20)) if which == "markov_game"
            else (lambda: resource_grid_env(n=3, size=4, max_cycles=15)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")                       # a state that only earns warnings fails too
        state_test(parallel_to_aec(make()), make(), num_cycles=30)
    parallel_api_test(make(), num_cycles=30)
    env = make()
    env.reset(seed=1)
    s0 = env.state()
    env.step({a: 0 for a in env.agents})
    if which == "markov_game":                               # [s, t]: the state index the agents observe, t
        assert s0[1] == 0 and env.state()[1] == 1 and env.state()[0] == env.current_state
    else:
        assert env.state().shape == (3, 2) and env.state_space.contains(s0)
