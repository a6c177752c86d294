"""Multi-objective MDPs: metrics against published fixtures and hand computations, exact fronts against
brute force and closed forms, C-MORL's update against a hand-written recursion, bad inputs."""
from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from mdp.envs.deep_sea_treasure import deep_sea_treasure, pareto_front as dst_front
from mdp.envs.fruit_tree import fruit_tree, fruits, pareto_front as ftn_front
from mdp.model import ModelError, TabularMDP
from mdp.multiobjective import (FrontError, cardinality, cmorl, convex_coverage_set, crowding_distance,
                                energy_weights, epsilon_constraint, evaluate_policies, expected_utility,
                                hypervolume, hypervolume_2d, igd, linear_scalarisation, maximum_utility_loss,
                                pareto_filter, pareto_value_iteration, random_momdp, simplex_grid, sparsity,
                                stochastic_front_hypervolume, thresholds)
from mdp.multiobjective.cmorl_barrier import barrier_direction
from mdp.planning import policy_evaluation
from theory.validation import ParameterError
from gpu_device import GPU

# Published / independently computed fixture values: deep-sea-treasure (MO-Gymnasium maps, reference
# (0, -25)) and fruit-tree (reference 0), as morl-baselines computes the metrics; see
# docs/experiments.md#multiobjective_fronts for their provenance.
DST_CONVEX = np.array([[0.7, -1], [8.2, -3], [11.5, -5], [14.0, -7], [15.1, -8], [16.1, -9], [19.6, -13],
                       [20.3, -14], [22.4, -17], [23.7, -19]])
REF = np.array([0.0, -25.0])


def grid_101():
    a = np.round(np.arange(0, 1.01, 0.01), 10)
    return np.stack([a, 1 - a], 1)


# ----------------------------------------------------------------------------- metrics
def test_hypervolume_dst_fixtures():
    assert hypervolume(DST_CONVEX, REF) == pytest.approx(401.8, rel=1e-12)
    assert hypervolume(dst_front("convex", 0.99), REF) == pytest.approx(360.400946, abs=1e-6)
    assert hypervolume(dst_front("concave", 1.0), REF) == pytest.approx(1155.0, rel=1e-12)
    assert hypervolume(dst_front("concave", 0.99), REF) == pytest.approx(1101.384430, abs=1e-6)


def test_hypervolume_2d_staircase_by_hand_and_random_fronts():
    # by hand: (3,1), (2,2), (1,3) above (0,0): 3*1 + 2*1 + 1*1 = 6
    F = np.array([[3.0, 1.0], [2.0, 2.0], [1.0, 3.0]])
    assert hypervolume(F, [0, 0]) == pytest.approx(6.0)
    assert hypervolume_2d(F, [0, 0]) == pytest.approx(6.0)
    rng = np.random.default_rng(0)
    for _ in range(20):
        F = rng.normal(size=(rng.integers(1, 30), 2))
        assert hypervolume(F, [-2, -2]) == pytest.approx(hypervolume_2d(F, [-2, -2]), rel=1e-12)


def test_hypervolume_3d_inclusion_exclusion():
    # two boxes [0,(2,1,1)] and [0,(1,2,1)] overlap in [0,(1,1,1)]: 2 + 2 - 1 = 3
    assert hypervolume([[2, 1, 1], [1, 2, 1]], [0, 0, 0]) == pytest.approx(3.0)


def test_hypervolume_reference_dominating_nothing():
    assert hypervolume([[1.0, 1.0]], [2.0, 0.0]) == 0.0
    with pytest.raises(ParameterError, match="ref"):
        hypervolume([[1.0, 1.0]], [2.0, 0.0], strict=True)


