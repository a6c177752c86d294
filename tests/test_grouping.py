"""Action grouping (mdp.grouping): estimator, grouped VI, approximation constants, bound, selection, bad inputs.

Every expected value is computed independently: by hand-written loops, closed forms written out in the test,
or concentration radii; never read back from the code under test.
"""
import math

import numpy as np
import pytest

from mdp import TabularMDP
from mdp.generators import hierarchical_mdp, nested_groupings
from mdp.grouping import (GroupingError, approximation_constants, check_grouping, check_nested, grouped_model,
                          grouping_bound, select_grouping)
from mdp.grouping_learning import estimate_grouped_model, grouped_value_iteration, grouping_losses
from theory.validation import ParameterError, ShapeError


def _tiny():
    """S = 2, A = 4; groups {0, 1} and {2, 3} at K = 2."""
    P = np.array([[[1.0, 0.0], [0.0, 1.0], [0.5, 0.5], [0.5, 0.5]],
                  [[0.2, 0.8], [0.2, 0.8], [1.0, 0.0], [0.6, 0.4]]])
    R = np.array([[1.0, 3.0, 0.0, 0.0],
                  [0.5, 0.5, 2.0, 1.0]])
    return TabularMDP(P, R, 0.5)


def _hand_vi(P, R, gamma, iters):
    """Plain loops: V_0 = 0, Q_t(s,a) = R(s,a) + gamma sum_t P(s,a,t) V_{t-1}(t), V_t = max_a Q_t."""
    S, A = R.shape
    V = [0.0] * S
    Q = None
    for _ in range(iters):
        Q = [[R[s, a] + gamma * sum(P[s, a, t] * V[t] for t in range(S)) for a in range(A)] for s in range(S)]
        V = [max(row) for row in Q]
    return np.array(Q), np.array(V)


def _hand_policy_value(P, R, gamma, actions):
    S = R.shape[0]
    P_pi = np.array([P[s, actions[s]] for s in range(S)])
    r_pi = np.array([R[s, actions[s]] for s in range(S)])
    return np.linalg.solve(np.eye(S) - gamma * P_pi, r_pi)


def test_approximation_constants_by_hand():
    m = _tiny()
    c = approximation_constants(m, [0, 0, 1, 1])
    # rewards: group means s0: (2, 0), s1: (0.5, 1.5) -> max |r - r_bar| = max(1, 1, 0, 0, 0, 0, 0.5, 0.5) = 1
    assert c.eps_R == pytest.approx(1.0, abs=1e-15)
    # kernels: s0 group 0 mean (0.5, 0.5): |(1,0)-(.5,.5)|_1 = 1; group 1 identical -> 0
    #          s1 group 0 identical -> 0; group 1 mean (0.8, 0.2): |(1,0)-(.8,.2)|_1 = 0.4
    assert c.eps_P == pytest.approx(1.0, abs=1e-15)
    c1 = approximation_constants(m, [0, 1, 1, 0])
    # groups {0, 3}, {1, 2}: s0 rewards (0.5, 1.5) -> 0.5, 1.5; s1 (0.75, 1.25) -> 0.25, 0.75 => eps_R = 1.5
    assert c1.eps_R == pytest.approx(1.5, abs=1e-15)
    # s0 group {0,3}: mean (.75,.25): |(1,0)-.|=0.5; group {1,2}: mean (.25,.75): |(0,1)-.| = 0.5
    # s1 group {0,3}: mean (.4,.6): |(.2,.8)-.| = 0.4; group {1,2}: mean (.6,.4): |(.2,.8)-.| = 0.8
    assert c1.eps_P == pytest.approx(0.8, abs=1e-15)
    c_full = approximation_constants(m, [0, 1, 2, 3])
    assert c_full.eps_R == 0.0 and c_full.eps_P == 0.0


def test_grouped_model_is_the_members_average():
    m = _tiny()
    g = grouped_model(m, [0, 0, 1, 1])
    np.testing.assert_allclose(g.R, [[2.0, 0.0], [0.5, 1.5]], atol=1e-15)
    np.testing.assert_allclose(g.P[0, 0], [0.5, 0.5], atol=1e-15)
    np.testing.assert_allclose(g.P[1, 1], [0.8, 0.2], atol=1e-15)


