"""Robust MDP oracles against cvxpy; robust VI/IWOCS reductions and certificates."""
import warnings

import numpy as np
import pytest

from mdp import TabularMDP, policy_evaluation, value_iteration
from mdp.envs.windy_walk import windy_walk
from mdp.robust.instances import windy_walk_set
from mdp.generators import garnet
from mdp.model import NotStochasticError
from theory.results import NotConvergedWarning
from mdp.robust import (FiniteModelSet, KLBall, L1Ball, LinfBall, WassersteinBall, iwocs,
                        robust_policy_evaluation, robust_value_iteration, static_worst_case)
from gpu_device import GPU

S = 7


@pytest.fixture(scope="module")
def model():
    return garnet(S, 3, S, 0.9, seed=4, dirichlet=0.5)


def _cvxpy_min(q, v, kind, r, d=None):
    import cvxpy as cp

    p = cp.Variable(q.size, nonneg=True)
    cons = [cp.sum(p) == 1]
    if kind == "l1":
        cons.append(cp.norm1(p - q) <= r)
    elif kind == "linf":
        cons.append(cp.norm_inf(p - q) <= r)
    elif kind == "kl":
        cons.append(cp.sum(cp.kl_div(p, q)) <= r)
    else:
        G = cp.Variable((q.size, q.size), nonneg=True)
        cons += [cp.sum(G, 1) == q, cp.sum(G, 0) == p, cp.sum(cp.multiply(G, d)) <= r]
    cp.Problem(cp.Minimize(p @ v), cons).solve(solver="CLARABEL")
    return float(p.value @ v)


@pytest.mark.parametrize("kind, cls, radius", [("l1", L1Ball, 0.4), ("l1", L1Ball, 1.5), ("linf", LinfBall, 0.1),
                                               ("kl", KLBall, 0.05), ("kl", KLBall, 3.0),
                                               ("w", WassersteinBall, 0.7)])
def test_oracles_match_cvxpy(model, kind, cls, radius):
    P = model.dense_P()
    V = np.random.default_rng(2).normal(size=S)
    U = cls(P, radius)
    vals, kern = U.worst_case(V)
    np.testing.assert_allclose(kern.sum(-1), 1.0, atol=1e-12)
    assert kern.min() >= 0
    d = np.abs(np.arange(S)[:, None] - np.arange(S)[None, :]).astype(float)
    for s in range(S):
        for a in range(3):
            assert abs(vals[s, a] - _cvxpy_min(P[s, a], V, kind, radius, d)) < 1e-6


def test_zero_radius_and_single_model_reduce_to_value_iteration(model):
    vi = value_iteration(model, tol=1e-10)
    for U in (L1Ball(model.P, 0.0), KLBall(model.P, 0.0), FiniteModelSet([model.P])):
        np.testing.assert_allclose(robust_value_iteration(model, U, tol=1e-10).V, vi.V, atol=1e-8)
    r = iwocs(model, FiniteModelSet([model.P]), eps=1e-9)
    assert r.converged and r.iterations == 1
    assert abs(r.value - model.mu @ vi.V) < 1e-8


@pytest.mark.parametrize("cls, radius", [(L1Ball, 0.5), (KLBall, 0.1), (LinfBall, 0.1)])
def test_iwocs_bracket_contains_robust_value(model, cls, radius):
    U = cls(model.P, radius)
    rvi = robust_value_iteration(model, U, tol=1e-10)
    r = iwocs(model, U, eps=1e-7, history=True)
    assert r.converged
    for h in r.history:  # the sandwich holds at every iteration
        assert h["lower"] <= rvi.value + 1e-7 and rvi.value <= h["upper"] + 1e-7
    ups = [h["upper"] for h in r.history]
    assert all(b <= a + 1e-12 for a, b in zip(ups, ups[1:]))


def test_static_worst_case_equals_dynamic_for_rectangular(model):
    U = L1Ball(model.P, 0.5)
    pi = np.full((S, 3), 1 / 3)
    dyn = robust_policy_evaluation(model, U, pi, tol=1e-12).value
    stat = static_worst_case(model, U, pi, tol=1e-12).value
    assert abs(dyn - stat) < 1e-8
    # and no other static vertex model does worse: random vertices
    rng = np.random.default_rng(0)
    for _ in range(20):
        _, T2 = U.worst_case(rng.normal(size=S))
        assert model.mu @ policy_evaluation(TabularMDP(T2, model.R, model.gamma, model.mu), pi) >= stat - 1e-9