def test_sparsity_eu_igd_fixtures():
    assert sparsity(DST_CONVEX) == pytest.approx(15.382222, abs=1e-6)
    assert sparsity(dst_front("concave", 1.0)) == pytest.approx(437.666667, abs=1e-6)
    assert sparsity(dst_front("convex", 0.99)) == pytest.approx(12.619366, abs=1e-6)
    assert expected_utility(DST_CONVEX, grid_101()) == pytest.approx(6.765792, abs=1e-6)
    assert expected_utility(dst_front("concave", 0.99), grid_101()) == pytest.approx(44.248272, abs=1e-6)
    F = dst_front("convex", 0.99)
    sub = F[[0, 3, 6, 9]]
    assert igd(F, sub) == pytest.approx(1.585360, abs=1e-6)
    assert hypervolume(sub, REF) == pytest.approx(315.810167, abs=1e-6)
    C = dst_front("concave", 0.99)
    assert igd(C, C[[0, 3, 6, 9]]) == pytest.approx(7.828871, abs=1e-6)
    # EU depends only on the CCS vertices (the two end points on the concave map)
    W = energy_weights(2)
    assert expected_utility(C[[0, 3, 6, 9]], W) == pytest.approx(expected_utility(C, W), rel=1e-12)


def test_eu_and_mul_by_hand():
    F = np.array([[1.0, 0.0], [0.0, 1.0]])
    W = np.array([[1.0, 0.0], [0.5, 0.5]])
    assert expected_utility(F, W) == pytest.approx((1.0 + 0.5) / 2)
    Z = np.array([[1.0, 1.0]])
    assert maximum_utility_loss(F, Z, W) == pytest.approx(0.5)      # at w = (0.5, 0.5): 1 - 0.5


def test_pareto_filter_removes_weakly_dominated_and_duplicates():
    F = np.array([[1, 2], [2, 1], [1, 2], [1, 1], [2, 1], [0, 3], [1, 3]], dtype=float)
    assert pareto_filter(F).tolist() == [[2, 1], [1, 3]]
    assert cardinality(F) == 2
    assert cardinality(fruits(6)) == 64


def test_crowding_distance_by_hand():
    F = np.array([[0.0, 4.0], [1.0, 2.0], [3.0, 1.0], [4.0, 0.0]])
    cd = crowding_distance(F)
    assert np.isinf(cd[0]) and np.isinf(cd[3])
    assert cd[1] == pytest.approx((3 - 0) / 4 + (4 - 1) / 4)
    assert cd[2] == pytest.approx((4 - 1) / 4 + (2 - 0) / 4)


@pytest.mark.parametrize("m,delta,count", [(2, 0.2, 6), (2, 0.5, 3), (3, 0.5, 6), (3, 0.3, 10), (6, 1, 6),
                                           (9, 1, 9), (4, 1, 4)])
def test_simplex_grid_counts(m, delta, count):
    W = simplex_grid(m, delta)
    assert W.shape == (count, m)
    assert np.allclose(W.sum(1), 1) and np.all(W >= 0)


def test_metric_bad_inputs():
    with pytest.raises(FrontError, match="empty"):
        hypervolume(np.zeros((0, 2)), [0, 0])
    with pytest.raises(FrontError, match="objectives"):
        hypervolume([[1.0, 2.0]], [0.0, 0.0, 0.0])
    with pytest.raises(ParameterError, match="simplex"):
        expected_utility([[1.0, 2.0]], [[0.7, 0.7]])
    with pytest.raises(ParameterError, match="simplex"):
        expected_utility([[1.0, 2.0]], [[1.5, -0.5]])
    with pytest.raises(FrontError, match="objectives"):
        igd([[1.0, 2.0]], [[1.0, 2.0, 3.0]])


def test_fruit_tree_hypervolume_fixture():
    assert hypervolume(ftn_front(5, 1.0), np.zeros(6)) == pytest.approx(8808.4187, abs=1e-4)


