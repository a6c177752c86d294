"""The robust subpackage's contracts: result convention, rectangularity, hand-written backups, oracle counts."""
import warnings

import numpy as np
import pytest
import torch
from scipy.optimize import linprog

from mdp.generators import garnet
from mdp.model import ShapeError
from mdp.robust import (FiniteModelSet, L1Ball, LinfBall, ModelHull, RectangularityError, SRectL1Ball,
                        adversary_policy_iteration, batched_robust_value_iteration, iwocs, iwocs_srect,
                        robust_policy_evaluation, robust_value_iteration, s_rectangular_policy_evaluation,
                        s_rectangular_value_iteration, srect_worst_kernel, static_worst_case)
from theory.results import NotConvergedWarning, convention_violations

S, A, GAMMA = 4, 2, 0.8


@pytest.fixture(scope="module")
def model():
    return garnet(S, A, S, GAMMA, seed=3, dirichlet=0.5)


def lp_min(q, v, kind, radius):
    """``min p.v`` over ``{p in simplex: ||p - q|| <= radius}`` by a linear program (independent of the oracles)."""
    n = q.size
    if kind == "linf":
        res = linprog(v, A_eq=np.ones((1, n)), b_eq=[1.0],
                      bounds=[(max(0.0, qi - radius), min(1.0, qi + radius)) for qi in q], method="highs")
        return res.fun
    # variables [p, t]: t >= |p - q|, sum t <= radius
    eye = np.eye(n)
    A_ub = np.block([[eye, -eye], [-eye, -eye], [np.zeros((1, n)), np.ones((1, n))]])
    b_ub = np.r_[q, -q, radius]
    res = linprog(np.r_[v, np.zeros(n)], A_ub=A_ub, b_ub=b_ub, A_eq=np.r_[np.ones(n), np.zeros(n)][None],
                  b_eq=[1.0], bounds=[(0, None)] * (2 * n), method="highs")
    return res.fun


def hand_q(m, kind, radius, V):
    """``R + gamma * min_p p.V`` written out row by row."""
    P = m.dense_P()
    return np.array([[m.R[s, a] + GAMMA * lp_min(P[s, a], V, kind, radius) for a in range(A)] for s in range(S)])


def hand_hull_q(m, models, V):
    return m.R + GAMMA * np.min([T @ V for T in models], axis=0)


# ------------------------------------------------------------------------------------------------
# Backups against the hand-written R + gamma * min_p p.V; first iterates pinned to the recursion
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("cls, kind, radius", [(L1Ball, "l1", 0.4), (LinfBall, "linf", 0.15)])
def test_robust_vi_first_iterates_follow_the_hand_written_recursion(model, cls, kind, radius):
    U = cls(model.P, radius)
    V0 = np.array([1.0, -2.0, 0.5, 3.0])
    V1 = hand_q(model, kind, radius, V0).max(1)
    V2 = hand_q(model, kind, radius, V1).max(1)
    with pytest.warns(NotConvergedWarning):
        r = robust_value_iteration(model, U, tol=1e-12, max_iter=2, V0=V0, history=True)
    np.testing.assert_allclose(r.V, V2, atol=1e-9)
    np.testing.assert_allclose(r.Q, hand_q(model, kind, radius, V2), atol=1e-9)  # Q at the returned iterate
    np.testing.assert_allclose(r.history, [np.abs(V1 - V0).max(), np.abs(V2 - V1).max()], atol=1e-9)
    np.testing.assert_allclose(r.residual, np.abs(hand_q(model, kind, radius, V2).max(1) - V2).max(), atol=1e-9)
    assert r.iterations == 2 and r.oracle_calls == 3 and r.converged is False


def test_policy_backups_and_robust_pe_match_the_hand_written_backup(model):
    pi = np.random.default_rng(0).dirichlet(np.ones(A), size=S)
    V = np.array([0.3, -1.0, 2.0, 0.0])
    for cls, kind, radius in ((L1Ball, "l1", 0.7), (LinfBall, "linf", 0.1)):
        U = cls(model.P, radius)
        want = (hand_q(model, kind, radius, V) * pi).sum(1)
        FV, T = U.policy_backup(V, model.R, GAMMA, pi)
        np.testing.assert_allclose(FV, want, atol=1e-9)
        np.testing.assert_allclose(T.sum(-1), 1.0, atol=1e-12)
        with pytest.warns(NotConvergedWarning):
            r = robust_policy_evaluation(model, U, pi, tol=1e-12, max_iter=1)
        np.testing.assert_allclose(r.V, (hand_q(model, kind, radius, np.zeros(S)) * pi).sum(1), atol=1e-9)


