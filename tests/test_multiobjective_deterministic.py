"""The deterministic-policy ε-constraint oracle (E3) against brute-force enumeration of all deterministic
policies, the concave deep-sea-treasure front from its treasure values, C-MORL's first deterministic
round against a hand-written recursion, and the code-quirk ablation's updates against a hand-written
recursion."""
from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from experiments.references import FIXTURES
from mdp.envs.deep_sea_treasure import TREASURE_STEPS, TREASURES, deep_sea_treasure
from mdp.model import ModelError, TabularMDP
from mdp.multiobjective import (cmorl, deterministic_epsilon_constraint, hypervolume, linear_scalarisation,
                                pareto_value_iteration, random_momdp, recover_deterministic_policy)
from mdp.multiobjective.cmorl_barrier import code_quirk_direction, code_quirk_extension
from mdp.planning import policy_evaluation
from theory.validation import ParameterError

REF = np.array([0.0, -25.0])


def _dag_mdp(rng, S=6, A=3, k=2, gamma=0.9):
    """Random deterministic-transition MDP on a DAG (every state moves to a later one; the last state is
    terminal, absorbing with zero reward), start state 0."""
    P = np.zeros((S, A, S))
    for s in range(S - 1):
        for a in range(A):
            P[s, a, rng.integers(s + 1, S)] = 1.0
    P[S - 1, :, S - 1] = 1.0
    R = rng.uniform(0, 1, size=(S, A, k))
    R[S - 1] = 0.0
    mu = np.zeros(S)
    mu[0] = 1.0
    return TabularMDP(P, R, gamma, mu)


def _brute_force(m):
    """Value vectors ``[A^S, k]`` of every deterministic stationary policy (one linear solve each)."""
    out = []
    for acts in itertools.product(range(m.A), repeat=m.S):
        pi = np.eye(m.A)[list(acts)]
        out.append(m.mu @ policy_evaluation(m, pi))
    return np.array(out)


def _brute_eps(G, l, d):
    """max G_l s.t. G_j >= d_j (j != l), ties by the largest sum of the others; None when infeasible."""
    others = [j for j in range(G.shape[1]) if j != l]
    ok = np.all(G[:, others] >= d[others] - 1e-12, axis=1)
    if not ok.any():
        return None
    C = G[ok]
    best = C[:, l].max()
    tied = C[C[:, l] >= best - 1e-12]
    return tied[np.argmax(tied[:, others].sum(1))]


@pytest.mark.parametrize("k", [2, 3])
def test_deterministic_oracle_matches_brute_force(k):
    rng = np.random.default_rng(k)
    for _ in range(3):
        m = _dag_mdp(rng, k=k)
        G = _brute_force(m)
        pareto = pareto_value_iteration(m)
        for _ in range(12):
            l = int(rng.integers(k))
            d = G[rng.integers(len(G))] - rng.uniform(0, 0.3, size=k)
            d[l] = -np.inf
            want = _brute_eps(G, l, d)
            if want is None:
                with pytest.raises(ModelError):
                    deterministic_epsilon_constraint(m, l, d, pareto)
                continue
            res = deterministic_epsilon_constraint(m, l, d, pareto)
            np.testing.assert_allclose(res.value, want, rtol=0, atol=1e-10)
            assert set(np.unique(res.policy)) <= {0.0, 1.0}
            np.testing.assert_allclose(m.mu @ policy_evaluation(m, res.policy), want, atol=1e-10)


def test_recover_rejects_a_point_off_the_front():
    m = deep_sea_treasure("concave", 0.99)
    pareto = pareto_value_iteration(m)
    with pytest.raises(ModelError, match="not in the Pareto set"):
        recover_deterministic_policy(m, pareto, pareto.front[3] + np.array([0.5, 0.0]))


def _concave_front_by_hand(gamma=0.99):
    """(T gamma^(n-1), -sum_{i<n} gamma^i) for the concave treasures T at their step counts n."""
    return np.array([[t * gamma ** (n - 1), -sum(gamma ** i for i in range(n))]
                     for t, n in zip(TREASURES["concave"], TREASURE_STEPS)])


def _hv2_by_hand(F, ref):
    """2-D hypervolume (maximisation) by sorting on the first coordinate, descending."""
    F = F[np.argsort(-F[:, 0])]
    hv, top = 0.0, ref[1]
    for x, y in F:
        if y > top:
            hv += (x - ref[0]) * (y - top)
            top = y
    return hv