# ----------------------------------------------------------------------------- exact fronts
@pytest.mark.parametrize("kind", ["convex", "concave"])
@pytest.mark.parametrize("gamma", [0.99, 1.0])
def test_set_vi_recovers_the_published_dst_front(kind, gamma):
    res = pareto_value_iteration(deep_sea_treasure(kind, 0.99), gamma=gamma)
    assert res.converged and res.residual == 0.0
    expect = dst_front(kind, gamma)
    assert np.allclose(res.front[np.argsort(res.front[:, 0])], expect[np.argsort(expect[:, 0])], atol=1e-12)


def test_set_vi_fruit_tree_leaves():
    res = pareto_value_iteration(fruit_tree(5, 0.99))
    leaves = ftn_front(5, 0.99)
    assert res.front.shape == leaves.shape
    assert {tuple(np.round(r, 9)) for r in res.front} == {tuple(np.round(r, 9)) for r in leaves}


def test_set_vi_rejects_stochastic_transitions():
    with pytest.raises(ModelError, match="deterministic"):
        pareto_value_iteration(random_momdp(5, 2, 2, seed=0))


def _all_deterministic_values(m):
    out = []
    for acts in itertools.product(range(m.A), repeat=m.S):
        out.append(m.mu @ policy_evaluation(m, np.array(acts)))
    return np.array(out)


@pytest.mark.parametrize("k", [2, 3])
def test_ccs_matches_brute_force_over_deterministic_policies(k):
    m = random_momdp(4, 3, k, 0.8, branching=2, seed=3)
    ccs = convex_coverage_set(m)
    allv = _all_deterministic_values(m)
    W = np.random.default_rng(0).dirichlet(np.ones(k), size=500)
    assert np.allclose((W @ ccs.vertices.T).max(1), (W @ allv.T).max(1), atol=1e-9)
    for v in ccs.vertices:                                # every vertex is a deterministic policy's value
        assert np.min(np.abs(allv - v).max(1)) < 1e-9
    assert ccs.converged and ccs.error_bound <= 1e-9


def test_stochastic_front_dst_fixtures():
    c = convex_coverage_set(deep_sea_treasure("convex", 0.99))
    assert len(c.vertices) == 10
    assert stochastic_front_hypervolume(c.vertices, REF) == pytest.approx(380.27, abs=0.01)
    c = convex_coverage_set(deep_sea_treasure("concave", 0.99))
    assert len(c.vertices) == 2
    assert stochastic_front_hypervolume(c.vertices, REF) == pytest.approx(1644.04, abs=0.01)


def _polyline_hv(V, z):
    """Independent 2-D closed form: integrate the upper envelope of the hull polyline above z."""
    V = V[np.argsort(V[:, 0])]
    xs = np.concatenate([[z[0]], V[:, 0]])
    ys = np.concatenate([[V[0, 1]], V[:, 1]])             # flat from z_1 to the first vertex
    total = 0.0
    for i in range(len(xs) - 1):
        x0, x1, y0, y1 = xs[i], xs[i + 1], ys[i], ys[i + 1]
        lo, hi = max(x0, z[0]), x1
        if hi <= lo:
            continue
        f = lambda x: y0 + (y1 - y0) * (x - x0) / (x1 - x0) if x1 > x0 else y1   # noqa: E731
        # clip at z_2 (linear piece: split at the crossing)
        pts = [lo, hi]
        if (f(lo) - z[1]) * (f(hi) - z[1]) < 0:
            pts.insert(1, x0 + (z[1] - y0) * (x1 - x0) / (y1 - y0))
        for a, b in zip(pts[:-1], pts[1:]):
            h = (max(f(a) - z[1], 0) + max(f(b) - z[1], 0)) / 2
            total += h * (b - a)
    return total


