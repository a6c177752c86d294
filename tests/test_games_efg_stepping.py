"""Stepping solvers of the extensive-form family: CFRSolver and MMDSolver (issue 24 item 5).

* ``cfr(...)`` / ``mmd(...)`` are loops over the solvers: stepping k times by hand gives the same floats;
* the ``callback(solver)`` hook sees iterations 1..k;
* the first two CFR / CFR+ iterates on a 2x2 matrix game equal a regret-matching recursion written here, and
  MMD's first iterate equals the closed-form update
  :math:`\\pi_1 \\propto [\\pi_0\\,\\rho^{\\eta\\alpha} e^{\\eta q}]^{1/(1+\\eta\\alpha)}`.
"""
import numpy as np
import pytest
import torch

from games import cfr, kuhn_poker, leduc_poker, mmd, normal_form_game, solve_zero_sum
from games.efg.cfr import CFRSolver
from games.efg.learners import at_iterations
from games.efg.mmd import MMDSolver
from theory.results import convention_violations

# Player 0 gets A[r, c], player 1 gets -A[r, c].
A = np.array([[3.0, -1.0], [-2.0, 1.0]])


def _same(a, b):
    """Bit-for-bit equality of two arrays (numpy or torch)."""
    a = a.detach().cpu().numpy() if torch.is_tensor(a) else np.asarray(a)
    b = b.detach().cpu().numpy() if torch.is_tensor(b) else np.asarray(b)
    return a.shape == b.shape and a.tobytes() == b.tobytes()


def _same_policy(p, q):
    return all(_same(a, b) for a, b in zip(p.probs, q.probs))


@pytest.mark.parametrize("kw", [dict(), dict(plus=True), dict(plus=True, alternating=False)])
@pytest.mark.parametrize("game", [kuhn_poker, leduc_poker])
def test_cfr_is_a_loop_over_the_solver(game, kw):
    g, k = game(), 7
    solver = CFRSolver(g, **kw)
    for _ in range(k):
        solver.step()
    assert solver.iterations == k
    by_hand, looped = solver.result(), cfr(g, iterations=k, **kw)
    assert _same_policy(by_hand.policy, looped.policy)
    assert _same_policy(by_hand.average_policy, looped.average_policy)
    assert _same_policy(solver.average_policy, looped.average_policy)
    assert _same_policy(solver.policy, looped.policy)
    assert by_hand.residual == looped.residual and by_hand.iterations == looped.iterations == k
    assert by_hand.record_iterations.size == 0 and by_hand.record_exploitability.shape == (0, 1)


@pytest.mark.filterwarnings("ignore::theory.results.NotConvergedWarning")  # 6 steps miss tol: compared only
@pytest.mark.parametrize("kw", [dict(alpha=0.1), dict(alpha=[0.1, 0.5], magnet_lr=0.05),
                                dict(alpha=0.2, eta=0.5, form="behavioural", anneal=True, magnet_lr=0.1),
                                dict(alpha=0.05, eta=0.5, form="behavioural", floor=1e-10)])
def test_mmd_is_a_loop_over_the_solver(kw):
    g, k = kuhn_poker(), 6
    solver = MMDSolver(g, **kw)
    for _ in range(k):
        solver.step()
    by_hand, looped = solver.result(tol=1e-3), mmd(g, iterations=k, tol=1e-3, **kw)
    assert _same_policy(by_hand.policy, looped.policy)
    assert _same_policy(by_hand.average_policy, looped.average_policy)
    assert _same_policy(solver.policy, looped.policy) and _same_policy(solver.average_policy, looped.average_policy)
    assert _same(by_hand.residual, looped.residual) and _same(by_hand.converged, looped.converged)
    assert by_hand.iterations == looped.iterations == k


def test_callback_sees_every_iteration():
    g, k = kuhn_poker(), 5
    seen_cfr, seen_mmd, pinned = [], [], []
    cfr(g, iterations=k, callback=lambda s: seen_cfr.append(s.iterations))
    mmd(g, 0.1, iterations=k, callback=lambda s: seen_mmd.append(s.iterations))
    assert seen_cfr == seen_mmd == list(range(1, k + 1))
    mmd(g, 0.1, iterations=k, callback=at_iterations([2, 4], lambda t, probs: pinned.append(t)))
    assert pinned == [2, 4]