def test_concave_dst_front_and_hypervolume_from_treasure_values():
    F = _concave_front_by_hand()
    assert _hv2_by_hand(F, REF) == pytest.approx(FIXTURES[("hv", "concave", 0.99)], abs=1e-6)   # 1101.384430
    m = deep_sea_treasure("concave", 0.99)
    pareto = pareto_value_iteration(m)
    np.testing.assert_allclose(pareto.front[np.argsort(pareto.front[:, 0])], F, atol=1e-10)
    for p in F:                      # every front point, treasure maximised at its own time budget
        res = deterministic_epsilon_constraint(m, 0, [-np.inf, p[1]], pareto)
        np.testing.assert_allclose(res.value, p, atol=1e-10)


def test_cmorl_deterministic_recovers_the_concave_front():
    m = deep_sea_treasure("concave", 0.99)
    res = cmorl(m, ref=REF, policy_class="deterministic", beta=0.5, n_select=3, rounds=6, delta=0.2,
                eval_weights=np.eye(2))
    F = _concave_front_by_hand()
    assert len(res.front) == 10
    np.testing.assert_allclose(res.front[np.argsort(res.front[:, 0])], F, atol=1e-10)
    assert res.hypervolume[-1] == pytest.approx(_hv2_by_hand(F, REF), rel=1e-12)
    assert set(np.unique(res.policies)) <= {0.0, 1.0}
    ls = linear_scalarisation(m, int(res.budget[-1]), ref=REF, eval_weights=np.eye(2))
    np.testing.assert_allclose(ls.front[np.argsort(ls.front[:, 0])], F[[0, -1]], atol=1e-10)   # supported only
    assert ls.hypervolume[-1] == pytest.approx(hypervolume(F[[0, -1]], REF), rel=1e-12)


def test_cmorl_deterministic_first_round_by_hand():
    """Round 1 from the stage-one archive {first, last treasure}: both are boundary points (infinite crowding
    distance) and are extended; thresholds d = z + beta (G - z). From (1, -1), maximising the treasure with
    time >= -25 + 0.9 * 24 = -3.4 reaches the 2-treasure at 3 steps; the three other steps return their own
    start points."""
    m = deep_sea_treasure("concave", 0.99)
    F = _concave_front_by_hand()
    res = cmorl(m, ref=REF, policy_class="deterministic", beta=0.9, n_select=2, rounds=1, delta=0.2,
                eval_weights=np.eye(2))
    assert res.hypervolume[0] == pytest.approx(_hv2_by_hand(F[[0, 9]], REF), rel=1e-12)
    assert res.hypervolume[1] == pytest.approx(_hv2_by_hand(F[[0, 1, 9]], REF), rel=1e-12)
    assert list(res.budget) == [6, 10]
    second = np.array([2 * 0.99 ** 2, -(1 + 0.99 + 0.99 ** 2)])
    assert np.any(np.all(np.isclose(res.front, second, atol=1e-12), axis=1))


def test_policy_class_bad_inputs():
    m = deep_sea_treasure("concave", 0.99)
    with pytest.raises(ParameterError, match="policy_class"):
        cmorl(m, policy_class="mixed")
    with pytest.raises(ParameterError, match="solver='oracle'"):
        cmorl(m, policy_class="deterministic", solver="barrier")
    with pytest.raises(ValueError, match="thresholds"):
        deterministic_epsilon_constraint(m, 0, [np.nan, 1.0])


# ----------------------------------------------------------------------------- the released code's quirks
def _q_and_j(m, pi):
    """Exact per-objective Q ``[k, S, A]`` and values J ``[k]`` of one policy (numpy, by hand)."""
    V = policy_evaluation(m, pi)                                      # [S, k]
    P = m.dense_P()
    Q = np.stack([m.R[:, :, j] + m.gamma * P @ V[:, j] for j in range(V.shape[1])])
    return Q, m.mu @ V