def test_stochastic_front_hv_2d_closed_form_and_3d_sampling():
    m = random_momdp(12, 3, 2, 0.9, seed=5)
    c = convex_coverage_set(m)
    z = c.vertices.min(0) - 0.5
    assert stochastic_front_hypervolume(c.vertices, z) == pytest.approx(_polyline_hv(c.vertices, z), rel=1e-9)
    m3 = random_momdp(8, 3, 3, 0.9, seed=6)
    c3 = convex_coverage_set(m3)
    z3 = c3.vertices.min(0) - 0.3
    exact = stochastic_front_hypervolume(c3.vertices, z3)
    # points on every triangle of vertices (the front's faces are among them): a lower bound that tightens
    rng = np.random.default_rng(1)
    tri = np.array(list(itertools.combinations(range(len(c3.vertices)), 3)))
    lam = rng.dirichlet(np.ones(3), size=(len(tri), 25))
    mix = np.einsum("tnk,tkm->tnm", lam, c3.vertices[tri]).reshape(-1, 3)
    sampled = hypervolume(np.vstack([c3.vertices, mix]), z3)
    assert sampled <= exact * (1 + 1e-12)
    assert sampled >= 0.99 * exact                       # 25 points per triangle: within 1 %
    assert exact >= hypervolume(c3.vertices, z3)


def test_epsilon_constraint_equals_hull_interpolation():
    m = random_momdp(10, 3, 2, 0.9, seed=7)
    V = convex_coverage_set(m).vertices
    V = V[np.argsort(V[:, 1])]
    d1 = 0.5 * (V[0, 1] + V[-1, 1])
    res = epsilon_constraint(m, 0, [-np.inf, d1])
    i = np.searchsorted(V[:, 1], d1)                      # V[i-1, 1] < d1 <= V[i, 1]
    lam = (d1 - V[i - 1, 1]) / (V[i, 1] - V[i - 1, 1])
    expect = (1 - lam) * V[i - 1, 0] + lam * V[i, 0]
    assert res.value[0] == pytest.approx(expect, abs=1e-6)
    assert res.value[1] >= d1 - 1e-7
    assert np.allclose(res.value, m.mu @ policy_evaluation(m, res.policy), atol=1e-10)


def test_batched_evaluation_equals_per_policy_loop():
    m = random_momdp(9, 3, 3, 0.9, seed=2)
    pis = np.random.default_rng(0).dirichlet(np.ones(3), size=(7, 9))
    G = evaluate_policies(m, pis).numpy()
    for b in range(7):
        assert np.allclose(G[b], m.mu @ policy_evaluation(m, pis[b]), atol=1e-12)


# ----------------------------------------------------------------------------- C-MORL
def test_thresholds_conventions():
    G, z = np.array([10.0, -5.0]), np.array([0.0, -25.0])
    assert np.allclose(thresholds(G, 0.9, z, "literal"), [9.0, -4.5])
    assert np.allclose(thresholds(G, 0.9, z, "ref"), [9.0, -25 + 0.9 * 20])
    assert np.allclose(thresholds(G, 0.9, z, "relax"), [9.0, -5.5])
    with pytest.raises(ParameterError, match="threshold"):
        thresholds(G, 0.9, z, "bogus")


def test_barrier_direction_against_hand_recursion():
    rng = np.random.default_rng(0)
    B, k, S, A, t = 2, 3, 4, 3, 20.0
    pi = rng.dirichlet(np.ones(A), size=(B, S))
    Q = rng.normal(size=(B, k, S, A))
    J = rng.normal(size=(B, k)) + 3
    d = J - rng.uniform(0.1, 1.0, size=(B, k))
    l = [0, 2]
    out = barrier_direction(*(torch.tensor(x) for x in (pi, Q, J, d)),
                            torch.nn.functional.one_hot(torch.tensor(l), k).double(), t).numpy()
    for b in range(B):
        expect = np.zeros((S, A))
        for j in range(k):
            c = 1.0 if j == l[b] else 1.0 / (t * (J[b, j] - d[b, j]))
            Aj = Q[b, j] - (pi[b] * Q[b, j]).sum(1, keepdims=True)
            expect += c * Aj
        assert np.allclose(out[b], expect, atol=1e-12)


