"""MMD (sequence and behavioural) and CFR/CFR+ against published QREs, exploitabilities and reductions."""
import numpy as np
import pytest
import torch
from scipy.optimize import minimize

from games import (TabularPolicy, cfr, kuhn_poker, leduc_poker, md_local_update, mmd,
                   mmd_local_update, perturbed_rps, solve_zero_sum, uniform_policy)
from games.efg.evaluation import action_values, policy_to_sequence, sequence_form
from experiments.references import KUHN_MMD_ANNEALING
from games_reference import tree_action_values
from gpu_device import GPU

# OpenSpiel mmd_dilated_test.py (Gambit): Kuhn reduced-normal-form QRE at alpha = 0.1.
# Player 0 per card J, Q, K: [pass, pass-then-fold, pass-then-call, bet]; player 1 per card Q, K, J:
# [after check: check, after check: bet, facing bet: fold, facing bet: call].
P0 = [1, .75364232, .64695966, .10668266, .24635768, .70309809, .25609184, .44700625, .29690191, .47546799,
      .01290797, .46256001, .52453201]
P1 = [1, .63415944, .36584056, .41154828, .58845172, .28438486, .71561514, .0620185, .9379815, .65005434,
      .34994566, .79722767, .20277233]
RPS_QRE = {0.05: (0.1517447, 0.46794775, 0.38030755), 0.1: (0.17347803, 0.48630324, 0.34021873),
           0.2: (0.22364492, 0.47798817, 0.29836691), 0.5: (0.29813319, 0.41382045, 0.28804635)}


def _kuhn_seq(g, pol):
    x = policy_to_sequence(g, pol)
    t0, t1 = g.treeplex
    A = g.num_actions

    def s(i, key, a):
        return x[i][1 + g.treeplex[i].index(key) * A + a]

    p0 = [1.0]
    for c in "012":
        p0 += [s(0, c, 0), s(0, c + "pb", 0), s(0, c + "pb", 1), s(0, c, 1)]
    p1 = [1.0]
    for c in "120":
        p1 += [s(1, c + "p", 0), s(1, c + "p", 1), s(1, c + "b", 0), s(1, c + "b", 1)]
    return np.array(p0), np.array(p1)


def test_dilated_mmd_reaches_gambit_qre():
    g = kuhn_poker()
    r = mmd(g, 0.1, iterations=1000, tol=1e-12)
    p0, p1 = _kuhn_seq(g, r.policy)
    np.testing.assert_allclose(p0, P0, atol=2e-7)
    np.testing.assert_allclose(p1, P1, atol=2e-7)
    assert r.converged


def test_dilated_mmd_qre_exploitabilities_published():
    r = mmd(kuhn_poker(), [0.5, 0.2, 0.1, 0.05], iterations=3000)
    np.testing.assert_allclose(r.exploitability, [0.2639, 0.1592, 0.10369, 0.04623], atol=6e-5)


def test_rps_qre_fixed_point():
    g = perturbed_rps()
    alphas = sorted(RPS_QRE)
    r = mmd(g, alphas, eta=alphas, form="behavioural", iterations=10000)
    A = (np.array([[0, -3, 3], [3, 0, -1], [-3, 1, 0]]) + 3) / 6
    for b, a in enumerate(alphas):
        x, y = r.policy.probs[0][b, 0], r.policy.probs[1][b, 0]
        np.testing.assert_allclose(x, RPS_QRE[a], atol=1e-7)
        np.testing.assert_allclose(y, RPS_QRE[a], atol=1e-7)
        # logit QRE fixed point: x = softmax(A y / alpha), y = softmax(-A^T x / alpha)
        sx = np.exp(A @ y / a)
        sy = np.exp(-A.T @ x / a)
        np.testing.assert_allclose(x, sx / sx.sum(), atol=1e-9)
        np.testing.assert_allclose(y, sy / sy.sum(), atol=1e-9)


def test_local_update_is_proximal_argmax():
    rng = np.random.default_rng(1)
    pi, rho, q = rng.dirichlet(np.ones(4)), rng.dirichlet(np.ones(4)), rng.normal(size=4)
    eta, alpha = 0.7, 0.3
    mask = torch.ones(4, dtype=torch.bool)
    got = mmd_local_update(torch.tensor(pi), torch.tensor(q), eta, alpha, torch.tensor(rho), mask).numpy()

    def neg(z):
        p = np.exp(z - z.max())
        p /= p.sum()
        kl = lambda a, b: float(np.sum(a * np.log(a / b)))
        return -(eta * p @ q - eta * alpha * kl(p, rho) - kl(p, pi))

    z = minimize(neg, np.zeros(4), method="BFGS", options=dict(gtol=1e-10)).x
    ref = np.exp(z - z.max())
    ref /= ref.sum()
    np.testing.assert_allclose(got, ref, atol=1e-6)
    # alpha = 0 is mirror descent: pi * exp(eta q) normalised
    md = pi * np.exp(eta * q)
    md /= md.sum()
    np.testing.assert_allclose(mmd_local_update(torch.tensor(pi), torch.tensor(q), eta, 0.0, torch.tensor(rho),
                                                mask).numpy(), md, atol=1e-14)
    np.testing.assert_allclose(md_local_update(torch.tensor(pi), torch.tensor(q), eta, mask).numpy(), md, atol=1e-14)