def test_code_quirk_extension_against_hand_recursion():
    """theta_0 = log(0.999 pi_r + 0.001/A); per objective l = 0, 1, ... (chained, quirk c), K updates
    theta += eta/(1-gamma) sum_j c_j A_j with c_j = 1/(t (1-beta) J_j) (current J: quirk a), + 1 for j = l
    (the barrier covers l too: quirk b), c_j = 0 where (1-beta) J_j <= 1e-3 (the code's clamp)."""
    m = random_momdp(5, 3, 3, 0.8, seed=7)
    rng = np.random.default_rng(1)
    pis = rng.dirichlet(np.ones(3), size=(2, 5))
    K, eta, t, beta = 2, 0.7, 20.0, 0.9
    out = code_quirk_extension(m, pis, K, eta, t, beta).numpy()
    assert out.shape == (3 * K, 2, 5, 3)
    for b in range(2):
        theta = np.log(0.999 * pis[b] + 0.001 / 3)
        n = 0
        for l in range(3):
            for _ in range(K):
                pi = np.exp(theta - theta.max(1, keepdims=True))
                pi /= pi.sum(1, keepdims=True)
                Q, J = _q_and_j(m, pi)
                step = np.zeros((5, 3))
                for j in range(3):
                    c = (1.0 / (t * (1 - beta) * J[j]) if (1 - beta) * J[j] > 1e-3 else 0.0) + (j == l)
                    step += c * (Q[j] - (pi * Q[j]).sum(1, keepdims=True))
                theta = theta + eta / (1 - m.gamma) * step
                new = np.exp(theta - theta.max(1, keepdims=True))
                np.testing.assert_allclose(out[n, b], new / new.sum(1, keepdims=True), atol=1e-10)
                n += 1


def test_code_quirk_clamp_zeroes_negative_returns():
    pi = torch.full((1, 2, 2), 0.5, dtype=torch.float64)
    Q = torch.tensor([[[[1.0, 0.0], [0.0, 1.0]], [[5.0, 0.0], [0.0, 5.0]]]], dtype=torch.float64)
    J = torch.tensor([[2.0, -3.0]], dtype=torch.float64)
    onehot = torch.tensor([[1.0, 0.0]], dtype=torch.float64)
    out = code_quirk_direction(pi, Q, J, onehot, 0.9, 20.0).numpy()[0]
    c0 = 1.0 + 1.0 / (20.0 * 0.1 * 2.0)                  # objective 0: maximised and in the barrier; 1: clamped
    np.testing.assert_allclose(out, c0 * np.array([[0.5, -0.5], [-0.5, 0.5]]), atol=1e-12)


def test_quirks_flag_runs_at_the_same_budget_and_needs_barrier():
    m = random_momdp(6, 3, 2, 0.9, seed=3)
    a = cmorl(m, solver="barrier", rounds=2, n_select=2, init_iterations=3, iterations_per_round=3)
    b = cmorl(m, solver="barrier", rounds=2, n_select=2, init_iterations=3, iterations_per_round=3, quirks=True)
    np.testing.assert_array_equal(a.budget, b.budget)
    assert b.hypervolume[0] == a.hypervolume[0]                 # stage one is shared
    with pytest.raises(ParameterError, match="quirks"):
        cmorl(m, quirks=True)


# ----------------------------------------------------------------------------- the incremental archive
def test_incremental_archive_prune_equals_a_full_pareto_filter():
    """Adding batches and pruning incrementally keeps exactly the points (and order) of pareto_mask on the
    whole history above the reference point, duplicates and ties included."""
    from mdp.multiobjective import pareto_mask
    from mdp.multiobjective.cmorl_barrier import ParetoArchive

    rng = np.random.default_rng(5)
    for m in (2, 3):
        ref = np.full(m, -0.5)
        arch = ParetoArchive(ref)
        history = []
        for _ in range(12):
            B = np.round(rng.normal(size=(int(rng.integers(1, 9)), m)), 1)      # coarse grid: many ties
            if history and rng.random() < 0.5:
                B = np.vstack([B, history[int(rng.integers(len(history)))]])      # an exact duplicate
            for g in B:
                arch.add(g, np.zeros((1, 1)))
                history.append(g)
            arch.prune(10 ** 9)
            H = np.array(history)
            want = H[pareto_mask(H) & np.all(H >= ref, axis=1)]
            np.testing.assert_array_equal(np.array(arch.G), want)