def test_barrier_first_iterates_follow_npg_recursion():
    """Stage one of the barrier solver: theta_1 = eta/(1-gamma) A_w(pi_0) from theta_0 = 0 (uniform)."""
    m = random_momdp(5, 2, 2, 0.8, seed=4)
    eta = 0.7
    res = cmorl(m, rounds=0, solver="barrier", delta=1.0, init_iterations=1, eta=eta, archive_size=10 ** 6)
    pi0 = np.full((m.S, m.A), 0.5)
    expect = []
    for w in np.eye(2)[::-1]:                             # simplex_grid(2, 1) = [(0, 1), (1, 0)]
        r = m.R @ w
        V = policy_evaluation(m.with_rewards(r), pi0)
        Q = r + m.gamma * m.dense_P() @ V
        adv = Q - (pi0 * Q).sum(1, keepdims=True)
        theta = eta / (1 - m.gamma) * adv
        pi1 = np.exp(theta) / np.exp(theta).sum(1, keepdims=True)
        expect.append(m.mu @ policy_evaluation(m, pi1))
    expect = pareto_filter(np.array(expect))
    got = res.front[np.lexsort(res.front.T[::-1])]
    assert np.allclose(got, expect[np.lexsort(expect.T[::-1])], atol=1e-10)


def test_cmorl_without_rounds_is_linear_scalarisation():
    m = random_momdp(8, 3, 2, 0.9, seed=1)
    a = cmorl(m, rounds=0, delta=0.25)
    b = linear_scalarisation(m, 5)                        # linspace(0, 1, 5) = the delta = 0.25 grid
    assert np.allclose(np.sort(a.front, 0), np.sort(b.front, 0), atol=1e-12)
    assert a.hypervolume[0] == pytest.approx(b.hypervolume[0])


def test_cmorl_concave_dst_beats_linear_scalarisation_and_stays_below_the_exact_front():
    m = deep_sea_treasure("concave", 0.99)
    res = cmorl(m, ref=REF, rounds=2, n_select=3)
    exact = stochastic_front_hypervolume(convex_coverage_set(m).vertices, REF)
    ls = linear_scalarisation(m, int(res.budget[-1]), ref=REF)
    assert res.hypervolume[-1] > ls.hypervolume[-1] + 100
    assert res.hypervolume[-1] <= exact * (1 + 1e-9)
    assert np.all(np.diff(res.hypervolume) >= -1e-9)
    for g, pi in zip(res.front, res.policies):            # the front holds exact values of its policies
        assert np.allclose(g, m.mu @ policy_evaluation(m, pi), atol=1e-8)
    assert res.error_bound is None and res.converged is None and res.residual >= 0


def test_cmorl_bad_inputs():
    m = random_momdp(4, 2, 2, seed=0)
    with pytest.raises(ParameterError, match="threshold"):
        cmorl(m, threshold="nope")
    with pytest.raises(ParameterError, match="solver"):
        cmorl(m, solver="ppo")
    with pytest.raises(FrontError, match="objectives"):
        cmorl(m, ref=[0, 0, 0])
    with pytest.raises(ModelError, match="vector rewards"):
        cmorl(TabularMDP(m.P, m.R[..., 0], 0.9))
    with pytest.raises(ParameterError, match="eval_weights"):
        cmorl(m, eval_weights=[[0.5, 0.6]], rounds=0)


def test_numpy_scalars_and_sequences_are_accepted():
    m = random_momdp(4, 2, 2, seed=0)
    res = cmorl(m, beta=np.float32(0.9), n_select=np.int64(1), rounds=np.int64(1), delta=np.float64(0.5),
                ref=[-1.0, -1.0], eval_weights=[[0.5, 0.5]])
    assert res.front.shape[1] == 2
    assert hypervolume([[1, 2], [2, 1]], (0, 0)) == pytest.approx(3.0)
    assert simplex_grid(np.int64(2), np.float32(0.5)).shape == (3, 2)


