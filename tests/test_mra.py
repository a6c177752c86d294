"""Congestion family, latent-weight fits and the MRA trainer against independent computations."""
import itertools
import warnings

import numpy as np
import pytest
import torch
from scipy import optimize, stats

from games.population import mra
from games.population.congestion import best_latent_weights, congestion_family, share
from theory.validation import ParameterError, ShapeError
from gpu_device import GPU

FAM = congestion_family((1, 2, 4))


def binomial_payoffs(values, n, x):
    """u_k = v_k E[1/(1+B)], B ~ Bin(n-1, x_k), summed over the pmf (independent of the closed form)."""
    b = np.arange(n)
    return np.array([v * np.sum(stats.binom.pmf(b, n - 1, p) / (1 + b)) for v, p in zip(values, x)])


def support_enumeration(values, n):
    """All symmetric equilibria by support enumeration with scipy root finding on the binomial payoffs."""
    K = len(values)
    found = []
    for size in range(1, K + 1):
        for S in itertools.combinations(range(K), size):
            def eqs(y):
                x = np.zeros(K)
                x[list(S)] = y
                u = binomial_payoffs(values, n, np.clip(x, 0, 1))[list(S)]
                return np.append(u[1:] - u[0], y.sum() - 1)[:size] if size > 1 else [y.sum() - 1]
            with np.errstate(all="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                y = optimize.fsolve(eqs, np.full(size, 1 / size), xtol=1e-13) if size > 1 else np.ones(1)
            x = np.zeros(K)
            x[list(S)] = y
            if (x < -1e-9).any() or abs(x.sum() - 1) > 1e-9:
                continue
            u = binomial_payoffs(values, n, np.clip(x, 0, 1))
            if u.max() - x @ u <= 1e-9:
                found.append(x)
    return found


@pytest.mark.parametrize("values", [(1, 2, 4), (3, 1, 2.5, 0.5)])
@pytest.mark.parametrize("n", [2, 3, 5, 9, 12])
def test_equilibrium_matches_support_enumeration(values, n):
    fam = congestion_family(values)
    eq = fam.equilibrium(n)
    ref = support_enumeration(values, n)
    assert ref, "the independent solver found no equilibrium"
    assert min(np.abs(r - eq.mixture).max() for r in ref) < 1e-7
    assert eq.converged and eq.residual < 1e-10 and eq.error_bound is None


def test_equilibria_match_replicator_reference_table():
    ref = {2: (0, 0, 1), 3: (0, .193, .807), 4: (0, .260, .740), 6: (.011, .304, .685), 9: (.085, .296, .619),
           12: (.114, .292, .594)}
    for n, x in ref.items():
        assert np.abs(FAM.equilibrium(n).mixture - np.array(x)).max() <= 1e-3


def test_nash_conv_against_pure_profile_enumeration():
    rng = np.random.default_rng(0)
    n, K, v = 4, 3, np.array([1.0, 2.0, 4.0])
    for x in rng.dirichlet(np.ones(K), 5):
        # agent 0 deviates to k; the others' pure profiles enumerated with product probabilities
        dev = np.zeros(K)
        for prof in itertools.product(range(K), repeat=n - 1):
            pr = np.prod([x[a] for a in prof])
            for k in range(K):
                dev[k] += pr * v[k] / (1 + sum(a == k for a in prof))
        want = n * (dev.max() - x @ dev)
        assert FAM.nash_conv(n, x) == pytest.approx(want, rel=1e-12, abs=1e-13)


def test_nash_conv_vectorised_matches_binomial_and_torch():
    rng = np.random.default_rng(1)
    X = rng.dirichlet(np.ones(3) * 0.5, 10_000)
    X[:5] = np.eye(3)[[0, 1, 2, 0, 1]]
    nc = FAM.nash_conv(7, X)
    assert nc.shape == (10_000,)
    for i in [0, 1, 2, 17, 999, 9999]:
        u = binomial_payoffs((1, 2, 4), 7, X[i])
        assert nc[i] == pytest.approx(7 * (u.max() - X[i] @ u), rel=1e-10, abs=1e-12)
    t = FAM.nash_conv(7, torch.tensor(X))
    np.testing.assert_allclose(t.numpy(), nc, rtol=1e-12, atol=1e-14)
    assert share(5, np.array([0.0, 1.0])).tolist() == pytest.approx([1.0, 0.2])


def test_best_latent_weights_two_modes_against_grid():
    M = np.array([[0, 0, 1.0], [.5, .5, 0]])
    q = np.linspace(0, 1, 20_001)[:, None]
    W = np.hstack([1 - q, q])
    for n, ref in [(3, .33), (6, .77), (12, .97)]:
        brute = FAM.nash_conv(n, W @ M).min()
        fit = best_latent_weights(FAM, n, M)
        assert not fit.exact
        assert brute - 1e-3 <= fit.residual <= brute + 1e-8  # the grid misses the kink by < 1e-3
        assert fit.residual == pytest.approx(ref, abs=0.01)
    for n in [2, 9, 12]:
        fit = best_latent_weights(FAM, n, np.eye(3))  # Theorem 1: one-hot modes contain every equilibrium
        assert fit.exact and fit.residual < 1e-10


def _uniform_model(modes):
    S, Z, K = modes.shape
    enc = (np.zeros((S, 4)), np.zeros((S, 4)), np.zeros((S, Z, 4)), np.zeros((S, Z)))
    return mra.MRAModel(FAM, (2, 3), Z, modes, enc, np.zeros((S, Z, 2)))


def _project_by_bisection(y):
    lo, hi = y.min() - 1, y.max()
    for _ in range(200):
        tau = (lo + hi) / 2
        lo, hi = (tau, hi) if np.maximum(y - tau, 0).sum() > 1 else (lo, tau)
    return np.maximum(y - (lo + hi) / 2, 0)


def test_adaptation_first_iterates_follow_projected_payoff_gradient():
    modes = np.array([[[0.7, 0.2, 0.1], [0, 0, 1], [0.2, 0.6, 0.2]]])
    m = _uniform_model(modes)
    lr, n = 0.3, 12
    w = np.full(3, 1 / 3)
    path = m.adapt_path(n, 3, lr=lr)
    for k in range(4):
        x = w @ modes[0]
        np.testing.assert_allclose(path.weights[k, 0], w, atol=1e-12)
        np.testing.assert_allclose(path.mixtures[k, 0], x, atol=1e-12)
        u = binomial_payoffs((1, 2, 4), n, x)
        assert path.nash_conv[k, 0] == pytest.approx(n * (u.max() - x @ u), rel=1e-10)
        w = _project_by_bisection(w + lr * modes[0] @ u)
    np.testing.assert_allclose(m.adapt(n, 3, lr=lr), path.mixtures[-1, 0])


def test_first_training_step_moves_modes_along_the_payoff_gradient():
    pops = (2, 3, 6)
    m0 = mra.train(pops, 3, seed=4, steps=0)
    m1 = mra.train(pops, 3, seed=4, steps=1, lr=0.01, mi_weight=0.0, id_weight=0.0, exact=True)
    pi = m0.modes[0]
    theta0 = np.log(pi)
    x = pi.mean(0)  # the encoder starts at a uniform p(z | n)
    grad = np.zeros_like(pi)  # d/dtheta of sum_n x_n . u_n(x_n) with u held fixed (each agent's own gradient)
    for n in pops:
        u = binomial_payoffs((1, 2, 4), n, x)
        grad += pi * (u[None, :] - (pi @ u)[:, None]) / 3
    theta1 = theta0 + 0.01 * np.sign(grad)  # Adam's first step is lr * sign(gradient)
    want = np.exp(theta1) / np.exp(theta1).sum(1, keepdims=True)
    np.testing.assert_allclose(m1.modes[0], want, atol=1e-7)


def test_latent_sets_reach_near_zero_held_out_where_unimodal_cannot():
    kw = dict(seeds=8, steps=800, episodes=4, exact=True)
    big = mra.train([2, 3, 4, 6], 6, seed=0, mi_weight=2.0, **kw)
    uni = mra.train([2, 3, 4, 6], 1, seed=0, **kw)
    for n in (9, 12):
        assert np.mean(FAM.nash_conv(n, big.adapt(n, 100))) <= 0.05
        assert np.min(FAM.nash_conv(n, uni.adapt(n, 100))) >= 1.0


def test_training_is_reproducible_and_sampled_estimator_runs():
    a = mra.train([2, 5], 2, seed=3, seeds=2, steps=20, exact=False)
    b = mra.train(np.array([5, 2]), np.int64(2), seed=3, seeds=2, steps=20, exact=False)
    np.testing.assert_array_equal(a.modes, b.modes)
    assert a.env_steps == 20 * 2 * 32 * 2
    assert a.adapt(np.int64(7), 2).shape == (2, 3)


@pytest.mark.parametrize("pops", [[], [2, 2.5], "abc", [0, 3], [3, 3], [[2, 3]], [True, 2]])
def test_bad_populations(pops):
    with pytest.raises(ParameterError, match="train_populations"):
        mra.train(pops, 2, steps=1)


def test_bad_latent_size_and_adaptation_population():
    with pytest.raises(ParameterError, match="latent_size"):
        mra.train([2, 3], 0, steps=1)
    with pytest.raises(ParameterError, match="latent_size"):
        mra.train([2, 3], 1.5, steps=1)
    m = mra.train([2, 3], 2, steps=1)
    with pytest.raises(ParameterError, match="n must be >= 1"):
        m.adapt(0, 3)
    with pytest.raises(ParameterError, match="steps"):
        m.adapt(4, -1)


def test_bad_family_inputs():
    with pytest.raises(ParameterError, match=r"values\[1\]"):
        congestion_family((1, -2, 3))
    with pytest.raises(ShapeError, match="last axis"):
        FAM.nash_conv(3, np.ones(4) / 4)
    with pytest.raises(ParameterError, match="n"):
        FAM.equilibrium(2.5)


@pytest.mark.gpu
def test_cuda_matches_cpu_with_the_exact_gradient():
    # with exact=True and no MI bonus the sampled actions do not enter the loss: the runs are deterministic
    kw = dict(seed=2, seeds=4, steps=50, exact=True, mi_weight=0.0)
    cpu = mra.train([2, 3, 6], 3, device="cpu", **kw)
    gpu = mra.train([2, 3, 6], 3, device=GPU, **kw)
    np.testing.assert_allclose(gpu.modes, cpu.modes, atol=1e-9)
    np.testing.assert_allclose(gpu.adapt(9, 20), cpu.adapt(9, 20), atol=1e-9)
