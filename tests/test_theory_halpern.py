"""Halpern-type solvers against closed forms, LP values and independent certificates."""
import math
import warnings

import numpy as np
import pytest
import scipy.optimize as so
import torch

from theory import compiled
from theory.results import NotConvergedWarning
from theory import eag, extragradient, halpern, halpern_fixed_point, vr_extragradient, vr_halpern, vr_halpern_inexact
from theory.operators import (LeastSquares, authors_setup, hard_quadratic, least_squares, lipschitz_constants,
                              matrix_game, policeman_burglar, project_simplex, regularized_minmax)


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
    with pytest.warns(NotConvergedWarning, match="stopped at"):
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


# ---------------------------------------------------------------------------------------------------
# exact Lipschitz constants against a brute-force dense eigenvalue computation
# ---------------------------------------------------------------------------------------------------
def _dense_constants(op):
    """L and L_F from the component Jacobians C_i, each read off op._components on the unit vectors
    (independent of the classes' closed-form Gram matrices): L^2 = lambda_max(mean_i C_i^T C_i)."""
    eye, zero = np.eye(op.dim), np.zeros(op.dim)
    gram = np.zeros((op.dim, op.dim))
    for i in range(op.n):
        idx = np.array([i])
        C = (op._components(idx, eye) - op._components(idx, zero)).T  # column j = C_i e_j
        gram += C.T @ C / op.n
    J = (op._full(eye) - op._full(zero)).T
    return math.sqrt(np.linalg.eigvalsh(gram)[-1]), np.linalg.svd(J, compute_uv=False)[0]


def _small_operators():
    rng = np.random.default_rng(7)
    return [_ls(12, d=5), matrix_game(rng.normal(size=(6, 9))), matrix_game(rng.normal(size=(8, 5))),
            policeman_burglar(9, orientation="rows"), policeman_burglar(9, orientation="columns"),
            hard_quadratic(7), hard_quadratic(7, layout="mirrored", split="rows"), hard_quadratic(6, split="rows"),
            regularized_minmax(rng.normal(size=(10, 3)), rng.normal(size=10), mu=0.3, nu=0.7)]


@pytest.mark.parametrize("op", _small_operators(), ids=lambda o: repr(o).split("(")[0])
def test_lipschitz_constants_match_dense_eigenvalues(op):
    L, L_F = _dense_constants(op)
    assert op.L == pytest.approx(L, rel=1e-10)
    assert op.L_F == pytest.approx(L_F, rel=1e-10)
    c = lipschitz_constants(op)
    assert c.L == pytest.approx(L, rel=1e-10) and c.L_F == pytest.approx(L_F, rel=1e-10)
    assert L_F <= L * (1 + 1e-12) <= op.L_bound * (1 + 1e-12)  # Jensen, and the fallback is an upper bound


def test_lipschitz_constant_is_attained():
    """E_i ||F_i(u) - F_i(v)||^2 = L^2 ||u - v||^2 along the top eigenvector: the constant is tight."""
    op = hard_quadratic(8)
    G = np.asarray(op.component_gram())
    d = np.linalg.eigh(G)[1][:, -1]
    u = np.random.default_rng(0).normal(size=op.dim)
    sq = np.mean([np.sum((op.batch(np.array([i]), u + d) - op.batch(np.array([i]), u)) ** 2) for i in range(op.n)])
    assert sq == pytest.approx(op.L ** 2, rel=1e-10)


def test_batched_least_squares_constants_are_the_instance_maximum():
    ops = [_ls(16, d=4, seed=s) for s in range(3)]
    bop = least_squares(torch.as_tensor(np.stack([o.A for o in ops])), torch.as_tensor(np.stack([o.b for o in ops])))
    assert bop.L == pytest.approx(max(_dense_constants(o)[0] for o in ops), rel=1e-10)
    assert bop.L_F == pytest.approx(max(_dense_constants(o)[1] for o in ops), rel=1e-10)