@pytest.mark.gpu
def test_cuda_matches_cpu():
    m = random_momdp(10, 3, 3, 0.9, seed=0)
    pis = np.random.default_rng(0).dirichlet(np.ones(3), size=(16, 10))
    assert np.allclose(evaluate_policies(m, pis, device=GPU).cpu().numpy(), evaluate_policies(m, pis).numpy(),
                       atol=1e-10)
    a = cmorl(m, solver="barrier", rounds=1, device=GPU)
    b = cmorl(m, solver="barrier", rounds=1, device="cpu")
    assert np.allclose(a.hypervolume, b.hypervolume, rtol=1e-6)


# ----------------------------------------------------------------------------- unreachable reference point (issue 23)
def test_cmorl_refuses_a_ref_above_the_ideal_point_before_any_work(monkeypatch):
    """The ideal point (per-objective max over all policies) from brute-force enumeration of the deterministic
    policies; a ref above it in one objective is named before stage one runs."""
    import importlib

    cm = importlib.import_module("mdp.multiobjective.cmorl_solver")

    m = random_momdp(4, 2, 2, 0.9, seed=3)
    ideal = _all_deterministic_values(m).max(0)
    calls = []
    monkeypatch.setattr(cm, "simplex_grid", lambda *a, **k: calls.append(1) or np.eye(2))
    for who, fn in [("cmorl", lambda z: cmorl(m, ref=z, rounds=2)),
                    ("linear_scalarisation", lambda z: linear_scalarisation(m, 4, ref=z))]:
        with pytest.raises(ParameterError, match=rf"{who}: ref=.*objective 1"):
            fn([ideal[0] - 5.0, ideal[1] + 0.01])
    assert calls == []                                     # stage one never started


def test_cmorl_with_a_reachable_but_undominated_ref_returns_an_empty_front():
    """ref just below the ideal point: no single policy reaches both maxima (checked by enumeration), so the
    documented result is an empty [0, 2] front with hypervolume 0 and utility loss inf."""
    m = random_momdp(4, 2, 2, 0.9, seed=3)
    G = _all_deterministic_values(m)
    z = G.max(0) - 1e-9
    assert not np.any(np.all(G >= z, axis=1))
    res = cmorl(m, ref=z, rounds=2, n_select=1)
    assert res.front.shape == (0, 2) and res.policies.shape == (0, m.S, m.A)
    assert np.all(res.hypervolume == 0.0) and res.residual == np.inf
    lin = linear_scalarisation(m, 5, ref=z)
    assert lin.front.shape == (0, 2) and lin.hypervolume[0] == 0.0


@pytest.mark.parametrize("kw", [dict(), dict(solver="barrier", init_iterations=3, iterations_per_round=3)])
def test_cmorl_stepping_by_hand_equals_the_function_and_the_callback_sees_each_round(kw):
    from mdp.multiobjective.cmorl_solver import CMORLSolver

    m = random_momdp(5, 3, 2, 0.9, seed=6)
    seen = []
    r = cmorl(m, rounds=3, n_select=2, **kw,
              callback=lambda s: seen.append((s.round, s.budget, s.result().iterations, s.result().hypervolume.copy())))
    solver = CMORLSolver(m, rounds=3, n_select=2, **kw)
    assert solver.round == 0 and len(solver.hv) == 1                  # stage one ran in the constructor
    for _ in range(3):
        solver.step()
    h = solver.result()
    for f in ("front", "policies", "hypervolume", "budget", "residual", "iterations", "oracle_calls", "ref"):
        np.testing.assert_array_equal(getattr(h, f), getattr(r, f))
    assert [(i, n) for i, _, n, _ in seen] == [(1, 1), (2, 2), (3, 3)]     # result() = rounds so far
    for i, b, _, hv in seen:                  # after round i: the budget and hypervolumes so far
        assert b == r.budget[i]
        np.testing.assert_array_equal(hv, r.hypervolume[:i + 1])
