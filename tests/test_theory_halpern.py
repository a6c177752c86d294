"""Halpern-type solvers against closed forms, LP values and independent certificates."""
import math
import warnings

import numpy as np
import pytest
import scipy.optimize as so
import torch

from theory import eag, extragradient, halpern, halpern_fixed_point, vr_extragradient, vr_halpern, vr_halpern_inexact
from theory.operators import (LeastSquares, hard_quadratic, least_squares, matrix_game, policeman_burglar,
                              project_simplex, regularized_minmax)


def _ls(n=128, d=8, seed=0):
    rng = np.random.default_rng(seed)
    A = rng.normal(size=d) / np.sqrt(d) + 0.5 * rng.normal(size=(n, d)) / np.sqrt(d)
    x_true = rng.normal(size=d)
    return least_squares(A, A @ x_true + 0.1 * rng.normal(size=n))


@pytest.mark.parametrize("theta", [0.3, 1.0, 2.5])
def test_lieder_bound_on_rotations(theta):
    """||x_k - T x_k|| <= 2 ||x_0 - x*|| / (k+1) for nonexpansive T (here a rotation, x* = 0)."""
    c, s = math.cos(theta), math.sin(theta)
    R = np.array([[c, -s], [s, c]])
    xs = halpern_fixed_point(lambda x: R @ x, np.array([3.0, -1.0]), 200)
    d0 = np.linalg.norm(xs[0])
    for k, x in enumerate(xs):
        assert np.linalg.norm(x - R @ x) <= 2 * d0 / (k + 1) + 1e-12


def test_lieder_bound_on_projected_gradient_map():
    """T = J(I - eta F) with cocoercive F and eta = 1/L_F is nonexpansive: the bound holds."""
    op = _ls()
    x_star = op.solution()
    eta = 1 / op.L_F
    T = lambda x: x - eta * op._full(x)  # noqa: E731
    xs = halpern_fixed_point(T, np.zeros(op.dim), 300)
    d0 = np.linalg.norm(xs[0] - x_star)
    for k, x in enumerate(xs):
        assert np.linalg.norm(x - T(x)) <= 2 * d0 / (k + 1) + 1e-10


@pytest.mark.parametrize("solver, eps", [(halpern, 1e-4), (vr_halpern, 1e-4), (eag, 1e-3), (extragradient, 1e-4),
                                         (vr_halpern_inexact, 1e-4)])
def test_least_squares_matches_normal_equations(solver, eps):
    op = _ls()
    res = solver(op, np.zeros(op.dim), eps=eps, max_calls=5_000_000, seed=1)
    assert res.converged and res.oracle_calls == op.calls
    x_star = np.linalg.solve(op.A.T @ op.A, op.A.T @ op.b)  # normal equations, independently
    mu = np.linalg.eigvalsh(op.A.T @ op.A / op.n)[0]
    # strong monotonicity: ||x - x*|| <= ||F(x)|| / mu
    assert np.linalg.norm(res.x - x_star) <= res.residual / mu * (1 + 1e-9)
    # the certificate, recomputed from scratch
    direct = np.linalg.norm(op.A.T @ (op.A @ res.x - op.b)) / op.n
    assert abs(direct - res.residual) <= 1e-12 * max(1.0, direct)


def _lp_value(A):
    """min_x max_y x^T A y over simplices, by scipy's HiGHS LP: min v s.t. A^T x <= v, sum x = 1."""
    m, k = A.shape
    c = np.r_[np.zeros(m), 1.0]
    res = so.linprog(c, A_ub=np.c_[A.T, -np.ones(k)], b_ub=np.zeros(k), A_eq=np.r_[np.ones(m), 0.0][None],
                     b_eq=[1.0], bounds=[(0, None)] * m + [(None, None)], method="highs")
    return res.fun


@pytest.mark.parametrize("solver", [vr_halpern_inexact, eag, vr_extragradient])
def test_matrix_game_value_matches_lp(solver):
    rng = np.random.default_rng(3)
    op = matrix_game(rng.normal(size=(12, 12)))
    x0 = np.full(op.dim, 1 / 12)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = solver(op, x0, eps=1e-3, max_calls=2_000_000, seed=0)
    assert res.converged
    # a natural residual of 1e-3 leaves a duality gap of the same order; compare the value with the LP
    assert abs(op.value(res.x) - _lp_value(op.A)) < 5e-3
    assert op.duality_gap(res.x) < 5e-3


