"""Constrained MDPs: the Lemma against cvxpy, the Lagrangian and TSCAC against the occupancy LP, bad inputs."""
import warnings

import cvxpy as cp
import numpy as np
import pytest

from mdp import solve_occupancy_lp, value_iteration
from mdp.constrained import (DEFAULT_PRIOR_SPREAD, DEFAULT_PRIOR_TEMPERATURE,
                             NoFeasibleLambdaWarning, closed_form_policy, lagrangian, sampled_stage_one,
                             sampled_stage_two, signal_values, stage_one_policies, stage_two, thresholds_between,
                             two_stage_actor_critic)
from mdp.constrained.primal_dual import LagrangianSolver
from mdp.envs.recommender import short_video_cmdp
from mdp.model import ModelError, NotFiniteError, ParameterError, ShapeError
from mdp.occupancy import InfeasibleConstraintsError
from theory.results import NotConvergedWarning, convention_violations
from gpu_device import GPU


@pytest.fixture(scope="module")
def sv():
    return short_video_cmdp(Z=3, F=3, K=4, seed=3)


def _exact_J(m, r, pi):
    """Independent evaluation: a dense numpy solve of (I - gamma P_pi) V = r_pi."""
    P = m.dense_P()
    P_pi = np.einsum("sat,sa->st", P, pi)
    return float(m.mu @ np.linalg.solve(np.eye(m.S) - m.gamma * P_pi, (r * pi).sum(-1)))


# ------------------------------------------------------------------------------------------- Lemma
def test_lemma_matches_cvxpy_kl_constrained_problem_and_recovers_multipliers():
    rng = np.random.default_rng(0)
    for _ in range(5):
        k, A = 3, 5
        priors = rng.dirichlet(np.ones(A), size=k)
        adv = rng.normal(size=A)
        lam = rng.uniform(0.3, 2.0, size=k)
        pi = closed_form_policy(priors[:, None, :], adv[None, :], lam)[0]
        eps = np.array([np.sum(pi * np.log(pi / q)) for q in priors])
        p = cp.Variable(A, nonneg=True)
        cons = [cp.sum(p) == 1] + [cp.sum(cp.rel_entr(p, q)) <= e for q, e in zip(priors, eps)]
        prob = cp.Problem(cp.Maximize(adv @ p), cons)
        prob.solve(solver="CLARABEL")
        assert np.max(np.abs(p.value - pi)) < 1e-5
        duals = np.array([c.dual_value for c in cons[1:]], dtype=float).ravel()
        assert np.allclose(duals, lam, rtol=1e-3)


def test_closed_form_limits_by_hand():
    priors = np.array([[[0.5, 0.3, 0.2]], [[0.2, 0.2, 0.6]]])
    adv = np.array([[0.0, 1.0, 0.5]])
    mix = np.sqrt(priors[0, 0] * priors[1, 0])
    assert np.allclose(closed_form_policy(priors, adv, 1e9)[0], mix / mix.sum(), atol=1e-8)
    assert np.allclose(closed_form_policy(priors, adv, 1e-4)[0], [0.0, 1.0, 0.0], atol=1e-8)
    # one signal, lambda = 1: pi ∝ prior * exp(A)
    want = priors[0, 0] * np.exp(adv[0])
    assert np.allclose(closed_form_policy(priors[:1], adv, 1.0)[0], want / want.sum())


def test_closed_form_bad_inputs_name_the_argument():
    priors = np.full((2, 1, 3), 1 / 3)
    with pytest.raises(ParameterError, match=r"lambdas\[1\]"):
        closed_form_policy(priors, np.zeros((1, 3)), [1.0, -0.5])
    with pytest.raises(ParameterError, match="sum"):
        closed_form_policy(priors, np.zeros((1, 3)), [0.0, 0.0])
    with pytest.raises(ShapeError, match="advantage"):
        closed_form_policy(priors, np.zeros((2, 3)), 1.0)


