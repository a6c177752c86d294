"""The torch-batched simulator and solvers against exact numpy references."""
import numpy as np
import pytest
import torch
from scipy import stats

from mdp import backward_induction, policy_evaluation, policy_iteration
from mdp.batched import BatchedTabularMDP, sample_categorical, stack_models
from mdp.batched_planning import batched_backward_induction, batched_policy_evaluation, batched_value_iteration
from mdp.envs.vector import TabularVectorEnv
from mdp.generators import combination_lock, garnet, gridworld, river_swim
from mdp.model import ShapeError, TabularMDP
from mdp.operators import bellman_optimality, policy_kernel, q_values
from gpu_device import GPU


def _z(ret, exact):
    return (ret.mean() - exact) / (ret.std(ddof=1) / np.sqrt(ret.size))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_monte_carlo_matches_exact_discounted(dtype):
    m = garnet(12, 3, 4, 0.8, seed=2)
    pi = np.random.default_rng(0).dirichlet(np.ones(3), size=12)
    gen = torch.Generator().manual_seed(0)
    sim = BatchedTabularMDP(m, 40_000, generator=gen, dtype=dtype)
    ret = sim.estimate_return(pi, 120).double().numpy()
    exact = m.mu @ policy_evaluation(m, pi)
    assert abs(_z(ret, exact)) < 4.0  # 4 standard errors: false alarm probability ~6e-5