def test_static_sets_are_solved_through_their_rectangular_hull(model):
    rng = np.random.default_rng(1)
    models = [model.dense_P()] + [rng.dirichlet(np.ones(S), size=(S, A)) for _ in range(3)]
    V0 = np.zeros(S)
    V1 = hand_hull_q(model, models, V0).max(1)
    V2 = hand_hull_q(model, models, V1).max(1)
    for U in (FiniteModelSet(models), ModelHull(models)):
        with pytest.warns(NotConvergedWarning):
            r = robust_value_iteration(model, U, tol=1e-12, max_iter=2)
        np.testing.assert_allclose(r.V, V2, atol=1e-12)


def test_batched_backup_matches_the_hand_written_backup(model):
    m2 = garnet(S, A, S, 0.6, seed=9, dirichlet=0.5)
    P = np.stack([model.dense_P(), m2.dense_P()])
    R = np.stack([model.R, m2.R])
    with pytest.warns(NotConvergedWarning):
        r = batched_robust_value_iteration(P, R, [GAMMA, 0.6], [0.4, 0.9], kind="l1", tol=1e-12, max_iter=2,
                                           history=True)
    for b, (m, g, rad) in enumerate(((model, GAMMA, 0.4), (m2, 0.6, 0.9))):
        Pd = m.dense_P()

        def hq(V, m=m, g=g, Pd=Pd, rad=rad):
            return np.array([[m.R[s, a] + g * lp_min(Pd[s, a], V, "l1", rad) for a in range(A)] for s in range(S)])

        V2 = hq(hq(np.zeros(S)).max(1)).max(1)
        np.testing.assert_allclose(r.V[b].numpy(), V2, atol=1e-9)
        np.testing.assert_allclose(r.Q[b].numpy(), hq(V2), atol=1e-9)
    assert r.history.shape == (2, 2) and r.converged.dtype == torch.bool and not bool(r.converged.any())


# ------------------------------------------------------------------------------------------------
# Result convention
# ------------------------------------------------------------------------------------------------
def _solvers(m):
    pi = np.full((S, A), 1.0 / A)
    U, Us = L1Ball(m.P, 0.5), SRectL1Ball(m.P, 0.5)
    rng = np.random.default_rng(2)
    F = FiniteModelSet([m.dense_P()] + [rng.dirichlet(np.ones(S), size=(S, A)) for _ in range(2)])
    fp = 1e-8 / (1 - GAMMA)  # adversary PI stops on its residual <= tol: its error bound is residual / (1 - gamma)
    return {
        "robust_value_iteration": (lambda h: robust_value_iteration(m, U, tol=1e-8, history=h), 1e-8),
        "robust_policy_evaluation": (lambda h: robust_policy_evaluation(m, U, pi, tol=1e-8, history=h), 1e-8),
        "s_rectangular_value_iteration": (lambda h: s_rectangular_value_iteration(m, Us, tol=1e-8, history=h), 1e-8),
        "s_rectangular_policy_evaluation": (lambda h: s_rectangular_policy_evaluation(m, Us, pi, tol=1e-8,
                                                                                      history=h), 1e-8),
        "batched_robust_value_iteration": (lambda h: batched_robust_value_iteration(
            m.dense_P()[None], m.R[None], GAMMA, 0.5, tol=1e-8, history=h), 1e-8),
        "adversary_policy_iteration": (lambda h: adversary_policy_iteration(m, U, pi, tol=1e-8, history=h), fp),
        "static_worst_case(pi)": (lambda h: static_worst_case(m, U, pi, tol=1e-8 / (1 - GAMMA), history=h), fp),
        "static_worst_case(vi)": (lambda h: static_worst_case(m, U, pi, tol=1e-8, method="vi", history=h), 1e-8),
        "static_worst_case(enumeration)": (lambda h: static_worst_case(m, F, pi, history=h), 0.0),
        "srect_worst_kernel": (lambda h: srect_worst_kernel(m, Us, pi, tol=1e-8, history=h), fp),
        "iwocs": (lambda h: iwocs(m, U, eps=1e-7, history=h), 1e-7),
        "iwocs_srect": (lambda h: iwocs_srect(m, Us, eps=1e-7, randomised=True, history=h), 1e-7),
    }


NAMES = ["robust_value_iteration", "robust_policy_evaluation", "s_rectangular_value_iteration",
         "s_rectangular_policy_evaluation", "batched_robust_value_iteration", "adversary_policy_iteration",
         "static_worst_case(pi)", "static_worst_case(vi)", "static_worst_case(enumeration)", "srect_worst_kernel",
         "iwocs", "iwocs_srect"]