# --------------------------------------------------------------------------------------- stage two
def test_stage_two_first_iterate_is_the_lemma_at_the_mixture(sv):
    m, C = sv.model, sv.aux_rewards
    priors = stage_one_policies(m, C, "npg", iterations=5)
    lam = 3.0
    mix = np.exp(np.log(priors).mean(0))
    mix /= mix.sum(-1, keepdims=True)
    P = m.dense_P()
    V = np.linalg.solve(np.eye(m.S) - m.gamma * np.einsum("sat,sa->st", P, mix), (m.R * mix).sum(-1))
    Q = m.R + m.gamma * np.einsum("sat,t->sa", P, V)
    logits = np.log(priors).mean(0) + (Q - V[:, None]) / (3 * lam)
    want = np.exp(logits - logits.max(-1, keepdims=True))
    want /= want.sum(-1, keepdims=True)
    got = stage_two(m, priors, lam, max_iter=1, warn=False).policy
    assert np.allclose(got, want, atol=1e-12)


def test_stage_two_converges_to_a_fixed_point_of_the_lemma(sv):
    m, C = sv.model, sv.aux_rewards
    priors = stage_one_policies(m, C, "soft", quality=0.9)
    for lam in (0.05, 1.0, 30.0):
        r = stage_two(m, priors, lam)
        assert r.converged and not convention_violations(r, tol=1e-8)
        P = m.dense_P()
        pi = r.policy
        V = np.linalg.solve(np.eye(m.S) - m.gamma * np.einsum("sat,sa->st", P, pi), (m.R * pi).sum(-1))
        Q = m.R + m.gamma * np.einsum("sat,t->sa", P, V)
        assert np.max(np.abs(closed_form_policy(priors, Q - V[:, None], lam) - pi)) <= 1e-8


def test_soft_stage_one_hits_the_requested_quality(sv):
    m, C = sv.model, sv.aux_rewards
    pri = stage_one_policies(m, C, "soft", quality=0.9)
    for i in range(len(C)):
        best = float(m.mu @ value_iteration(m.with_rewards(C[i]), tol=1e-12).V)
        assert abs(_exact_J(m, C[i], pri[i]) / best - 0.9) < 1e-6
    with pytest.raises(ParameterError, match="quality"):
        stage_one_policies(m, C, "soft", quality=0.01)


# ----------------------------------------------------------------------------------- LP reference
def test_lp_infeasible_reports_largest_achievable_values(sv):
    m, C = sv.model, sv.aux_rewards
    best = np.array([float(m.mu @ value_iteration(m.with_rewards(c), tol=1e-12).V) for c in C])
    with pytest.raises(InfeasibleConstraintsError, match=r"aux_rewards\[1\]: threshold") as e:
        solve_occupancy_lp(m, C, best * np.array([0.5, 2.0, 0.5]))
    assert np.allclose(e.value.max_values, best, rtol=1e-8)
    with pytest.raises(NotFiniteError, match=r"aux_rewards\[0, 2, 1\]"):
        bad = C.copy()
        bad[0, 2, 1] = np.nan
        solve_occupancy_lp(m, bad, best * 0.5)


def test_thresholds_between_endpoints(sv):
    m, C = sv.model, sv.aux_rewards
    greedy = value_iteration(m, tol=1e-12).policy
    J_main = np.array([_exact_J(m, c, greedy) for c in C])
    best = np.array([float(m.mu @ value_iteration(m.with_rewards(c), tol=1e-12).V) for c in C])
    assert np.allclose(thresholds_between(m, C, 0.0), J_main, rtol=1e-9)
    assert np.allclose(thresholds_between(m, C, 1.0), best, rtol=1e-8)
    assert np.allclose(thresholds_between(m, C, 0.5), 0.5 * (J_main + best), rtol=1e-8)
    with pytest.raises(ParameterError, match=r"beta\[0\]"):
        thresholds_between(m, C, 1.5)


# ------------------------------------------------------------------------------------- Lagrangian
def test_lagrangian_averaged_reaches_lp_and_last_iterate_is_deterministic(sv):
    m, C = sv.model, sv.aux_rewards
    t = thresholds_between(m, C, 0.5)
    lp = solve_occupancy_lp(m, C, t)
    r = lagrangian(m, C, t, seed=0, iterations=5000, step_size=10.0, tol=1e-3, history=True)
    assert not convention_violations(r, tol=1e-3)
    assert abs(r.value / lp.value - 1) < 5e-3
    assert np.all(r.slacks / t > -5e-3)
    assert r.dual_bound >= lp.value - 1e-6 * abs(lp.value)        # weak duality
    assert set(np.unique(r.last_policy)) <= {0.0, 1.0}
    assert np.isclose(r.value, _exact_J(m, m.R, r.policy), rtol=1e-9)  # averaged occupancy = averaged values
    assert r.history["slacks"].shape == (r.iterations, len(C))