def test_windy_walk_iwocs_matches_static_min_in_two_iterations():
    m = windy_walk(0.0)
    U = windy_walk_set()
    r = iwocs(m, U, eps=1e-6)
    # independent reference: the best response of each static model, minimised over the grid
    from mdp import policy_iteration

    ref = min(m.mu @ policy_iteration(TabularMDP(T, m.R, m.gamma, m.mu)).V for T in U.models)
    assert r.converged and r.iterations <= 2
    assert abs(r.value - ref) < 1e-8
    r2 = iwocs(m, U, eps=1e-6, search="cmaes", seed=0)
    assert r2.upper >= ref - 1e-9


def test_bad_inputs(model):
    with pytest.raises(ValueError, match="radius"):
        L1Ball(model.P, -0.1)
    bad = model.dense_P().copy()
    bad[0, 0, 0] += 0.1
    with pytest.raises(NotStochasticError, match=r"P\[0, 0, :\] sums to"):
        KLBall(bad, 0.1)
    with pytest.raises(ValueError, match="empty"):
        FiniteModelSet([])
    with pytest.raises(ValueError, match=r"models\[1\] has shape"):
        FiniteModelSet([model.P, model.P[:, :2]])
    with pytest.raises(ValueError, match="eps"):
        iwocs(model, L1Ball(model.P, 0.1), eps=0)
    with pytest.raises(ValueError, match="search must be"):
        iwocs(model, L1Ball(model.P, 0.1), search="magic")
    with pytest.warns(NotConvergedWarning, match="iwocs did not converge"):
        r = iwocs(model, L1Ball(model.P, 0.5), eps=1e-9, max_iterations=1)
    assert not r.converged


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_wasserstein_oracle_general_metric_matches_lp(seed):
    """Euclidean ground metric between random points (rounded in one case, so envelope ties occur) and
    rounded values: the exact envelope oracle against the transport LP solved by cvxpy."""
    import cvxpy as cp

    rng = np.random.default_rng(seed)
    n = 6
    P = rng.dirichlet(np.full(n, 0.5), size=(n, 2))
    X = rng.normal(size=(n, 2))
    d = np.linalg.norm(X[:, None] - X[None], axis=-1)
    if seed == 1:
        d = np.round(d)
        np.fill_diagonal(d, 0.0)
    V = rng.normal(size=n) if seed != 2 else np.round(rng.normal(size=n))
    for radius in (0.0, 0.2, 0.8, 5.0):
        vals, kern = WassersteinBall(P, radius, metric=d).worst_case(V)
        np.testing.assert_allclose(kern.sum(-1), 1.0, atol=1e-12)
        for s in range(n):
            for a in range(2):
                G = cp.Variable((n, n), nonneg=True)
                prob = cp.Problem(cp.Minimize(cp.sum(G, 0) @ V),
                                  [cp.sum(G, 1) == P[s, a], cp.sum(cp.multiply(G, d)) <= radius])
                prob.solve(solver="CLARABEL")
                assert abs(prob.value - vals[s, a]) < 1e-6
                assert abs(kern[s, a] @ V - vals[s, a]) < 1e-12


def test_adversary_policy_iteration_certificate(model):
    """The static worst case found by adversary PI brackets the robust policy value computed by robust
    policy evaluation (value iteration to 1e-12), for each ball type."""
    from mdp.robust import adversary_policy_iteration

    pi = np.random.default_rng(3).dirichlet(np.ones(3), size=S)
    for U in (L1Ball(model.P, 0.5), KLBall(model.P, 0.2), WassersteinBall(model.P, 0.7), LinfBall(model.P, 0.1)):
        ref = robust_policy_evaluation(model, U, pi, tol=1e-12).value
        r = adversary_policy_iteration(model, U, pi, tol=1e-11)
        assert r.lower - 1e-9 <= ref <= r.value + 1e-9
        assert r.value - r.lower < 1e-9
        assert r.oracle_calls < 20