def test_monte_carlo_matches_exact_finite_horizon_time_varying():
    m = combination_lock(H=5, A=3, seed=1)
    pi = np.full((5, m.S, 3), 1.0 / 3)
    pi[:, :, m.info["secret"][0]] += 0.3
    pi /= pi.sum(-1, keepdims=True)
    sim = BatchedTabularMDP(m, 50_000, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    ret = sim.estimate_return(pi).numpy()
    assert abs(_z(ret, backward_induction(m, pi).value)) < 4.0


def test_next_state_frequencies_match_kernel():
    m = garnet(5, 2, 5, 0.9, seed=4)
    sim = BatchedTabularMDP(m, 200_000, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    sim.reset()
    sim.states = torch.full((200_000,), 3, dtype=torch.long)
    nxt, rew, _ = sim.step(torch.ones(200_000, dtype=torch.long))
    counts = np.bincount(nxt.numpy(), minlength=5)
    p = m.dense_P()[3, 1]
    keep = p > 0
    assert counts[~keep].sum() == 0
    chi2 = stats.chisquare(counts[keep], 200_000 * p[keep])
    assert chi2.pvalue > 1e-4
    np.testing.assert_allclose(rew.numpy(), m.R[3, 1])


def test_same_seed_same_trajectories_and_different_seed_differs():
    m = river_swim(6, gamma=0.9)
    pi = np.full((6, 2), 0.5)

    def go(seed):
        return BatchedTabularMDP(m, 64, generator=torch.Generator().manual_seed(seed)).rollout(pi, 30)

    a, b, c = go(7), go(7), go(8)
    assert torch.equal(a.states, b.states) and torch.equal(a.actions, b.actions)
    assert not torch.equal(a.states, c.states)


def test_stack_of_models_each_env_uses_its_own():
    # Four models with disjoint next-state supports and distinct rewards: every transition and reward
    # that environment b produces must be possible under model b (and impossible under the others).
    S, A = 8, 2
    ms = []
    for b in range(4):
        P = np.zeros((S, A, S))
        P[:, :, 2 * b] = 0.5
        P[:, :, 2 * b + 1] = 0.5
        R = np.full((S, A), 10.0 * b) + np.arange(A)[None, :]
        ms.append(TabularMDP(P, R, 0.7))
    sim = BatchedTabularMDP(ms, 4, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    s = sim.reset()
    gen = torch.Generator().manual_seed(1)
    for _ in range(50):
        a = torch.randint(0, A, (4,), generator=gen)
        nxt, r, _ = sim.step(a)
        for b in range(4):
            assert ms[b].P[int(s[b]), int(a[b]), int(nxt[b])] > 0, f"env {b} left its model's support"
            assert float(r[b]) == ms[b].R[int(s[b]), int(a[b])], f"env {b} paid another model's reward"
        s = nxt
    P, R, mu, g = stack_models(ms)
    assert P.shape == (4, 1, S, A, S) and torch.allclose(g, torch.full((4,), 0.7, dtype=torch.float64))
    with pytest.raises(ShapeError, match="got 3 models for batch_size 4"):
        BatchedTabularMDP(ms[:3], 4)


def test_terminal_states_flag_done():
    m = gridworld(1, 3, goal=(0, 2), slip=0.0, gamma=0.9)
    sim = BatchedTabularMDP(m, 8, generator=torch.Generator().manual_seed(0))
    right = np.zeros((m.S, 4))
    right[:, 1] = 1.0
    roll = sim.rollout(right, 4)
    # start (0,0) -> (0,1) -> goal (0,2) -> absorbing: done from the third step on
    assert not roll.dones[0].any() and not roll.dones[1].any() and roll.dones[2].all()
    np.testing.assert_allclose(roll.rewards.sum(0).numpy(), 1.0)


def test_bad_inputs():
    m = garnet(5, 2, 2, 0.9, seed=0)
    sim = BatchedTabularMDP(m, 3)
    sim.reset()
    with pytest.raises(ShapeError, match="actions has shape"):
        sim.step(torch.zeros(4, dtype=torch.long))
    with pytest.raises(ShapeError, match="policy has shape"):
        sim.rollout(np.full((5, 3), 1 / 3), 2)
    with pytest.raises(ValueError, match="horizon is required"):
        sim.estimate_return(np.full((5, 2), 0.5))
    with pytest.raises(ValueError, match="batch_size"):
        BatchedTabularMDP(m, 0)


def test_numpy_torch_operator_parity():
    m = garnet(9, 3, 4, 0.9, seed=6)
    V = np.random.default_rng(1).random(9)
    pi = np.random.default_rng(2).dirichlet(np.ones(3), size=9)
    Qn = q_values(m.P_flat, m.R, m.gamma, V)
    Qt = q_values(torch.as_tensor(m.P_flat.copy()), torch.as_tensor(m.R.copy()), m.gamma, torch.as_tensor(V))
    np.testing.assert_allclose(Qn, Qt.numpy(), atol=1e-12)
    Ps = m.sparse().P_flat
    np.testing.assert_allclose(Qn, q_values(Ps, m.R, m.gamma, V), atol=1e-12)
    np.testing.assert_allclose(policy_kernel(m.P, pi), policy_kernel(m.sparse().P, pi).toarray(), atol=1e-12)
    # batched (leading axis) equals per-model
    Vb = np.stack([V, 2 * V])
    Qb = q_values(m.P_flat, m.R, m.gamma, Vb)
    np.testing.assert_allclose(Qb[1], q_values(m.P_flat, m.R, m.gamma, 2 * V), atol=1e-12)
    TVt, _ = bellman_optimality(torch.as_tensor(m.P_flat.copy()), torch.as_tensor(m.R.copy()), m.gamma,
                                torch.as_tensor(V))
    np.testing.assert_allclose(TVt.numpy(), Qn.max(-1), atol=1e-12)


def test_batched_solvers_match_numpy():
    ms = [garnet(10, 3, 4, g, seed=i) for i, g in enumerate([0.5, 0.8, 0.9, 0.95])]
    P = torch.as_tensor(np.stack([m.dense_P() for m in ms]))
    R = torch.as_tensor(np.stack([m.R for m in ms]))
    g = torch.tensor([m.gamma for m in ms], dtype=torch.float64)
    res = batched_value_iteration(P, R, g, tol=1e-10)
    assert bool(res.converged.all()) and float(res.error_bound.max()) <= 1e-10
    for i, m in enumerate(ms):
        np.testing.assert_allclose(res.V[i].numpy(), policy_iteration(m).V, atol=1e-9)
    pi = torch.full((4, 10, 3), 1 / 3, dtype=torch.float64)
    Vp = batched_policy_evaluation(P, R, g, pi)
    for i, m in enumerate(ms):
        np.testing.assert_allclose(Vp[i].numpy(), policy_evaluation(m, pi[i].numpy()), atol=1e-10)


def test_batched_backward_induction_matches_numpy():
    ms = [combination_lock(H=4, A=3, seed=s) for s in range(3)]
    P = torch.as_tensor(np.stack([m.P for m in ms]))
    R = torch.as_tensor(np.stack([m.R for m in ms]))
    V, Q = batched_backward_induction(P, R)
    rng = np.random.default_rng(0)
    pis = rng.dirichlet(np.ones(3), size=(3, 4, ms[0].S))
    Vp, _ = batched_backward_induction(P, R, torch.as_tensor(pis))
    for i, m in enumerate(ms):
        np.testing.assert_allclose(V[i].numpy(), backward_induction(m).V, atol=1e-12)
        np.testing.assert_allclose(Vp[i].numpy(), backward_induction(m, pis[i]).V, atol=1e-12)


def test_sample_categorical_frequencies():
    probs = torch.tensor([[0.1, 0.6, 0.3]]).expand(100_000, 3)
    draws = sample_categorical(probs, torch.Generator().manual_seed(0))
    freq = np.bincount(draws.numpy(), minlength=3) / 100_000
    np.testing.assert_allclose(freq, [0.1, 0.6, 0.3], atol=0.01)


def test_vector_env_next_step_autoreset():
    from gymnasium.vector import AutoresetMode

    m = gridworld(1, 3, goal=(0, 2), slip=0.0, gamma=0.9)
    env = TabularVectorEnv(m, 2, max_steps=10)
    assert env.metadata["autoreset_mode"] == AutoresetMode.NEXT_STEP
    obs, _ = env.reset(seed=0)
    assert obs.dtype == np.int64 and (obs == 0).all()
    right = np.array([1, 1])
    obs, r, term, trunc, _ = env.step(right)
    obs, r, term, trunc, _ = env.step(right)  # enters the goal: reward 1, lands in the terminal state
    np.testing.assert_allclose(r, 1.0)
    obs, r, term, trunc, _ = env.step(right)  # absorbing terminal: terminated
    assert term.all()
    obs, r, term, trunc, _ = env.step(right)  # NEXT_STEP: reset observation, reward 0, no flags
    assert (obs == 0).all() and (r == 0).all() and not term.any() and not trunc.any()


def test_vector_env_truncates_at_max_steps():
    m = river_swim(4, gamma=0.9)
    env = TabularVectorEnv(m, 3, max_steps=2)
    env.reset(seed=1)
    env.step(np.zeros(3, dtype=int))
    _, _, term, trunc, _ = env.step(np.zeros(3, dtype=int))
    assert trunc.all() and not term.any()


@pytest.mark.gpu
def test_cuda_simulator_matches_exact():
    m = garnet(12, 3, 4, 0.8, seed=2)
    pi = np.full((12, 3), 1 / 3)
    sim = BatchedTabularMDP(m, 100_000, device=GPU, generator=torch.Generator(GPU).manual_seed(0),
                            dtype=torch.float64)
    ret = sim.estimate_return(pi, 120).cpu().numpy()
    assert abs(_z(ret, m.mu @ policy_evaluation(m, pi))) < 4.0
    P = torch.as_tensor(m.dense_P()[None], device=GPU)
    R = torch.as_tensor(m.R[None], device=GPU)
    V = batched_value_iteration(P, R, m.gamma, tol=1e-10).V
    np.testing.assert_allclose(V[0].cpu().numpy(), policy_iteration(m).V, atol=1e-9)