def test_lagrangian_first_iterates_follow_the_projected_dual_step(sv):
    m, C = sv.model, sv.aux_rewards
    t = thresholds_between(m, C, 0.5)
    with pytest.warns(NotConvergedWarning):
        r = lagrangian(m, C, t, iterations=2, step_size=2.0, tol=1e-12, history=True, dual_step="sqrt")
    greedy = value_iteration(m, tol=1e-12).policy          # lambda_1 = 0: the main-only best response
    J1 = np.array([_exact_J(m, c, greedy) for c in C])
    span = lambda r_: (r_.max() - r_.min()) / (1 - m.gamma)  # noqa: E731
    eta = 2.0 * span(m.R) / np.array([span(c) ** 2 for c in C])
    lam2 = np.maximum(0.0, 0.0 - eta * (J1 - t))
    assert np.allclose(r.history["last_slacks"][0], J1 - t, rtol=1e-9)
    assert np.allclose(r.history["multipliers"][1], lam2, rtol=1e-12)


def test_lagrangian_first_cutting_plane_step_goes_to_the_box_corner(sv):
    """One cut J_0 + lambda (J(pi_1) - C) is minimised over the box 0 <= lambda_i <= 1e6 sigma_0 / sigma_i at
    lambda_i = box_i where constraint i is violated by pi_1, else 0."""
    m, C = sv.model, sv.aux_rewards
    t = thresholds_between(m, C, 0.5)
    with pytest.warns(NotConvergedWarning):
        r = lagrangian(m, C, t, iterations=2, tol=1e-12, history=True)
    greedy = value_iteration(m, tol=1e-12).policy
    J1 = np.array([_exact_J(m, c, greedy) for c in C])
    span = lambda r_: (r_.max() - r_.min()) / (1 - m.gamma)  # noqa: E731
    box = 1e6 * span(m.R) / np.array([span(c) for c in C])
    assert np.allclose(r.history["multipliers"][1], np.where(J1 < t, box, 0.0), rtol=1e-9)


@pytest.mark.parametrize("seed, beta", [(0, 0.5), (1, 0.8), (3, 0.8), (4, 0.8), (5, 0.5)])
def test_lagrangian_defaults_converge_to_the_lp_on_small_three_constraint_instances(seed, beta):
    """Short-video CMDPs with 10 states, 3 constraints, gamma = 0.95: the default budget reaches the exact
    occupancy LP's value (0.1%), feasibility (0.1% of each threshold), and its dual bound the LP value."""
    sv_ = short_video_cmdp(Z=3, F=3, K=4, seed=seed)
    m, C = sv_.model, sv_.aux_rewards
    t = thresholds_between(m, C, beta)
    lp = solve_occupancy_lp(m, C, t)
    with warnings.catch_warnings():
        warnings.simplefilter("error", NotConvergedWarning)
        r = lagrangian(m, C, t)
    assert r.converged
    assert abs(r.value / lp.value - 1) <= 1e-3
    assert np.all(r.slacks / t >= -1e-3)
    assert r.dual_bound >= lp.value - 1e-6 * abs(lp.value)
    assert np.isclose(r.value, _exact_J(m, m.R, r.policy), rtol=1e-9)
    for i, c in enumerate(C):
        assert np.isclose(r.constraint_values[i], _exact_J(m, c, r.policy), rtol=1e-9)
    assert r.dual_bound <= lp.value + 1e-3 * abs(lp.value)        # the dual side reached the LP too


def test_lagrangian_rejects_an_unknown_dual_step(sv):
    with pytest.raises(ParameterError, match="dual_step"):
        lagrangian(sv.model, sv.aux_rewards, thresholds_between(sv.model, sv.aux_rewards, 0.5), dual_step="adam")


