"""s-rectangular L1 sets: backups against cvxpy, reductions, orderings that follow from set inclusion."""
import numpy as np
import pytest

from mdp.generators import garnet
from mdp.planning import value_iteration
from mdp.robust import L1Ball, robust_value_iteration
from mdp.robust.iwocs_solver import iwocs_srect
from mdp.robust.srect import SRectL1Ball, s_rectangular_policy_evaluation, s_rectangular_value_iteration

S, A = 5, 3


@pytest.fixture(scope="module")
def model():
    return garnet(S, A, S, 0.9, seed=3, dirichlet=0.5)


def _cvxpy_state(P_s, R_s, gamma, V, kappa, pi=None):
    import cvxpy as cp

    p = cp.Variable((A, S), nonneg=True)
    cons = [cp.sum(p, 1) == 1, sum(cp.norm1(p[a] - P_s[a]) for a in range(A)) <= kappa]
    if pi is None:  # max-min over randomised pi = min over p of max_a (LP duality / minimax)
        t = cp.Variable()
        prob = cp.Problem(cp.Minimize(t), cons + [t >= R_s[a] + gamma * p[a] @ V for a in range(A)])
    else:
        prob = cp.Problem(cp.Minimize(sum(pi[a] * (R_s[a] + gamma * p[a] @ V) for a in range(A))), cons)
    prob.solve(solver="CLARABEL")
    return prob.value


@pytest.mark.parametrize("kappa", [0.0, 0.3, 1.0, 4.0])
def test_backups_match_cvxpy(model, kappa):
    rng = np.random.default_rng(int(kappa * 10))
    V = rng.normal(size=S)
    U = SRectL1Ball(model.P, kappa)
    opt = U.optimal_backup(V, model.R, model.gamma)
    lp_val, pi_star = U.optimal_policy(V, model.R, model.gamma)
    pi = rng.dirichlet(np.ones(A), size=S)
    pb, kern = U.policy_backup(V, model.R, model.gamma, pi)
    pb_star, _ = U.policy_backup(V, model.R, model.gamma, pi_star)
    budget = np.abs(kern - model.P).sum((1, 2))
    assert np.all(budget <= kappa + 1e-9)
    for s in range(S):
        ref = _cvxpy_state(model.P[s], model.R[s], model.gamma, V, kappa)
        assert abs(opt[s] - ref) < 1e-6 and abs(lp_val[s] - ref) < 1e-6
        assert abs(pb_star[s] - ref) < 1e-6  # the LP's randomised policy attains the max-min
        assert abs(pb[s] - _cvxpy_state(model.P[s], model.R[s], model.gamma, V, kappa, pi[s])) < 1e-6


def test_zero_radius_is_nominal_and_set_inclusions_order_values(model):
    nominal = value_iteration(model, tol=1e-10).V
    np.testing.assert_allclose(s_rectangular_value_iteration(model, SRectL1Ball(model.P, 0.0), tol=1e-10).V,
                               nominal, atol=1e-8)
    kappa = 0.6
    v_s = s_rectangular_value_iteration(model, SRectL1Ball(model.P, kappa), tol=1e-10).V
    # (s,a)-rect with radius kappa/A per pair is inside the s-rect set; with radius kappa it contains it
    inner = robust_value_iteration(model, L1Ball(model.P, kappa / A), tol=1e-10).V
    outer = robust_value_iteration(model, L1Ball(model.P, kappa), tol=1e-10).V
    assert np.all(outer <= v_s + 1e-8) and np.all(v_s <= inner + 1e-8)


def test_optimal_policy_value_and_iwocs_lower_bounds(model):
    U = SRectL1Ball(model.P, 0.8)
    opt = s_rectangular_value_iteration(model, U, tol=1e-10)
    ev = s_rectangular_policy_evaluation(model, U, opt.policy, tol=1e-10)
    assert abs(ev.value - opt.value) < 1e-7
    for randomised in (False, True):
        r = iwocs_srect(model, U, eps=1e-7, randomised=randomised, history=True)
        assert all(h["lower"] <= opt.value + 1e-8 for h in r.history)


def test_bad_inputs(model):
    with pytest.raises(ValueError, match="radius"):
        SRectL1Ball(model.P, -0.1)
    P = model.dense_P().copy()
    P[1, 0, 0] += 0.2
    with pytest.raises(ValueError, match=r"P\[1, 0"):
        SRectL1Ball(P, 0.1)