def test_bound_value_by_hand():
    # eps_R = 0.1, eps_P = 0.2, K = 2, N = 64, T = 3, S = 2, gamma = 0.5, r_max = 1, delta = 0.1
    approx = 2 / 0.5 * (0.1 + 0.5 * 1 * 0.2 / 0.5)                                   # = 1.2
    est = 2 * 0.5 * 1 / 0.25 * math.sqrt(2 * 2 * (2 * math.log(2) + math.log(2 * 2 / 0.1)) / 64)
    opt = 2 * 0.5 ** 3 * 1 / 0.25                                                      # = 1.0
    b = grouping_bound(0.1, 0.2, 2, 64, 3, 2, 0.5, 1.0, 0.1)
    assert b.approximation == pytest.approx(1.2, rel=1e-14)
    assert b.estimation == pytest.approx(4 * math.sqrt(4 * (2 * math.log(2) + math.log(40)) / 64), rel=1e-14)
    assert b.estimation == pytest.approx(est, rel=1e-14)
    assert b.optimization == pytest.approx(1.0, rel=1e-14)
    assert b.total == pytest.approx(approx + est + opt, rel=1e-14)
    # Bernoulli rewards: delta/2 in the kernel root, plus 2/(1-gamma) * sqrt(K ln(4SK/delta) / (2N))
    bb = grouping_bound(0.1, 0.2, 2, 64, 3, 2, 0.5, 1.0, 0.1, rewards="bernoulli")
    est_b = (4 * math.sqrt(4 * (2 * math.log(2) + math.log(80)) / 64)
             + 4 * math.sqrt(2 * math.log(160) / 128))
    assert bb.estimation == pytest.approx(est_b, rel=1e-14)
    # T = inf: the optimisation term is 2 gamma tau / (1 - gamma)
    assert grouping_bound(0.1, 0.2, 2, 64, math.inf, 2, 0.5, 1.0, 0.1, vi_tol=1e-6).optimization == \
        pytest.approx(2e-6, rel=1e-12)


def test_first_vi_iterates_match_hand_recursion():
    m = _tiny()
    g = grouped_model(m, [0, 0, 1, 1])
    P_flat = g.P.reshape(2 * 2, 2)
    for T in (1, 2, 3):
        Q_hand, V_hand = _hand_vi(g.P, g.R, 0.5, T)
        res = grouped_value_iteration(P_flat, g.R, 0.5, T)
        np.testing.assert_allclose(res.Q, Q_hand, atol=1e-14)
        np.testing.assert_allclose(res.V, V_hand, atol=1e-14)
        assert res.converged is None and res.iterations == T
    # explicit second iterate: Q_2(0, 0) = 2 + 0.5 * (0.5 * 2 + 0.5 * 1.5) = 2.875
    assert grouped_value_iteration(P_flat, g.R, 0.5, 2).Q[0, 0] == pytest.approx(2.875, abs=1e-14)


def test_torch_vi_matches_numpy():
    torch = pytest.importorskip("torch")
    m = _tiny()
    P_flat = m.P.reshape(8, 2)
    a = grouped_value_iteration(P_flat, m.R, 0.5, 4)
    b = grouped_value_iteration(torch.tensor(P_flat), torch.tensor(m.R), 0.5, 4)
    np.testing.assert_allclose(b.Q.numpy(), a.Q, atol=1e-14)


def test_exact_model_with_K_equal_A_is_optimal():
    """K = A with exact estimates: the greedy policy has zero loss against an independent VI / linear solve."""
    h = hierarchical_mdp(S=5, A=8, seed=3)
    m = h.model
    g = grouped_model(m, h.groupings[-1])
    res = grouped_value_iteration(g.P.reshape(5 * 8, 5), g.R, m.gamma, math.inf, vi_tol=1e-12)
    assert res.converged
    actions = np.argmax(res.Q, -1)
    _, V_star = _hand_vi(m.P, m.R, m.gamma, 600)          # gamma^600 ~ 1e-28
    V_pi = _hand_policy_value(m.P, m.R, m.gamma, actions)
    assert np.max(V_star - V_pi) == pytest.approx(0.0, abs=1e-9)