# ------------------------------------------------------------------------------------------ TSCAC
def test_tscac_feasible_point_is_dominated_by_lp_and_values_are_exact(sv):
    m, C = sv.model, sv.aux_rewards
    t = thresholds_between(m, C, 0.25)
    lp = solve_occupancy_lp(m, C, t)
    r = two_stage_actor_critic(m, C, t, stage_one="soft", quality=0.99)
    assert r.feasible and r.policy.shape == (m.S, m.A)
    assert r.value <= lp.value + 1e-6 * abs(lp.value)
    assert np.isclose(r.value, _exact_J(m, m.R, r.policy), rtol=1e-9)
    for i, c in enumerate(C):
        assert np.isclose(r.constraint_values[i], _exact_J(m, c, r.policy), rtol=1e-9)
        assert r.constraint_values[i] >= t[i] * (1 - 1e-9)
    assert not convention_violations(r)
    assert r.search["feasible"].any() and r.oracle_calls == len(r.search)


def test_tscac_says_plainly_when_no_lambda_is_feasible(sv):
    m, C = sv.model, sv.aux_rewards
    t = thresholds_between(m, C, 0.9)
    poor = np.full((len(C), m.S, m.A), 1.0 / m.A)                 # uniform priors cannot reach 90% of the way
    with pytest.warns(NoFeasibleLambdaWarning, match="no lambda"):
        r = two_stage_actor_critic(m, C, t, priors=poor)
    assert not r.feasible and not r.search["feasible"].any()
    assert "no lambda" in r.message


def test_unreachable_thresholds_are_refused_before_any_work(sv):
    m, C = sv.model, sv.aux_rewards
    best = np.array([float(m.mu @ value_iteration(m.with_rewards(c), tol=1e-12).V) for c in C])
    t = best * np.array([0.5, 0.5, 1.5])
    for solver in (lagrangian, two_stage_actor_critic):
        with pytest.raises(InfeasibleConstraintsError, match=r"thresholds\[2\] = .* exceeds") as e:
            solver(m, C, t)
        assert np.allclose(e.value.max_values, best, rtol=1e-8)


def test_bad_cmdp_inputs_name_the_value(sv):
    m, C = sv.model, sv.aux_rewards
    t = thresholds_between(m, C, 0.5)
    with pytest.raises(ShapeError, match="aux_rewards has shape"):
        lagrangian(m, C[:, :, :2], t)
    with pytest.raises(ShapeError, match="thresholds has shape"):
        two_stage_actor_critic(m, C, t[:2])
    bad = C.copy()
    bad[1, 0, 0] = np.nan
    with pytest.raises(NotFiniteError, match=r"aux_rewards\[1, 0, 0\]"):
        lagrangian(m, bad, t)
    with pytest.raises(ParameterError, match=r"lambda0\[0\]"):
        lagrangian(m, C, t, lambda0=[-1.0, 0.0, 0.0])
    with pytest.raises(ParameterError, match=r"lambdas\[0\]"):
        two_stage_actor_critic(m, C, t, lambdas=[-1.0])
    with pytest.raises(ModelError, match="main signal"):
        lagrangian(m.with_rewards(np.stack([m.R, m.R], -1)), C, t)
    assert lagrangian(m, C, np.asarray(t, dtype=np.float32), iterations=np.int64(2), tol=np.float32(1.0)).iterations


def test_lagrangian_warns_when_budget_runs_out(sv):
    m, C = sv.model, sv.aux_rewards
    with pytest.warns(NotConvergedWarning):
        r = lagrangian(m, C, thresholds_between(m, C, 0.5), iterations=3, tol=1e-9)
    assert r.converged is False