# ----------------------------------------------------------------------------- cyclic models (issue 23)
def _cyclic_mdp(seed=0, gamma=0.9):
    """4 states, 3 actions, deterministic transitions s -> s+1, s+2, s+3 (mod 4), no terminal state, uniform
    2-objective rewards: every policy cycles, and laps with different reward vectors make the exact front
    of non-stationary deterministic policies infinite."""
    S, A = 4, 3
    P = np.zeros((S, A, S))
    for s in range(S):
        for a in range(A):
            P[s, a, (s + a + 1) % S] = 1.0
    R = np.random.default_rng(seed).uniform(0, 1, size=(S, A, 2))
    return TabularMDP(P, R, gamma, np.eye(S)[0])


def _stationary_values(m):
    """Values of all A^S deterministic stationary policies, by one numpy solve each (independent of mdp)."""
    S = m.S
    out = []
    for acts in itertools.product(range(m.A), repeat=S):
        Pp = m.P[np.arange(S), list(acts)]
        rp = m.R[np.arange(S), list(acts)]
        out.append(m.mu @ np.linalg.solve(np.eye(S) - m.gamma * Pp, rp))
    return np.array(out)


def test_exact_set_vi_refuses_an_infinite_front_instead_of_hanging():
    m = _cyclic_mdp()
    with pytest.raises(ModelError, match=r"max_points=2000.*epsilon="):
        pareto_value_iteration(m)
    with pytest.raises(ModelError, match="max_points=50"):
        pareto_value_iteration(m, max_points=50)


@pytest.mark.parametrize("eps", [0.1, 0.03])
def test_epsilon_set_vi_certifies_its_front_on_a_cyclic_model(eps):
    """The returned set is an additive ε-Pareto set: every deterministic stationary policy's value is
    ε-dominated by a front point, and no front point beats the best achievable utility max_π w·G^π (attained by
    a stationary deterministic policy, so the enumeration is the true optimum) by more than ε."""
    m = _cyclic_mdp()
    res = pareto_value_iteration(m, epsilon=eps)
    assert res.converged and res.epsilon == eps and res.error_bound <= eps
    B = np.abs(m.R).max() / (1 - m.gamma)
    assert res.iterations == int(np.ceil(np.log(eps / (2 * B)) / np.log(m.gamma)))
    G = _stationary_values(m)
    F = res.front
    gap = np.min(np.max(G[:, None, :] - F[None, :, :], axis=-1), axis=1)      # per policy: min_f max_j (G-f)_j
    assert gap.max() <= eps
    W = np.stack([np.linspace(0, 1, 101), 1 - np.linspace(0, 1, 101)], 1)
    assert np.all((F @ W.T).max(0) <= (G @ W.T).max(0) + eps)
    assert len({tuple(f) for f in F}) == len(F) and not any(                   # mutually non-dominated
        np.all(F[i] >= F[j]) for i in range(len(F)) for j in range(len(F)) if i != j)


def test_epsilon_set_vi_matches_the_published_concave_dst_front_within_epsilon():
    from mdp.envs.deep_sea_treasure import pareto_front as dst_front

    eps = 0.05
    res = pareto_value_iteration(deep_sea_treasure("concave", 0.99), epsilon=eps)
    exact = dst_front("concave", 0.99)
    assert res.converged and res.error_bound <= eps
    for q in exact:                                  # coverage of every published treasure
        assert np.min(np.max(q - res.front, axis=1)) <= eps
    for f in res.front:                              # soundness: within eps of an achievable, hence dominated
        assert np.min(np.max(f - exact, axis=1)) <= eps


@pytest.mark.parametrize("kw, match", [({"epsilon": 0.0}, "epsilon"), ({"epsilon": float("nan")}, "epsilon"),
                                       ({"epsilon": float("inf")}, "epsilon"), ({"max_points": 0}, "max_points"),
                                       ({"epsilon": 0.1, "gamma": 1.0}, "gamma")])
def test_set_vi_budget_arguments_are_checked(kw, match):
    with pytest.raises(ParameterError, match=match):
        pareto_value_iteration(_cyclic_mdp(), **kw)


def test_policy_recovery_refuses_an_epsilon_front():
    m = deep_sea_treasure("concave", 0.99)
    res = pareto_value_iteration(m, epsilon=0.05)
    with pytest.raises(ParameterError, match="epsilon=0.05"):
        recover_deterministic_policy(m, res, res.front[0])