@pytest.mark.parametrize("rewards", ["known", "bernoulli"])
def test_estimator_recovers_exact_grouped_model_as_N_grows(rewards):
    h = hierarchical_mdp(S=4, A=8, seed=1)
    m, lab = h.model, h.groupings[2]            # K = 4
    N, K, S, delta = 8 * 2 ** 21, 4, 4, 1e-6
    est = estimate_grouped_model(m, lab, N, seed=0, rewards=rewards)
    # exact grouped model by hand: members' averages
    P_bar = np.stack([m.P[:, lab == k].mean(1) for k in range(K)], 1)
    R_bar = np.stack([m.R[:, lab == k].mean(1) for k in range(K)], 1)
    radius = math.sqrt(2 * K * (S * math.log(2) + math.log(S * K / delta)) / N)     # Weissman + union bound
    assert np.abs(est.P - P_bar).sum(-1).max() <= radius
    if rewards == "known":
        np.testing.assert_allclose(est.R, R_bar, atol=1e-15)
    else:
        assert np.abs(est.R - R_bar).max() <= math.sqrt(K * math.log(2 * S * K / delta) / (2 * N))


def test_batched_losses_match_a_hand_replay():
    """grouping_losses plays the first member of the greedy group of the estimated model; its loss is exact."""
    h = hierarchical_mdp(S=4, A=8, seed=2)
    m = h.model
    res = grouping_losses(m, h.groupings, N_values=(16,), T_values=(3,), seeds=1, seed=5)
    _, V_star = _hand_vi(m.P, m.R, m.gamma, 600)
    for i, lab in enumerate(h.groupings):
        est = estimate_grouped_model(m, lab, 16, seed=5)       # the same random stream (one seed, one N)
        Q, _ = _hand_vi(est.P, est.R, m.gamma, 3)
        first = [int(np.flatnonzero(lab == k)[0]) for k in range(est.A)]
        actions = np.array([first[int(np.argmax(Q[s]))] for s in range(m.S)])
        np.testing.assert_array_equal(res.actions[0, i, 0, 0], actions)
        gap = V_star - _hand_policy_value(m.P, m.R, m.gamma, actions)
        assert res.loss[0, i, 0, 0] == pytest.approx(gap.mean(), abs=1e-9)
        assert res.loss_max[0, i, 0, 0] == pytest.approx(gap.max(), abs=1e-9)


def test_bound_holds_on_a_small_batch():
    h = hierarchical_mdp(S=4, A=8, seed=0)
    m = h.model
    res = grouping_losses(m, h.groupings, (8, 64), (2, math.inf), seeds=20, seed=0, rewards="bernoulli")
    for i, lab in enumerate(h.groupings):
        c = approximation_constants(m, lab)
        for jN, N in enumerate((8, 64)):
            for jT, T in enumerate((2, math.inf)):
                b = grouping_bound(c.eps_R, c.eps_P, c.K, N, T, 4, m.gamma, 1.0, 0.05, rewards="bernoulli")
                assert np.all(res.loss_max[:, i, jN, jT] <= b.total)


def test_selection_is_argmin_over_levels():
    h = hierarchical_mdp(S=4, A=8, seed=0)
    sel = select_grouping(h.model, h.groupings, 64, T=10)
    totals = []
    for lab in h.groupings:
        c = approximation_constants(h.model, lab)
        totals.append(grouping_bound(c.eps_R, c.eps_P, c.K, 64, 10, 4, 0.9, float(np.abs(h.model.R).max())).total)
    assert sel.K_hat == (1, 2, 4, 8)[int(np.argmin(totals))]


def test_hierarchy_constants_shrink_with_K():
    h = hierarchical_mdp(seed=0)
    eps = [approximation_constants(h.model, g) for g in h.groupings]
    assert h.Ks == (1, 2, 4, 8, 16, 32, 64) and h.model.S == 10 and h.model.A == 64
    assert all(a.eps_R >= b.eps_R and a.eps_P >= b.eps_P for a, b in zip(eps, eps[1:]))
    assert eps[-1].eps_R <= 1e-15 and eps[-1].eps_P <= 1e-14