def test_batched_robust_vi_matches_each_instance():
    """One torch program over instances with different kernels, discounts and radii equals robust VI run
    instance by instance (whose oracles are checked against cvxpy above); also robust policy evaluation."""
    import torch

    from mdp.robust import batched_robust_value_iteration

    models = [garnet(6, 3, 6, g, seed=10 + i, dirichlet=0.5) for i, g in enumerate((0.8, 0.9, 0.9, 0.95))]
    radii = np.array([0.0, 0.3, 1.0, 0.2])
    P = np.stack([mm.dense_P() for mm in models])
    R = np.stack([mm.R for mm in models])
    gam = np.array([mm.gamma for mm in models])
    for kind, cls in (("l1", L1Ball), ("linf", LinfBall), ("kl", KLBall)):
        rad = radii if kind != "linf" else radii / 4
        out = batched_robust_value_iteration(P, R, gam, rad, kind=kind, tol=1e-10)
        assert bool(out.converged.all()) and out.V.dtype == torch.float64
        for b, mm in enumerate(models):
            ref = robust_value_iteration(mm, cls(mm.P, rad[b]), tol=1e-10)
            np.testing.assert_allclose(out.V[b].numpy(), ref.V, atol=1e-8)
        pi = np.full((4, 6, 3), 1 / 3)
        ev = batched_robust_value_iteration(P, R, gam, rad, kind=kind, pi=pi, tol=1e-10)
        assert bool(ev.converged.all())
        for b, mm in enumerate(models):
            ref = robust_policy_evaluation(mm, cls(mm.P, rad[b]), pi[b], tol=1e-10)
            np.testing.assert_allclose(ev.V[b].numpy(), ref.V, atol=1e-8)


def test_batched_robust_vi_bad_inputs():
    from mdp.robust import batched_robust_value_iteration

    mm = garnet(4, 2, 4, 0.9, seed=0)
    P = mm.dense_P()[None].copy()
    R = mm.R[None]
    with pytest.raises(ValueError, match="radius"):
        batched_robust_value_iteration(P, R, 0.9, -0.1)
    with pytest.raises(ValueError, match="kind"):
        batched_robust_value_iteration(P, R, 0.9, 0.1, kind="l3")
    P[0, 2, 1, 0] += 0.1
    with pytest.raises(ValueError, match=r"P\[0, 2, 1, :\]"):
        batched_robust_value_iteration(P, R, 0.9, 0.1)


@pytest.mark.gpu
def test_batched_robust_vi_cuda_matches_cpu():
    import torch

    from mdp.robust import batched_robust_value_iteration

    if GPU == "cuda" and not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    mm = garnet(20, 4, 20, 0.9, seed=1, dirichlet=0.5)
    P, R = mm.dense_P()[None].repeat(3, 0), mm.R[None].repeat(3, 0)
    cpu = batched_robust_value_iteration(P, R, 0.9, [0.1, 0.5, 1.0], kind="kl", tol=1e-9)
    gpu = batched_robust_value_iteration(P, R, 0.9, [0.1, 0.5, 1.0], kind="kl", tol=1e-9, device=GPU)
    np.testing.assert_allclose(gpu.V.cpu().numpy(), cpu.V.numpy(), atol=1e-8)


def test_iwocs_imperfect_inner_solves_keep_the_lower_bound(model):
    """With truncated or noisy static solves the exact search still certifies L <= V* (L is the robust
    value of a feasible policy); U loses its guarantee. Bad settings are rejected."""
    U = L1Ball(model.P, 0.5)
    v_star = robust_value_iteration(model, U, tol=1e-11).value
    for kw in (dict(inner_backups=1), dict(inner_backups=5), dict(q_noise=0.1)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # inverted brackets are expected here
            warnings.simplefilter("ignore", NotConvergedWarning)  # and so is non-convergence
            r = iwocs(model, U, eps=1e-9, max_iterations=5, history=True, **kw)
        assert all(h["lower"] <= v_star + 1e-9 for h in r.history)
    with pytest.raises(ValueError, match="inner_backups"):
        iwocs(model, U, inner_backups=0)
    with pytest.raises(ValueError, match="q_noise"):
        iwocs(model, U, q_noise=-1.0)


def test_model_hull_is_rectangular_and_iwocs_certifies_it(model):
    """Robust VI on a finite set solves its rectangular hull; IWOCS on ModelHull brackets that value, and
    the hull's worst case at a value vector is the per-row minimum over the models (brute force)."""
    from mdp.robust import ModelHull

    rng = np.random.default_rng(5)
    models = [model.P] + [rng.dirichlet(np.ones(S), size=(S, 3)) for _ in range(6)]
    hull_value = robust_value_iteration(model, FiniteModelSet(models), tol=1e-11).value
    H = ModelHull(models)
    V = rng.normal(size=S)
    vals, kern = H.worst_case(V)
    brute = np.min([[[models[k][s, a] @ V for a in range(3)] for s in range(S)] for k in range(len(models))], axis=0)
    np.testing.assert_allclose(vals, brute, atol=1e-12)
    r = iwocs(model, H, eps=1e-8)
    assert r.converged and r.lower - 1e-8 <= hull_value <= r.upper + 1e-8
