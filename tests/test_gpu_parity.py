"""CUDA against CPU for every batched solver without its own gpu test (skipped without CUDA).

``THEORYSIM_GPU_DEVICE=cpu`` runs them on the CPU against itself (``benchmarks/gpu_check.sh --device cpu``).
Deterministic solvers must agree to round-off; the sampled ones (actor-critic) are compared in distribution.
"""
import numpy as np
import pytest
import torch

import games
from gpu_device import GPU
from mdp import policy_iteration
from mdp.actor_critic import optimistic_actor_critic
from mdp.batched_planning import batched_backward_induction, batched_policy_evaluation, batched_value_iteration
from mdp.generators import combination_lock, garnet
from mdp.robust import batched_robust_value_iteration
from theory import halpern, vr_halpern
from theory.operators import least_squares

pytestmark = pytest.mark.gpu


def _stack(B=4, S=12, A=3, seed=0):
    ms = [garnet(S, A, 4, 0.9, seed=seed + b, sparse=False) for b in range(B)]
    return ms, np.stack([m.P for m in ms]), np.stack([m.R for m in ms])


def test_batched_value_iteration_and_policy_evaluation_match_cpu():
    ms, P, R = _stack()
    Vg = batched_value_iteration(torch.as_tensor(P, device=GPU), torch.as_tensor(R, device=GPU), 0.9,
                                 tol=1e-11).V
    for b, m in enumerate(ms):  # against exact policy iteration on the CPU
        np.testing.assert_allclose(Vg[b].cpu().numpy(), policy_iteration(m).V, atol=1e-9)
    pi = np.full(R.shape, 1 / 3)
    Vpe = batched_policy_evaluation(torch.as_tensor(P, device=GPU), torch.as_tensor(R, device=GPU), 0.9, pi)
    ref = batched_policy_evaluation(torch.as_tensor(P), torch.as_tensor(R), 0.9, pi)
    np.testing.assert_allclose(Vpe.cpu().numpy(), ref.numpy(), atol=1e-10)


def test_batched_backward_induction_matches_cpu():
    _, P, R = _stack(B=3, S=6, A=2, seed=5)
    H = 5
    Rh = np.repeat(R[:, None], H, axis=1)
    Vg, Qg = batched_backward_induction(torch.as_tensor(P, device=GPU), torch.as_tensor(Rh, device=GPU))
    Vc, Qc = batched_backward_induction(torch.as_tensor(P), torch.as_tensor(Rh))
    np.testing.assert_allclose(Vg.cpu().numpy(), Vc.numpy(), atol=1e-12)
    np.testing.assert_allclose(Qg.cpu().numpy(), Qc.numpy(), atol=1e-12)


def test_batched_robust_vi_l1_matches_cpu():
    _, P, R = _stack(B=3, S=10, A=3, seed=9)
    radii = [0.1, 0.5, 1.0]
    g = batched_robust_value_iteration(P, R, 0.9, radii, kind="l1", tol=1e-10, device=GPU)
    c = batched_robust_value_iteration(P, R, 0.9, radii, kind="l1", tol=1e-10)
    np.testing.assert_allclose(g.V.cpu().numpy(), c.V.numpy(), atol=1e-9)


def test_cfr_and_behavioural_mmd_match_cpu():
    g = games.kuhn_poker()
    a = games.cfr(g, 50, plus=True, device=GPU)
    b = games.cfr(g, 50, plus=True)
    np.testing.assert_allclose(a.exploitability, b.exploitability, atol=1e-10)
    a = games.mmd(g, [0.05, 0.2], eta=[0.1, 0.5], form="behavioural", iterations=50, device=GPU)
    b = games.mmd(g, [0.05, 0.2], eta=[0.1, 0.5], form="behavioural", iterations=50)
    np.testing.assert_allclose(a.exploitability, b.exploitability, atol=1e-10)


def test_halpern_and_vr_halpern_on_batched_instances_match_cpu():
    rng = np.random.default_rng(0)
    A = rng.normal(size=(3, 64, 5)) / np.sqrt(5)
    b = np.einsum("bnd,bd->bn", A, rng.normal(size=(3, 5)))
    for solver in (halpern, vr_halpern):
        opg = least_squares(torch.as_tensor(A, device=GPU), torch.as_tensor(b, device=GPU))
        opc = least_squares(torch.as_tensor(A), torch.as_tensor(b))
        x0 = torch.zeros(3, 5, dtype=torch.float64)
        rg = solver(opg, x0.to(GPU), eps=1e-3, max_calls=10**6, seed=1)
        rc = solver(opc, x0, eps=1e-3, max_calls=10**6, seed=1)
        assert rg.iterations == rc.iterations and rg.oracle_calls == rc.oracle_calls
        np.testing.assert_allclose(rg.x.cpu().numpy(), rc.x.numpy(), atol=1e-10)


def test_actor_critic_seeds_on_the_device_match_cpu_in_distribution():
    m = combination_lock(H=4, A=3, seed=0)
    a = optimistic_actor_critic(m, 60, 64, seed=0, device=GPU, progress=False)
    b = optimistic_actor_critic(m, 60, 64, seed=0, progress=False)
    ra = np.asarray(a.regret.cpu() if hasattr(a.regret, "cpu") else a.regret)[:, -1]
    rb = np.asarray(b.regret.cpu() if hasattr(b.regret, "cpu") else b.regret)[:, -1]
    assert ra.shape == rb.shape == (64,)
    # the device's random stream differs from the CPU's: compare means within 5 standard errors
    se = np.sqrt(ra.var(ddof=1) / 64 + rb.var(ddof=1) / 64) + 1e-9
    assert abs(ra.mean() - rb.mean()) <= 5 * se