def test_default_steps_follow_the_exact_constants():
    op = hard_quadratic(10)
    L, L_F = _dense_constants(op)
    x0 = np.full(op.dim, 0.1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert vr_halpern(op, x0, eps=1e-12, max_calls=5 * op.n, seed=0).eta == pytest.approx(1 / L, rel=1e-10)
        assert vr_halpern_inexact(op, x0, eps=1e-12, max_calls=5 * op.n, seed=0).eta == pytest.approx(
            math.sqrt(op.n) / L, rel=1e-10)
        assert eag(op, x0, eps=1e-12, max_calls=5 * op.n).eta == pytest.approx(1 / (8 * L_F), rel=1e-10)


# ---------------------------------------------------------------------------------------------------
# the authors' instances
# ---------------------------------------------------------------------------------------------------
def test_policeman_burglar_orientations_and_legacy_weights():
    n, theta = 11, 0.8
    w = np.abs(np.random.RandomState(1).randn(n))  # the authors' np.random.seed(1); np.random.randn(n)
    P = np.array([[w[j] * (1 - math.exp(-theta * abs(i - j))) for j in range(n)] for i in range(n)])
    cols = policeman_burglar(n, theta, seed=1, orientation="columns", legacy_seed=True)
    rows = policeman_burglar(n, theta, seed=1, orientation="rows", legacy_seed=True)
    u = np.random.default_rng(0).random(2 * n)
    x, y = u[:n], u[n:]
    # the authors' matrix_game.py: the x-gradient is P^T y, the y-gradient -P x (minimiser on the columns)
    np.testing.assert_allclose(cols.full(u), np.r_[P.T @ y, -P @ x], atol=1e-12)
    np.testing.assert_allclose(rows.full(u), np.r_[P @ y, -P.T @ x], atol=1e-12)
    # their component split: row i of P paired with y_i in the x-gradient, column i with x_i in the y one
    v = np.random.default_rng(1).random(2 * n)
    d = u - v
    for i in (0, 5, 10):
        diff = cols.batch(np.array([i]), u) - cols.batch(np.array([i]), v)
        np.testing.assert_allclose(diff, np.r_[P[i] * d[n + i] * n, -P[:, i] * d[i] * n], atol=1e-12)
    with pytest.raises(ValueError, match="orientation"):
        policeman_burglar(5, orientation="diagonal")


def test_hard_quadratic_authors_layout_and_split():
    n = 6
    A = np.zeros((n, n))
    for i in range(n):
        A[i, n - 1 - i] = 1
        if i < n - 1:
            A[i, n - 2 - i] = -1
    A /= 4
    H, b, h = 2 * A.T @ A, np.ones(n) / 4, np.r_[np.zeros(n - 1), 0.25]
    op = hard_quadratic(n)
    u, v = np.random.default_rng(0).normal(size=(2, 2 * n))
    x, y = u[:n], u[n:]
    np.testing.assert_allclose(op.full(u), np.r_[H @ x - h - A.T @ y, A @ x - b], atol=1e-12)
    dx, dy = (u - v)[:n], (u - v)[n:]
    for i in range(n):  # the authors' grad_uniform_single
        diff = op.batch(np.array([i]), u) - op.batch(np.array([i]), v)
        np.testing.assert_allclose(diff, np.r_[(H[:, i] * dx[i] - A[i] * dy[i]) * n, A[:, i] * dx[i] * n],
                                   atol=1e-12)
    for split in ("coordinates", "rows"):
        q = hard_quadratic(n, split=split)
        np.testing.assert_allclose(np.mean([q.batch(np.array([i]), u) for i in range(n)], 0), q.full(u), atol=1e-12)


def test_authors_setup_constants():
    s = authors_setup("policeman-burglar", n=30)
    fro, spec, p = np.linalg.norm(s.op.A), np.linalg.norm(s.op.A, 2), 1 / 30
    assert s.steps["vr_halpern"]["eta"] == pytest.approx(5 / fro)
    assert s.steps["eag"]["eta"] == pytest.approx(5 / spec)
    assert s.steps["vr_halpern_inexact"]["gamma"] == pytest.approx(5 * math.sqrt(p * (1 - p)) / (math.sqrt(30) + 1))
    np.testing.assert_allclose(s.x0, np.full(60, 1 / 30))
    q = authors_setup("hard quadratic", n=20)
    assert q.steps["vr_halpern_inexact"] == {"eta": pytest.approx(math.sqrt(20)), "gamma": 1e-3, "inner_scale": 0.05}
    with pytest.raises(ValueError, match="panel"):
        authors_setup("figure 2")


# ---------------------------------------------------------------------------------------------------
# first iterates against hand-written recursions of the published updates
# ---------------------------------------------------------------------------------------------------
class _Spy:
    """Records every charged oracle call (kind, indices, point) so that a hand recursion can replay the
    solver's random choices without sharing its random stream."""

    def __init__(self, op):
        self.log = []
        full, batch = op.full, op.batch

        def spy_full(u):
            self.log.append(("full", None, np.array(u, dtype=float)))
            return full(u)

        def spy_batch(idx, u):
            self.log.append(("batch", np.array(idx), np.array(u, dtype=float)))
            return batch(idx, u)

        op.full, op.batch = spy_full, spy_batch


def _authors_qp(n):
    """The authors' quadratic instance by hand: F(u) = M u - c and their coordinate components."""
    A = np.zeros((n, n))
    for i in range(n):
        A[i, n - 1 - i] = 1
        if i < n - 1:
            A[i, n - 2 - i] = -1
    A /= 4
    M = np.block([[2 * A.T @ A, -A.T], [A, np.zeros((n, n))]])
    c = np.r_[np.zeros(n - 1), 0.25, np.ones(n) / 4]
    F = lambda u: M @ u - c  # noqa: E731

    def F_idx(idx, u):  # mean over idx of F_i(u) = n M[:, (i, n+i)] u[(i, n+i)] - c
        return np.mean([n * (M[:, i] * u[i] + M[:, n + i] * u[n + i]) - c for i in idx], axis=0)

    return F, F_idx


def test_eag_first_iterates_follow_the_published_recursion():
    n, eta = 5, 0.3
    F, _ = _authors_qp(n)
    u0 = np.linspace(-1, 1, 2 * n)
    u = u0.copy()
    for k in range(5):
        beta = 1 / (k + 2)
        half = u + beta * (u0 - u) - eta * F(u)
        u = u + beta * (u0 - u) - eta * F(half)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the budget ends the run
            res = eag(hard_quadratic(n), u0, eps=1e-14, max_calls=2 * n * (k + 1), eta=eta)
        assert res.iterations == k + 1
        np.testing.assert_allclose(res.x, u, rtol=1e-13, atol=1e-14)


def test_eag_projected_first_iterates():
    op = policeman_burglar(6, orientation="columns")
    P = op.A
    u0 = np.full(12, 1 / 6)
    eta = 0.2
    F = lambda u: np.r_[P @ u[6:], -P.T @ u[:6]]  # noqa: E731
    J = lambda z: np.r_[project_simplex(z[:6]), project_simplex(z[6:])]  # noqa: E731
    u = u0.copy()
    for k in range(3):
        beta = 1 / (k + 2)
        half = J(u + beta * (u0 - u) - eta * F(u))
        u = J(u + beta * (u0 - u) - eta * F(half))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a step above EAG's theory bound; the budget ends the run
        res = eag(op, u0, eps=1e-14, max_calls=2 * 6 * 3, eta=eta)
    np.testing.assert_allclose(res.x, u, atol=1e-14)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_vr_halpern_first_iterates_follow_the_published_recursion(seed):
    """Algorithm 1: u_{k+1} = u0 lam_k + (1-lam_k) u_k - eta F~_k, lam_k = 2/(k+4), PAGE estimator
    F~_k = F(u_k) (a full pass) or F~_{k-1} + mean_{i in S_k}[F_i(u_k) - F_i(u_{k-1})]."""
    n, eta = 9, 0.21
    F, F_idx = _authors_qp(n)
    op = hard_quadratic(n)
    spy = _Spy(op)
    u0 = np.linspace(0.3, -0.2, 2 * n)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = vr_halpern(op, u0, eps=1e-14, max_calls=12 * n, seed=seed, eta=eta)
    log = list(spy.log)
    u, u_prev, Ft, k = u0.copy(), u0.copy(), None, 0
    kinds = []
    while log:
        kind, idx, point = log.pop(0)
        if kind == "full":
            np.testing.assert_allclose(point, u, atol=1e-13)
            Ft = F(u)
        else:
            np.testing.assert_allclose(point, u, atol=1e-13)  # the first evaluation of the sample is at u_k
            if log and log[0][0] == "batch" and np.array_equal(log[0][1], idx) and np.allclose(log[0][2], u_prev):
                log.pop(0)  # the second evaluation of the same sample (at u_{k-1})
            assert idx.size == 3  # b = floor(sqrt(9)), without replacement
            assert len(set(idx.tolist())) == 3
            Ft = Ft + F_idx(idx, u) - F_idx(idx, u_prev)
        kinds.append(kind)
        lam = 2 / (k + 4)
        u_prev, u = u, lam * u0 + (1 - lam) * u - eta * Ft
        k += 1
    assert kinds[:2] == ["full", "full"]  # p_0 = p_1 = 1
    assert "batch" in kinds and res.iterations == k
    np.testing.assert_allclose(res.x, u, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("seed", [0, 1])
def test_vr_halpern_inexact_first_iterates_follow_the_published_recursion(seed):
    """Algorithm 2: u_{k+1} = lam_k u0 + (1-lam_k) v_M, lam_k = 1/(k+2), v_M from M_k VR-FoRB steps on
    Phi(v) = eta F(v) + v - u_k: vbar = alpha v + (1-alpha) w, v+ = vbar - gamma[Phi(w) + Phi_xi(v) -
    Phi_xi(w_prev)], w <- v+ with probability p = 1/n, alpha = 1 - p."""
    n, eta, gamma, scale = 4, 0.9, 0.05, 3.0
    F, F_idx = _authors_qp(n)
    op = hard_quadratic(n)
    spy = _Spy(op)
    u0 = np.linspace(0.3, -0.2, 2 * n)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = vr_halpern_inexact(op, u0, eps=1e-14, max_calls=60 * n, seed=seed, eta=eta, gamma=gamma,
                                 inner_scale=scale)
    log = list(spy.log)
    p = 1 / n
    alpha = 1 - p
    u, k, refreshed = u0.copy(), 0, 0
    while log:
        kind, _, point = log.pop(0)
        assert kind == "full"  # each inner solve starts with Phi(w_0), w_0 = u_k
        np.testing.assert_allclose(point, u, atol=1e-12)
        M = max(1, int(scale * n * math.log(k + 2)))
        v = w = w_prev = u.copy()
        Fw = F(w)
        for _ in range(M):
            if not log:
                break  # the budget ran out inside the inner loop
            kind, idx, point = log.pop(0)
            assert kind == "batch" and idx.size == 1
            np.testing.assert_allclose(point, v, atol=1e-12)
            if log and log[0][0] == "batch" and np.array_equal(log[0][1], idx) and np.allclose(log[0][2], w_prev):
                log.pop(0)  # the same sample at w_{j-1}
            vbar = alpha * v + (1 - alpha) * w
            phi_w = eta * Fw + w - u
            corr = eta * (F_idx(idx, v) - F_idx(idx, w_prev)) + v - w_prev
            v_new = vbar - gamma * (phi_w + corr)
            w_prev = w
            if log and log[0][0] == "full" and np.allclose(log[0][2], v_new, atol=1e-12, rtol=0):
                log.pop(0)  # the coin came up: the snapshot moves to the new inner iterate
                w, Fw = v_new, F(v_new)
                refreshed += 1
            v = v_new
        lam = 1 / (k + 2)
        u = lam * u0 + (1 - lam) * v
        k += 1
    assert res.iterations == k and k >= 3 and refreshed >= 1
    np.testing.assert_allclose(res.x, u, rtol=1e-11, atol=1e-12)


# ---- the inner loops against plain recursions of Algorithms 1 and 2, written here from the paper ----
def _F(A, b, x):
    return A.T @ (A @ x - b) / len(b)


def _Fi(A, b, idx, x):
    return A[idx].T @ (A[idx] @ x - b[idx]) / len(idx)


def test_random_subsets_are_uniform_distinct_and_sorted():
    from theory.monotone import random_subsets

    rng = np.random.default_rng(0)
    for n, b in ((5, 2), (6, 5)):  # rejection path (b^2 <= 4n) and the permutation path
        rows = random_subsets(rng, n, b, 30_000)
        assert rows.shape == (30_000, b) and (np.diff(rows, axis=1) > 0).all()
        codes = [tuple(r) for r in rows]
        counts = np.array([codes.count(c) for c in set(codes)])
        n_subsets = math.comb(n, b)
        assert len(counts) == n_subsets
        np.testing.assert_allclose(counts / 30_000, 1 / n_subsets, atol=0.012)
    with pytest.raises(ValueError, match="subset size"):
        random_subsets(rng, 4, 5, 1)


_BACKENDS = ["python", pytest.param("numba", marks=pytest.mark.skipif(not compiled.HAVE_NUMBA, reason="no numba"))]


@pytest.mark.parametrize("backend", _BACKENDS)
def test_vr_halpern_iterates_match_the_plain_recursion_of_algorithm_1(backend):
    from theory.monotone import DRAW_CHUNK, random_subsets

    op = _ls(n=64, d=5, seed=3)
    A, b, n = op.A, op.b, op.n
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = vr_halpern(op, np.zeros(5), eps=1e-30, max_calls=20_000, seed=11, backend=backend)
    K = res.iterations
    assert K > DRAW_CHUNK  # crosses a block of draws
    bs, eta, sq = math.isqrt(n), 1.0 / op.L, math.sqrt(n)
    rng = np.random.default_rng(11)
    u0 = np.zeros(5)
    u, u_prev, Ft, calls = u0.copy(), u0.copy(), None, 0
    for k in range(K):
        if k % DRAW_CHUNK == 0:
            coins = rng.random(DRAW_CHUNK)
            subs = random_subsets(rng, n, bs, DRAW_CHUNK)
        p = 1.0 if k <= 1 else (4.0 / (k + 4) if k - 1 <= sq else 4.0 / (sq + 5))  # PAGE probabilities
        if k == 0 or coins[k % DRAW_CHUNK] < p:
            Ft, calls = _F(A, b, u), calls + n
        else:
            S_k = subs[k % DRAW_CHUNK]
            Ft, calls = Ft + _Fi(A, b, S_k, u) - _Fi(A, b, S_k, u_prev), calls + 2 * bs
        lam = 2.0 / (k + 4)  # anchored step, lambda_k = 2/(k+4)
        u_prev, u = u, lam * u0 + (1 - lam) * u - eta * Ft
    np.testing.assert_allclose(res.x, u, rtol=0, atol=1e-12)
    assert res.oracle_calls == calls == op.calls


@pytest.mark.parametrize("backend", _BACKENDS)
def test_vr_halpern_inexact_iterates_match_the_plain_recursion_of_algorithm_2(backend):
    op = _ls(n=16, d=3, seed=4)
    A, b, n = op.A, op.b, op.n
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = vr_halpern_inexact(op, np.zeros(3), eps=1e-30, max_calls=3_000, seed=5, inner_scale=1.0,
                                 backend=backend)
    p = 1.0 / n
    eta, gamma = math.sqrt(n) / op.L, 5.0 * math.sqrt(p * (1 - p)) / (math.sqrt(n) + 1)
    rng = np.random.default_rng(5)
    u0 = np.zeros(3)
    u, calls = u0.copy(), 0
    for k in range(res.iterations):
        M = max(1, int(1.0 * n * math.log(k + 2)))
        draws, coins = rng.integers(n, size=(M, 1)), rng.random(M)
        v, w = u.copy(), u.copy()
        w_prev, Fw, calls = w, _F(A, b, w), calls + n
        for j in range(M):  # VR-FoRB on Phi(v) = eta F(v) + v - u
            i = draws[j]
            corr = eta * (_Fi(A, b, i, v) - _Fi(A, b, i, w_prev)) + v - w_prev
            v_new = (1 - p) * v + p * w - gamma * (eta * Fw + w - u + corr)
            calls += 2
            w_prev = w
            if coins[j] < p:
                w, Fw, calls = v_new, _F(A, b, v_new), calls + n
            v = v_new
            if calls >= 3_000:
                break
        lam = 1.0 / (k + 2)
        u = lam * u0 + (1 - lam) * v
    np.testing.assert_allclose(res.x, u, rtol=0, atol=1e-12)
    assert res.oracle_calls == calls == op.calls