@pytest.mark.parametrize("name", NAMES)
def test_every_robust_result_keeps_the_convention(model, name):
    solvers = _solvers(model)
    assert sorted(solvers) == sorted(NAMES)
    solve, tol = solvers[name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotConvergedWarning)  # iwocs_srect may stall: converged=False is fine
        r, rh = solve(False), solve(True)
    assert convention_violations(r, tol=tol) == []
    assert isinstance(r.oracle_calls, int) and r.oracle_calls >= 0
    assert r.history is None and rh.history is not None and len(rh.history) >= 1
    if name not in ("iwocs_srect", "static_worst_case(enumeration)", "static_worst_case(vi)"):
        assert bool(np.all(np.asarray(r.converged))), name


# ------------------------------------------------------------------------------------------------
# Rectangularity contract and shape checks
# ------------------------------------------------------------------------------------------------
def test_rectangularity_contract(model):
    Us, U = SRectL1Ball(model.P, 0.3), L1Ball(model.P, 0.3)
    F = FiniteModelSet([model.P])
    pi = np.full((S, A), 1.0 / A)
    assert (U.rectangularity, Us.rectangularity, F.rectangularity, F.hull().rectangularity) == ("sa", "s", None, "sa")
    assert issubclass(RectangularityError, ValueError)
    with pytest.raises(RectangularityError, match=r"s-rectangular set has no per-\(s, a\) worst case"):
        Us.worst_case(np.zeros(S))
    for call in (lambda: robust_value_iteration(model, Us), lambda: robust_policy_evaluation(model, Us, pi),
                 lambda: iwocs(model, Us)):
        with pytest.raises(RectangularityError, match=r"needs a \(s,a\)-rectangular or non-rectangular"):
            call()
    for call in (lambda: s_rectangular_value_iteration(model, U), lambda: s_rectangular_policy_evaluation(model, U, pi),
                 lambda: srect_worst_kernel(model, U, pi), lambda: iwocs_srect(model, U)):
        with pytest.raises(RectangularityError, match="needs a s-rectangular uncertainty set; L1Ball"):
            call()
    with pytest.raises(RectangularityError, match="FiniteModelSet is non-rectangular"):
        adversary_policy_iteration(model, F, pi)
    with pytest.raises(RectangularityError, match="method='vi'"):
        static_worst_case(model, Us, pi, method="vi")


def test_sets_of_another_shape_are_refused(model):
    other = garnet(S + 1, A, S + 1, GAMMA, seed=0)
    fewer = garnet(S, A - 1, S, GAMMA, seed=0)
    for U in (L1Ball(other.P, 0.1), L1Ball(fewer.P, 0.1)):
        with pytest.raises(ShapeError, match=r"kernels have shape .* the model needs \(4, 2, 4\)"):
            robust_value_iteration(model, U)
        with pytest.raises(ShapeError):
            iwocs(model, U)
    with pytest.raises(ValueError, match="radius"):
        L1Ball(model.P, np.float32(-1.0))
    assert L1Ball(model.P, np.int64(1)).radius == 1.0  # numpy scalars are accepted


# ------------------------------------------------------------------------------------------------
# Oracle counts at the data access; U is a running minimum
# ------------------------------------------------------------------------------------------------
class CountingL1(L1Ball):
    calls = 0

    def worst_case(self, V):
        CountingL1.calls += 1
        return super().worst_case(V)


def test_oracle_calls_are_counted_where_the_oracle_is_called(model):
    U = CountingL1(model.P, 0.5)
    for solve in (lambda: robust_value_iteration(model, U, tol=1e-9),
                  lambda: adversary_policy_iteration(model, U, np.full((S, A), 0.5), tol=1e-10),
                  lambda: iwocs(model, U, eps=1e-8)):
        CountingL1.calls = 0
        r = solve()
        assert r.oracle_calls == CountingL1.calls > 0


@pytest.mark.parametrize("kw", [dict(inner_backups=1), dict(inner_backups=3), dict(q_noise=0.2), {},
                                dict(mode="hull", q_noise=0.2), dict(mode="hull", inner_backups=2)])
def test_iwocs_upper_value_never_increases(model, kw):
    """U_i is a running minimum (monotone by construction, so this is a unit test and not an experiment's claim)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = iwocs(model, L1Ball(model.P, 0.8), eps=1e-12, max_iterations=8, history=True, seed=1, **kw)
    up = np.asarray(r.history["upper"])
    assert np.all(np.diff(up) <= 0.0) and r.upper == up[-1]