# ------------------------------------------------------------------------------------- sample-based
def test_sampled_stages_are_seeded_and_improve_on_uniform(sv):
    m, C = sv.model, sv.aux_rewards
    a = sampled_stage_one(m, C[:1], seeds=2, seed=5, iterations=40, envs=16, horizon=20, actor_lr=10.0)
    b = sampled_stage_one(m, C[:1], seeds=2, seed=5, iterations=40, envs=16, horizon=20, actor_lr=10.0)
    assert np.array_equal(a.policy, b.policy) and a.policy.shape == (2, 1, m.S, m.A)
    uniform = _exact_J(m, C[0], np.full((m.S, m.A), 1 / m.A))
    assert all(_exact_J(m, C[0], a.policy[j, 0]) > uniform for j in range(2))
    s2 = sampled_stage_two(m, a.policy, 1.0, seeds=2, seed=1, iterations=40, envs=16, horizon=20, actor_lr=10.0)
    assert s2.policy.shape == (2, m.S, m.A) and not convention_violations(s2)
    mix = a.policy[:, 0]                   # one signal: the mixture is the stage-one policy itself
    assert all(signal_values(m, C, s2.policy[j])[0] > _exact_J(m, m.R, mix[j]) for j in range(2))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match="lam"):
            sampled_stage_two(m, a.policy, -1.0, seeds=2)


def test_stage_two_damping_breaks_the_small_lambda_cycle():
    # on this instance the undamped map pi <- Lemma(A^pi) cycles with period 2 at lambda = 0.05
    big = short_video_cmdp(seed=2)
    m, C = big.model, big.aux_rewards
    priors = stage_one_policies(m, C, "soft", quality=0.99)
    r = stage_two(m, priors, 0.05, history=True)
    assert r.converged and r.residual <= 1e-8
    assert r.history[:10].min() > 1e-3          # the first (undamped) updates do not contract


@pytest.mark.gpu
def test_sampled_stages_run_on_cuda_and_match_cpu_in_distribution(sv):
    # CUDA and CPU generators draw different streams: compare the learned stage-one quality, not bits
    m, C = sv.model, sv.aux_rewards
    kw = dict(seeds=8, seed=0, iterations=60, envs=32, horizon=20, actor_lr=10.0)
    cpu = sampled_stage_one(m, C[:1], device="cpu", **kw)
    gpu = sampled_stage_one(m, C[:1], device=GPU, **kw)
    q_cpu = np.mean([_exact_J(m, C[0], p[0]) for p in cpu.policy])
    q_gpu = np.mean([_exact_J(m, C[0], p[0]) for p in gpu.policy])
    assert abs(q_cpu - q_gpu) < 0.05 * q_cpu


# ------------------------------------------------------------------------------------------- tempered stage-one prior
def _npg_logits_by_hand(m, c, iterations, eta=10.0):
    """The exact actor-critic's logits written out: theta += eta (Q - V) / sigma, sigma = span(c) / (1 - gamma),
    with a dense linear solve for V^pi (independent of mdp.planning)."""
    P = m.dense_P()
    sigma = (c.max() - c.min()) / (1 - m.gamma)
    theta = np.zeros((m.S, m.A))
    for _ in range(iterations):
        pi = np.exp(theta - theta.max(1, keepdims=True))
        pi /= pi.sum(1, keepdims=True)
        V = np.linalg.solve(np.eye(m.S) - m.gamma * np.einsum("sat,sa->st", P, pi), (c * pi).sum(1))
        Q = c + m.gamma * P @ V
        theta = theta + eta * (Q - V[:, None]) / sigma
    return theta


@pytest.mark.parametrize("tau,eps", [(1.0, 0.0), (3.0, 0.0), (2.5, 0.2)])
def test_tempered_prior_is_the_softmax_of_the_actor_logits_mixed_with_uniform(sv, tau, eps):
    m, C = sv.model, sv.aux_rewards
    pri = stage_one_policies(m, C, "npg", iterations=7, temperature=tau, spread=eps)
    for i, c in enumerate(C):
        z = _npg_logits_by_hand(m, c, 7) / tau
        soft = np.exp(z - z.max(1, keepdims=True))
        soft /= soft.sum(1, keepdims=True)
        np.testing.assert_allclose(pri[i], (1 - eps) * soft + eps / m.A, rtol=0, atol=1e-12)