def test_bad_inputs_are_clear_errors():
    m = _tiny()
    with pytest.raises(GroupingError, match="K=3 groups do not divide A=4"):
        check_grouping([0, 1, 2, 2], 4)
    with pytest.raises(GroupingError, match="unequal"):
        check_grouping([0, 0, 0, 1], 4)
    with pytest.raises(GroupingError, match="group 1 is empty"):
        check_grouping([0, 0, 2, 2], 4)
    with pytest.raises(GroupingError, match="shape"):
        check_grouping([0, 1], 4)
    with pytest.raises(GroupingError, match="not nested"):
        check_nested([[0, 0, 0, 0, 1, 1, 1, 1], [0, 0, 1, 2, 1, 3, 2, 3]], 8)
    with pytest.raises(GroupingError, match="not more than"):
        check_nested([[0, 0, 1, 1], [1, 1, 0, 0]], 4)
    with pytest.raises(ParameterError, match="N=2 < K=4"):
        estimate_grouped_model(m, [0, 1, 2, 3], 2)
    with pytest.raises(ParameterError, match="N"):
        estimate_grouped_model(m, [0, 0, 1, 1], -4)
    with pytest.raises(ParameterError, match="N=6 is not a multiple of A=4"):
        estimate_grouped_model(m, [0, 0, 1, 1], 6)
    with pytest.raises(ParameterError, match="N=1 < K=2"):
        grouping_bound(0, 0, 2, 1, 3, 2, 0.5, 1.0)
    with pytest.raises(ParameterError, match="T"):
        grouping_bound(0, 0, 2, 4, 0, 2, 0.5, 1.0)
    with pytest.raises(ParameterError, match="rewards"):
        estimate_grouped_model(m, [0, 0, 1, 1], 8, rewards="gaussian")
    with pytest.raises(ParameterError, match=r"R in \[0, 1\]"):
        estimate_grouped_model(m, [0, 0, 1, 1], 8, rewards="bernoulli")   # R reaches 3
    with pytest.raises(ShapeError, match="expected \\(4, 2\\)"):
        grouped_value_iteration(np.full((4, 4), 0.25), np.zeros((2, 2)), 0.5, 2)
    with pytest.raises(ParameterError, match="power of 2"):
        nested_groupings(12)
    # numpy scalars are accepted
    assert grouping_bound(np.float64(0.1), np.float32(0.2), np.int64(2), np.int32(64), np.int64(3), 2, 0.5, 1.0,
                          0.1).total > 0


def test_bernoulli_rewards_in_0_1_are_pooled_exactly():
    """Rewards of 0/1 are deterministic Bernoulli draws, so the pooled mean must equal the members' average at any
    N (catches a wrong normalisation of the pooled sums)."""
    m0 = _tiny()
    m = TabularMDP(m0.P, np.array([[1.0, 0.0, 0.0, 0.0], [1.0, 1.0, 0.0, 1.0]]), 0.5)
    for N in (4, 8, 12):
        est = estimate_grouped_model(m, [0, 0, 1, 1], N, seed=1, rewards="bernoulli")
        np.testing.assert_allclose(est.R, [[0.5, 0.0], [1.0, 0.5]], atol=1e-15)


@pytest.mark.gpu
def test_device_runs_match_cpu():
    """On the accelerator: grouped VI agrees with numpy to round-off; sampled losses agree in distribution."""
    torch = pytest.importorskip("torch")
    from gpu_device import GPU

    h = hierarchical_mdp(S=6, A=16, seed=0)
    g = grouped_model(h.model, h.groupings[2])
    P_flat = g.P.reshape(6 * 4, 6)
    a = grouped_value_iteration(P_flat, g.R, 0.9, math.inf, vi_tol=1e-11)
    b = grouped_value_iteration(torch.tensor(P_flat, device=GPU), torch.tensor(g.R, device=GPU), 0.9, math.inf,
                                vi_tol=1e-11)
    np.testing.assert_allclose(b.Q.cpu().numpy(), a.Q, atol=1e-10)
    kw = dict(N_values=(16, 256), T_values=(math.inf,), seeds=300, seed=0, rewards="bernoulli")
    cpu = grouping_losses(h.model, h.groupings, device="cpu", **kw).loss
    dev = grouping_losses(h.model, h.groupings, device=GPU, **kw).loss
    se = np.sqrt(cpu.var(0) / cpu.shape[0] + dev.var(0) / dev.shape[0])
    assert np.all(np.abs(cpu.mean(0) - dev.mean(0)) <= 5 * se + 1e-12)