def test_action_values_match_tree_recursion():
    g = kuhn_poker()
    rng = np.random.default_rng(3)
    pol = TabularPolicy(g, tuple(rng.dirichlet(np.ones(2), 6) for _ in range(2)))
    T = g.tensors()
    for i in (0, 1):
        y = sequence_form(T, 1 - i, torch.tensor(pol.probs[1 - i]))
        q, _, _ = action_values(T, i, y, torch.tensor(pol.probs[i]))
        ref = tree_action_values(g.root, pol, i)
        for k, (num, den) in ref.items():
            I = g.treeplex[i].index(k)
            for a in (0, 1):
                assert q[I, a].item() == pytest.approx(num[a] / den, abs=1e-12)


def test_behavioural_mmd_alpha0_is_mirror_descent():
    g = kuhn_poker()
    r = mmd(g, 0.0, eta=0.5, form="behavioural", iterations=1)
    u = uniform_policy(g)
    for i in (0, 1):
        ref = tree_action_values(g.root, u, i)
        for k, (num, den) in ref.items():
            w = np.array([0.5 * np.exp(0.5 * num[a] / den) for a in (0, 1)])
            np.testing.assert_allclose(r.policy.probs[i][g.treeplex[i].index(k)], w / w.sum(), atol=1e-14)


def test_behavioural_mmd_nash_schedules_kuhn():
    """Published MMD values (experiments/references.py): annealing 0.226 / 0.118 / 0.0291 at t = 1 / 10 /
    100; moving magnet -> Nash."""
    g = kuhn_poker()
    r = mmd(g, 1.0, eta=1.0, form="behavioural", anneal=True, iterations=100, record_at=[1, 10, 100])
    np.testing.assert_allclose(r.record_exploitability[:, 0], list(KUHN_MMD_ANNEALING.values()), rtol=5e-3)
    mm = mmd(g, 1.0, eta=0.1, magnet_lr=0.05, form="behavioural", iterations=10000, record_at=[10, 100, 1000, 10000])
    np.testing.assert_allclose(mm.record_exploitability[:3, 0], [0.204, 0.0941, 0.00366], rtol=5e-3)
    assert mm.exploitability < 1e-6  # exact update: 3.4e-15 at t = 10,000 (the floored one: 3.8e-11, see nash)


def test_batched_equals_single():
    g = kuhn_poker()
    b = mmd(g, [0.2, 0.05], eta=[0.1, 0.3], magnet_lr=[0.0, 0.1], form="behavioural", iterations=50)
    for k, (a, e, m) in enumerate([(0.2, 0.1, 0.0), (0.05, 0.3, 0.1)]):
        s = mmd(g, a, eta=e, magnet_lr=m, form="behavioural", iterations=50)
        for i in (0, 1):
            np.testing.assert_allclose(b.policy.probs[i][k], s.policy.probs[i], atol=1e-13)


def test_cfr_published_kuhn_curve():
    """Published values (experiments/references.py): simultaneous CFR 0.0962 / 0.0257 / 0.00727 and CFR+
    0.0712 / 0.0157 / 0.00283."""
    g = kuhn_poker()
    c = cfr(g, 1000, alternating=False, record_at=[10, 100, 1000])
    np.testing.assert_allclose(c.record_average_exploitability[:, 0], [0.0962, 0.0257, 0.00727], rtol=5e-3)
    p = cfr(g, 1000, plus=True, alternating=False, record_at=[10, 100, 1000])
    np.testing.assert_allclose(p.record_average_exploitability[:, 0], [0.0712, 0.0157, 0.00283], rtol=5e-3)


def test_cfr_plus_leduc_reaches_lp_value():
    g = leduc_poker()
    r = cfr(g, 400, plus=True, record_at=[400])
    assert r.average_exploitability < 5e-3
    from games import expected_return
    v = expected_return(g, r.average_policy)[0]
    assert abs(v - solve_zero_sum(g).value) <= 2 * r.average_exploitability + 1e-12


def test_bad_hyperparameters():
    g = kuhn_poker()
    with pytest.raises(ValueError, match="alpha must be finite and >= 0"):
        mmd(g, -1.0)
    with pytest.raises(ValueError, match="eta must be given"):
        mmd(g, 0.1, form="behavioural")
    with pytest.raises(ValueError, match="batched hyperparameters"):
        mmd(g, [0.1, 0.2], eta=[0.1, 0.2, 0.3], form="behavioural")
    with pytest.raises(ValueError, match="form must be"):
        mmd(g, 0.1, form="dilated")


@pytest.mark.gpu
def test_cuda_matches_cpu():
    g = kuhn_poker()
    a = mmd(g, [0.1, 0.2], iterations=100, device=GPU)
    b = mmd(g, [0.1, 0.2], iterations=100)
    np.testing.assert_allclose(a.exploitability, b.exploitability, atol=1e-10)