def test_tscac_reports_its_prior_temperature_and_uses_the_tempered_prior(sv):
    m, C = sv.model, sv.aux_rewards
    t = thresholds_between(m, C, 0.25)
    r = two_stage_actor_critic(m, C, t, prior_temperature=2.0, prior_spread=0.05)
    assert r.prior_temperature == 2.0 and r.prior_spread == 0.05
    hand = []
    for c in C:
        z = _npg_logits_by_hand(m, c, 50) / 2.0
        p = np.exp(z - z.max(1, keepdims=True))
        hand.append(0.95 * p / p.sum(1, keepdims=True) + 0.05 / m.A)
    np.testing.assert_allclose(r.priors, np.stack(hand), atol=1e-10)
    d = two_stage_actor_critic(m, C, t)
    assert d.prior_temperature == DEFAULT_PRIOR_TEMPERATURE and d.prior_spread == DEFAULT_PRIOR_SPREAD
    s = two_stage_actor_critic(m, C, t, stage_one="soft", quality=0.99)
    assert s.prior_temperature is None and s.prior_spread is None
    with pytest.raises(ParameterError, match="prior_temperature"):
        two_stage_actor_critic(m, C, t, prior_temperature=0.0)


def test_default_prior_is_feasible_where_the_hand_spread_prior_is_not(sv):
    """The evidence behind the default (benchmarks/bench_constrained.py --priors), on one instance: a fixed
    30% spread of the actor's prior (the released code's kind of choice) leaves no feasible lambda at beta = 0.5,
    the default prior gives a feasible policy within 2% of the exact LP optimum."""
    m, C = sv.model, sv.aux_rewards
    t = thresholds_between(m, C, 0.5)
    lp = solve_occupancy_lp(m, C, t)
    d = two_stage_actor_critic(m, C, t)
    assert d.feasible and d.value >= 0.98 * lp.value and np.all(_exact_ratio(m, C, t, d.policy) >= 1 - 1e-9)
    with pytest.warns(NoFeasibleLambdaWarning):
        s = two_stage_actor_critic(m, C, t, prior_spread=0.3)
    assert not s.feasible


def _exact_ratio(m, C, t, pi):
    return np.array([_exact_J(m, c, pi) / ti for c, ti in zip(C, t)])


def test_tscac_names_stage_one_when_it_is_unknown(sv):
    m, C = sv.model, sv.aux_rewards
    with pytest.raises(ParameterError, match=r"stage_one must be .*'bogus'"):
        two_stage_actor_critic(m, C, thresholds_between(m, C, 0.25), stage_one="bogus")


@pytest.mark.parametrize("dual_step", ["cutting_plane", "sqrt"])
def test_lagrangian_stepping_by_hand_equals_the_function_and_the_callback_sees_each_step(sv, dual_step):
    m, C = sv.model, sv.aux_rewards
    t = thresholds_between(m, C, 0.5)
    seen = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotConvergedWarning)
        r = lagrangian(m, C, t, iterations=6, seed=2, history=True, dual_step=dual_step,
                       callback=lambda s: seen.append((s.iteration, s.multipliers.copy(), s.residual)))
    solver = LagrangianSolver(m, C, t, seed=2, history=True, dual_step=dual_step)
    for _ in range(r.iterations):
        solver.step()
    h = solver.result()
    for f in ("policy", "value", "slacks", "last_policy", "multipliers", "dual_bound", "residual", "converged",
              "iterations"):
        np.testing.assert_array_equal(getattr(h, f), getattr(r, f))
    assert [i for i, _, _ in seen] == list(range(1, r.iterations + 1))
    for i, lam, _ in seen:     # after step i the callback sees lambda_{i+1}, the next best response's multipliers
        if i < r.iterations:
            np.testing.assert_array_equal(lam, r.history["multipliers"][i])


def test_lagrangian_keeps_the_multipliers_of_the_converged_step(sv):
    """A step whose residual meets tol ends the run without a dual update: the reported multipliers are the
    ones its best response answered (lambda0 here: residual <= 1 holds at the first step)."""
    m, C = sv.model, sv.aux_rewards
    lam0 = np.array([0.5, 0.25, 2.0])[:C.shape[0]]
    r = lagrangian(m, C, thresholds_between(m, C, 0.5), tol=1e9, lambda0=lam0, dual_step="sqrt")
    assert r.iterations == 1 and r.converged
    np.testing.assert_array_equal(r.multipliers, lam0)