def test_u_shape_claim_is_contradicted_on_a_monotone_frame():
    """The experiment's U-shape claim must not pass when the loss simply falls with K."""
    import pandas as pd

    from experiments import action_grouping as ag

    config = ag.Config(seeds=40, N_values=(64, 1024), T_values=(math.inf,))
    rng = np.random.default_rng(0)
    rows = [dict(sample_seed=s, K=K, N=N, T=math.inf, loss=1.0 / K + 0.001 * rng.normal(), loss_max=1.0 / K,
                 bound=10.0, K_hat=1)
            for s in range(40) for K in (1, 2, 4, 8, 16, 32, 64) for N in (64, 1024)]
    verdicts = {c.name: c.verdict for c in ag.claims(pd.DataFrame(rows), config)}
    assert verdicts["u_shape_N64_best_interior_below_coarsest"] == "supported"
    assert verdicts["u_shape_N64_best_interior_below_finest"] == "contradicted"
    assert verdicts["bound_holds_w_p_1_minus_delta"] == "supported"
    assert verdicts["k_hat_within_factor_2_N64"] == "contradicted"        # K-hat = 1 against K* = 64


def test_finite_backups_past_an_exact_fixed_point():
    """With gamma = 0 every backup gives Q_t = r_hat exactly, so the certified loop stops after one backup;
    the greedy groups at later T (and grouped VI's T-th iterate) are still those of Q_1 = r_hat."""
    h = hierarchical_mdp(S=4, A=8, gamma=0.0, seed=4)
    m = h.model
    res = grouping_losses(m, h.groupings, N_values=(16,), T_values=(1, 3, 7), seeds=1, seed=2)
    for i, lab in enumerate(h.groupings):
        est = estimate_grouped_model(m, lab, 16, seed=2)
        first = [int(np.flatnonzero(lab == k)[0]) for k in range(est.A)]
        hand = np.array([first[int(np.argmax(est.R[s]))] for s in range(m.S)])
        for j in range(3):
            np.testing.assert_array_equal(res.actions[0, i, 0, j], hand)
    g = grouped_model(m, h.groupings[1])
    r = grouped_value_iteration(g.P.reshape(-1, m.S), g.R, 0.0, 5)
    np.testing.assert_array_equal(r.Q, g.R)
    assert r.iterations == 5 and r.error_bound == 0.0 and r.residual == 0.0


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_grouped_vi_certificates_are_per_instance(backend):
    """A batch of two models (the second with rewards scaled by 10): ``residual``, ``error_bound`` and
    ``converged`` hold one entry per model, each the hand recursion's own number, never the batch maximum."""
    m = _tiny()
    P = np.stack([m.P, m.P])
    R = np.stack([m.R, 10.0 * m.R])
    P_flat, Rb = P.reshape(2, 8, 2), R
    if backend == "torch":
        torch = pytest.importorskip("torch")
        P_flat, Rb = torch.tensor(P_flat), torch.tensor(R)
    T = 3
    res = grouped_value_iteration(P_flat, Rb, 0.5, T)
    residual, bound = np.asarray(res.residual), np.asarray(res.error_bound)
    assert residual.shape == bound.shape == (2,) and res.converged is None
    for i in range(2):
        _, V_T = _hand_vi(P[i], R[i], 0.5, T)
        _, V_prev = _hand_vi(P[i], R[i], 0.5, T - 1)
        _, TV = _hand_vi(P[i], R[i], 0.5, T + 1)
        assert residual[i] == pytest.approx(np.abs(TV - V_T).max(), abs=1e-13)
        assert bound[i] == pytest.approx(0.5 * np.abs(V_T - V_prev).max() / 0.5, abs=1e-13)
    assert residual[1] == pytest.approx(10 * residual[0], rel=1e-12)     # rewards x10: every iterate x10
    inf = grouped_value_iteration(P_flat, Rb, 0.5, math.inf, vi_tol=1e-11)
    conv, r_inf = np.asarray(inf.converged), np.asarray(inf.residual)
    assert conv.shape == r_inf.shape == (2,) and conv.dtype == bool and conv.all()
    for i in range(2):
        V = np.asarray(inf.V)[i]
        TV = (R[i] + 0.5 * np.einsum("sat,t->sa", P[i], V)).max(1)
        assert r_inf[i] == pytest.approx(np.abs(TV - V).max(), abs=1e-13)