def test_simplex_projection_matches_cvxpy():
    import cvxpy as cp

    rng = np.random.default_rng(0)
    V = rng.normal(size=(5, 7)) * 2
    P = project_simplex(V)
    Pt = project_simplex(torch.as_tensor(V)).numpy()
    for v, p, pt in zip(V, P, Pt):
        x = cp.Variable(7)
        cp.Problem(cp.Minimize(cp.sum_squares(x - v)), [x >= 0, cp.sum(x) == 1]).solve(solver="CLARABEL")
        np.testing.assert_allclose(p, x.value, atol=1e-6)
        np.testing.assert_allclose(pt, p, atol=1e-12)


def test_natural_residual_recomputed_independently():
    op = policeman_burglar(30, seed=2)
    u = np.random.default_rng(1).random(op.dim)
    x, y = u[:30], u[30:]
    g = np.r_[op.A @ y, -op.A.T @ x]
    z = u - g
    manual = np.linalg.norm(u - np.r_[project_simplex(z[:30]), project_simplex(z[30:])])
    assert abs(op.residual(u) - manual) < 1e-12
    assert op.calls == 0  # certificates are free


def test_hard_quadratic_solution_and_components():
    op = hard_quadratic(10)
    u_star = op.solution()
    assert np.linalg.norm(op._full(u_star)) < 1e-10
    u = np.random.default_rng(0).normal(size=op.dim)
    np.testing.assert_allclose(np.mean([op._components(np.array([i]), u) for i in range(op.n)], 0), op._full(u),
                               atol=1e-12)