def _rm(R):
    """Regret matching: the positive part normalised, uniform when no regret is positive."""
    pos = np.maximum(R, 0.0)
    return pos / pos.sum() if pos.sum() > 0 else np.full(R.shape, 1.0 / R.size)


def _cfr_matrix_recursion(A, steps, plus, alternating):
    """CFR / CFR+ on a matrix game: (x^t, y^t) and the average of x^0..x^{t-1} (weights 1, or t for CFR+)."""
    x = y = np.full(2, 0.5)
    R0 = R1 = np.zeros(2)
    sx = sy = np.zeros(2)
    out = []
    for t in range(1, steps + 1):
        w = t if plus else 1.0
        sx, sy = sx + w * x, sy + w * y
        q0 = A @ y
        R0 = R0 + q0 - x @ q0
        R0 = np.maximum(R0, 0.0) if plus else R0
        x_new = _rm(R0)
        q1 = -A.T @ (x_new if alternating else x)
        R1 = R1 + q1 - y @ q1
        R1 = np.maximum(R1, 0.0) if plus else R1
        x, y = x_new, _rm(R1)
        out.append((x, y, sx / sx.sum(), sy / sy.sum()))
    return out


@pytest.mark.parametrize("plus, alternating", [(False, True), (True, True), (False, False)])
def test_first_two_cfr_iterates_equal_regret_matching_recursion(plus, alternating):
    """Hand values (CFR, alternating): x^1 = (1, 0), y^1 = (0, 1); x^2 = (3/8, 5/8), y^2 = (0, 1)."""
    g = normal_form_game(A)
    solver = CFRSolver(g, plus=plus, alternating=alternating)
    ref = _cfr_matrix_recursion(A, 2, plus, alternating)
    if not plus and alternating:
        np.testing.assert_allclose(ref[1][0], [3 / 8, 5 / 8], rtol=0, atol=1e-15)
    for t, (x, y, ax, ay) in enumerate(ref, start=1):
        solver.step()
        p0, p1 = (p[0, 0].numpy() for p in solver.probs)
        np.testing.assert_allclose(p0, x, rtol=0, atol=1e-15, err_msg=f"x at t={t}")
        np.testing.assert_allclose(p1, y, rtol=0, atol=1e-15, err_msg=f"y at t={t}")
        avg = solver.average_policy.probs
        np.testing.assert_allclose(avg[0][0], ax, rtol=0, atol=1e-15, err_msg=f"average x at t={t}")
        np.testing.assert_allclose(avg[1][0], ay, rtol=0, atol=1e-15, err_msg=f"average y at t={t}")


@pytest.mark.parametrize("form", ["sequence", "behavioural"])
def test_first_mmd_iterate_equals_closed_form(form):
    """On a matrix game the dilated entropy is the entropy, so both forms take the closed-form step
    pi_1 ∝ [pi_0 rho^(eta alpha) exp(eta q)]^(1/(1+eta alpha)) with q = A y_0 (player 0), -A^T x_0 (player 1)."""
    alpha, eta = 0.5, 0.4
    g = normal_form_game(A)
    solver = MMDSolver(g, alpha, eta=eta, form=form)
    solver.step()
    x0 = y0 = rho = np.full(2, 0.5)
    for p, pi0, q in ((solver.probs[0], x0, A @ y0), (solver.probs[1], y0, -A.T @ x0)):
        w = (pi0 * rho ** (eta * alpha) * np.exp(eta * q)) ** (1.0 / (1.0 + eta * alpha))
        np.testing.assert_allclose(p[0, 0].numpy(), w / w.sum(), rtol=0, atol=1e-15)


def test_zero_sum_solution_keeps_the_result_convention():
    r = solve_zero_sum(kuhn_poker())
    assert convention_violations(r, tol=1e-6) == []
    assert isinstance(r.iterations, int) and r.iterations > 0 and r.error_bound is None
    assert r.residual < 1e-9 and r.converged