def test_ball_minmax_solution_matches_cvxpy():
    import cvxpy as cp

    rng = np.random.default_rng(4)
    A, b = rng.normal(size=(20, 4)), rng.normal(size=20)
    op = regularized_minmax(A, b, radius=0.5, mu=0.5, nu=0.5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # strongly monotone (mu, nu > 0): extragradient converges linearly, so a tight eps is cheap
        res = extragradient(op, np.zeros(op.dim), eps=1e-10, max_calls=10_000_000, seed=0)
    assert res.converged
    # saddle point of a strongly-convex-concave problem: x(y) closed form, then max over the ball
    y = cp.Variable(20)
    # min_x y^T(Ax-b)/n + mu/2|x|^2 => x = -A^T y/(n mu); plug in:
    n, mu, nu = 20, 0.5, 0.5
    obj = -cp.sum_squares(A.T @ y) / (2 * n * n * mu) - b @ y / n - nu / 2 * cp.sum_squares(y)
    cp.Problem(cp.Maximize(obj), [cp.norm(y) <= 0.5]).solve(solver="CLARABEL")
    np.testing.assert_allclose(res.x[4:], y.value, atol=1e-5)
    np.testing.assert_allclose(res.x[:4], -A.T @ y.value / (n * mu), atol=1e-5)


class _CountedData(np.ndarray):
    """A data vector that counts, at the data access itself, how many of its entries enter arithmetic.

    Every evaluation of a component F_i of least squares reads b_i exactly once, whatever code path the
    solver takes (op.full, op.batch, or the private op._full / op._components), so the count is the
    number of component evaluations actually made."""

    def __array_finalize__(self, obj):
        self.counter = getattr(obj, "counter", None)

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        plain = []
        for x in inputs:
            if isinstance(x, _CountedData):
                x.counter[0] += x.size
                x = x.view(np.ndarray)
            plain.append(x)
        return getattr(ufunc, method)(*plain, **kwargs)


def _counted_least_squares(n=64, seed=0):
    """Least squares whose b counts its own use; the free certificate reads a clean copy of the data."""
    base = _ls(n, seed=seed)
    op = LeastSquares(base.A, base.b)
    clean_b = np.array(base.b)
    op.touched = [0]
    counted = np.array(base.b).view(_CountedData)
    counted.counter = op.touched
    op.b = counted
    A = op.A

    def residual(u):  # free by protocol: evaluated on the clean copy, not counted
        return np.linalg.norm(A.T @ (A @ u - clean_b)) / n

    op.residual = residual
    return op


@pytest.mark.parametrize("solver", [halpern, vr_halpern, vr_halpern_inexact, eag, extragradient, vr_extragradient])
def test_oracle_calls_are_counted_at_the_data(solver):
    op = _counted_least_squares()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = solver(op, np.zeros(op.dim), eps=1e-4, max_calls=3_000_000, seed=0)
    assert op.touched[0] > 0
    assert res.oracle_calls == op.calls == op.touched[0]


def test_data_counter_catches_a_bypass():
    """The counter of the test above sees an evaluation that skips op.full (a solver calling op._full)."""
    op = _counted_least_squares()
    op._full(np.zeros(op.dim))
    op.batch(np.array([1, 2]), np.zeros(op.dim))
    assert op.touched[0] == op.n + 2 and op.calls == 2


def test_uncharged_inner_start_leaves_out_one_full_evaluation_per_outer_step():
    op = _counted_least_squares()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = vr_halpern_inexact(op, np.zeros(op.dim), eps=1e-12, max_calls=50 * op.n, seed=0,
                                 uncharged_inner_start=True)
    assert op.touched[0] == op.calls  # every evaluation still goes through the charged entry points
    assert res.oracle_calls == op.calls - op.n * res.iterations  # ... but n per outer step is not reported
    assert res.oracle_calls >= 50 * op.n


def test_bad_inputs():
    op = _ls()
    with pytest.raises(ValueError, match="eps must be"):
        halpern(op, np.zeros(op.dim), eps=0.0, max_calls=10)
    with pytest.raises(ValueError, match="eps must be"):
        vr_halpern(op, np.zeros(op.dim), eps=-1.0, max_calls=10)
    with pytest.raises(ValueError, match="dimension 3"):
        eag(op, np.zeros(3), eps=1e-3, max_calls=10)
    with pytest.raises(ValueError, match="non-finite"):
        least_squares(np.array([[1.0, np.nan]]), np.array([1.0]))
    with pytest.raises(ValueError, match="shape"):
        least_squares(np.ones((3, 2)), np.ones(4))
    with pytest.raises(ValueError, match="non-finite"):
        halpern(op, np.full(op.dim, np.inf), eps=1e-3, max_calls=10)
    with pytest.warns(UserWarning, match=r"exceeds the theory bound 2/L_F"):
        halpern(op, np.zeros(op.dim), eps=1e-3, max_calls=10 * op.n, eta=3 / op.L_F)
    with pytest.warns(UserWarning, match=r"exceeds the theory bound 1/L "):
        vr_halpern(op, np.zeros(op.dim), eps=1e-1, max_calls=100 * op.n, eta=2 / op.L)


def test_budget_exhaustion_is_reported():
    op = _ls()
    with pytest.warns(UserWarning, match="stopped at"):
        res = halpern(op, np.zeros(op.dim), eps=1e-12, max_calls=5 * op.n)
    assert not res.converged and res.oracle_calls >= 5 * op.n


def test_batched_torch_instances_match_numpy():
    """A batch of instances runs exactly the per-instance iteration: same length, same iterates."""
    ops = [_ls(64, seed=s) for s in range(3)]
    A = torch.as_tensor(np.stack([o.A for o in ops]))
    b = torch.as_tensor(np.stack([o.b for o in ops]))
    bop = least_squares(A, b)
    eta = 1 / bop.L_F
    iters = 37
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the budget, not eps, ends both runs
        res = halpern(bop, torch.zeros(3, ops[0].dim, dtype=torch.float64), eps=1e-14, max_calls=iters * 64, eta=eta)
        assert res.iterations == iters
        for i, o in enumerate(ops):
            single = halpern(o, np.zeros(o.dim), eps=1e-14, max_calls=iters * 64, eta=eta)
            assert single.iterations == iters
            np.testing.assert_allclose(res.x[i].numpy(), single.x, rtol=1e-12, atol=1e-14)
            # and the hand-written Halpern recursion of the same length
            u0 = u = np.zeros(o.dim)
            for k in range(iters):
                lam = 1 / (k + 2)
                u = lam * u0 + (1 - lam) * (u - eta * o.A.T @ (o.A @ u - o.b) / 64)
            np.testing.assert_allclose(single.x, u, rtol=1e-12, atol=1e-14)
